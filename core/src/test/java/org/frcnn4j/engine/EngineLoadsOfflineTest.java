package org.frcnn4j.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.convolutional.Conv2d;
import org.junit.jupiter.api.Test;

/** The PyTorch engine comes from the native jar on the class path, with downloads forbidden. */
class EngineLoadsOfflineTest {
    @Test
    void convolutionRunsWithNothingDownloaded() {
        assertThat(System.getProperty("ai.djl.offline")).isEqualTo("true");
        Engine engine = Engine.getEngine("PyTorch");
        assertThat(engine.getVersion()).startsWith("2.7.1");
        try (NDManager manager = NDManager.newBaseManager()) {
            // a 3x3 all-ones kernel over a 4x4 all-ones image, no padding: every output is 9
            NDArray x = manager.ones(new Shape(1, 1, 4, 4));
            NDArray w = manager.ones(new Shape(1, 1, 3, 3));
            NDArray y = Conv2d.conv2d(x, w).singletonOrThrow();
            assertThat(y.getShape()).isEqualTo(new Shape(1, 1, 2, 2));
            for (float v : y.toFloatArray()) {
                assertThat(v).isCloseTo(9f, within(1e-6f));
            }
        }
    }
}
