package org.frcnn4j.train;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDManager;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.frcnn4j.model.FasterRcnn;
import org.frcnn4j.model.ModelFiles;
import org.frcnn4j.model.Presets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointsTest {
    @Test
    void aWriteKilledHalfwayLeavesTheLastCheckpointLoadable(@TempDir Path run) throws Exception {
        try (NDManager m = NDManager.newBaseManager();
             FasterRcnn model = FasterRcnn.create(Presets.TINY.config(List.of("a")), m, 1);
             Sgd sgd = new Sgd(TrainPresets.of(Presets.TINY).solver(), m)) {
            Checkpoints c = new Checkpoints(run);
            c.save(10, 0, model, sgd, null);
            // a later save killed mid-write: a half-written folder and a stray temporary pointer
            Path half = Files.createDirectories(run.resolve("checkpoints/.writing-iter-0000020-123"));
            Files.write(half.resolve("weights.safetensors"), new byte[] {1, 2, 3});
            Files.writeString(run.resolve("checkpoints/.latest987.tmp"), "{\"iteration\": 2");
            Checkpoints.State s = c.latest();
            assertThat(s.iteration()).isEqualTo(10);
            try (FasterRcnn loaded = ModelFiles.load(s.folder(), m)) {
                assertThat(loaded.parameters().all().get("backbone.0.weight").toFloatArray())
                        .containsExactly(model.parameters().all().get("backbone.0.weight").toFloatArray());
            }
            // the next complete save takes over and clears what the killed one left
            c.save(20, 0, model, sgd, null);
            assertThat(c.latest().iteration()).isEqualTo(20);
            assertThat(half).doesNotExist();
            assertThat(run.resolve("checkpoints/.latest987.tmp")).doesNotExist();
            assertThat(run.resolve("checkpoints/iter-0000010")).doesNotExist();
        }
    }
}
