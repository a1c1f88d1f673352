package org.frcnn4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code propose --top N} above a model's own post-NMS count: the model's candidates before NMS stay its own, so its
 * own proposals are the first N' of the longer list (torchvision's 320 model keeps 150; asking for 1000 must not
 * let other candidates suppress some of those 150).
 */
class ProposeTopCliTest {
    private static final Path FIXTURE = Path.of("").toAbsolutePath().getParent()
            .resolve("core/src/test/resources/fixtures/torchvision/mobilenet_v3_large_320_fpn");

    private static JsonNode propose(Path model, Path tmp, int top) throws IOException {
        Path json = tmp.resolve("top" + top + ".json");
        CliTest.Run p = CliTest.run("propose", "--model", model.toString(), "--top", String.valueOf(top), "--json",
                json.toString(), FIXTURE.resolve("image.png").toString());
        assertThat(p.code()).as(p.err()).isZero();
        return new ObjectMapper().readTree(json.toFile()).get(0).get("proposals");
    }

    @Test
    void theModelsOwnProposalsComeFirst(@TempDir Path tmp) throws IOException {
        Path model = tmp.resolve("model");
        CliTest.Run imp = CliTest.run("import-torchvision", "--weights", FIXTURE.resolve("model.pth").toString(), "--arch",
                "fasterrcnn_mobilenet_v3_large_320_fpn", "--num-classes", "5", "--width-mult", "0.25", "--min-size",
                "160", "--max-size", "320", "--out", model.toString());
        assertThat(imp.code()).as(imp.err()).isZero();
        JsonNode own = propose(model, tmp, 150);
        JsonNode more = propose(model, tmp, 1000);
        assertThat(own.size()).isPositive();
        assertThat(more.size()).isGreaterThanOrEqualTo(own.size());
        for (int i = 0; i < own.size(); i++) {
            assertThat(more.get(i)).as("proposal %d", i).isEqualTo(own.get(i));
        }
    }
}
