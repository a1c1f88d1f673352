package org.frcnn4j.train;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StepGateTest {
    @Test
    void withoutThePropertyThereIsNoGate() throws IOException {
        System.clearProperty("frcnn.stepGate");
        try (StepGate gate = StepGate.fromProperty()) {
            for (int i = 0; i < 3; i++) {
                gate.await(); // returns at once, reads nothing
            }
        }
    }

    @Test
    void eachIterationTakesOneLineAndAClosedGateStopsTraining(@TempDir Path dir) throws IOException {
        Path gate = Files.writeString(dir.resolve("gate"), "go\ngo\n");
        System.setProperty("frcnn.stepGate", gate.toString());
        try (StepGate g = StepGate.fromProperty()) {
            g.await();
            g.await();
            assertThatThrownBy(g::await).isInstanceOf(IOException.class)
                    .hasMessageContaining(gate.toString()).hasMessageContaining("closed");
        } finally {
            System.clearProperty("frcnn.stepGate");
        }
    }
}
