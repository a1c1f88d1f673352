package org.frcnn4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code import-torchvision --arithmetic}: torchvision's (the default) records the module the file's batch norms came
 * from and runs them so; fast folds them; both propose the same boxes within float rounding; a run's own
 * {@code --arithmetic} replaces the folder's (serve refuses it); anything else is refused with one line.
 */
class ImportArithmeticCliTest {
    private static final Path FIXTURE = Path.of("").toAbsolutePath().getParent()
            .resolve("core/src/test/resources/fixtures/torchvision/mobilenet_v3_large_fpn");

    private static CliTest.Run importAs(Path out, String... arithmetic) {
        String[] base = {"import-torchvision", "--weights", FIXTURE.resolve("model.pth").toString(), "--arch",
            "fasterrcnn_mobilenet_v3_large_fpn", "--num-classes", "5", "--width-mult", "0.25", "--min-size", "224",
            "--max-size", "320", "--out", out.toString()};
        String[] args = java.util.Arrays.copyOf(base, base.length + arithmetic.length);
        System.arraycopy(arithmetic, 0, args, base.length, arithmetic.length);
        return CliTest.run(args);
    }

    private static JsonNode proposals(Path model, Path tmp) throws IOException {
        Path json = tmp.resolve(model.getFileName() + ".json");
        CliTest.Run p = CliTest.run("propose", "--model", model.toString(), "--top", "50", "--json", json.toString(),
                FIXTURE.resolve("image.png").toString());
        assertThat(p.code()).as(p.err()).isZero();
        return new ObjectMapper().readTree(json.toFile()).get(0).get("proposals");
    }

    @Test
    void torchvisionsArithmeticByDefaultFastOnRequest(@TempDir Path tmp) throws IOException {
        Path exact = tmp.resolve("exact");
        Path fast = tmp.resolve("fast");
        assertThat(importAs(exact).code()).isZero();
        assertThat(importAs(fast, "--arithmetic", "fast").code()).isZero();
        JsonNode e = new ObjectMapper().readTree(exact.resolve("config.json").toFile());
        JsonNode f = new ObjectMapper().readTree(fast.resolve("config.json").toFile());
        assertThat(e.get("arithmetic").asText()).isEqualTo("TORCHVISION");
        // this fixture's backbone was built with FrozenBatchNorm2d (no num_batches_tracked in the file)
        assertThat(e.at("/backbone/batchNorm/inference").asText()).isEqualTo("FROZEN_BATCH_NORM_2D");
        assertThat(f.get("arithmetic").asText()).isEqualTo("FAST");

        JsonNode pe = proposals(exact, tmp);
        JsonNode pf = proposals(fast, tmp);
        assertThat(pf.size()).isEqualTo(pe.size()).isPositive();
        for (int i = 0; i < pe.size(); i++) {
            for (int k = 0; k < 5; k++) {
                assertThat(pf.get(i).get(k).asDouble()).as("proposal %d, value %d", i, k)
                        .isCloseTo(pe.get(i).get(k).asDouble(), org.assertj.core.data.Offset.offset(1e-3));
            }
        }

        // a run's --arithmetic in place of the folder's: the exact import run fast is the fast import
        Path overridden = tmp.resolve("overridden.json");
        CliTest.Run p = CliTest.run("propose", "--model", exact.toString(), "--arithmetic", "fast", "--top", "50",
                "--json", overridden.toString(), FIXTURE.resolve("image.png").toString());
        assertThat(p.code()).as(p.err()).isZero();
        assertThat(new ObjectMapper().readTree(overridden.toFile()).get(0).get("proposals")).isEqualTo(pf);
        CliTest.Run serve = CliTest.run("serve", "--model", exact.toString(), "--arithmetic", "fast", "--port", "0");
        assertThat(serve.code()).isEqualTo(2);
        assertThat(serve.err().trim()).doesNotContain("\n").contains("import-torchvision");

        // a file that BatchNorm2d wrote (it keeps a step counter): torch's batch-norm kernel
        Path v2 = tmp.resolve("v2");
        CliTest.Run imp = CliTest.run("import-torchvision", "--weights", FIXTURE.resolveSibling("resnet50_fpn_v2")
                .resolve("model.pth").toString(), "--arch", "fasterrcnn_resnet50_fpn_v2", "--num-classes", "5",
                "--out", v2.toString());
        assertThat(imp.code()).as(imp.err()).isZero();
        assertThat(new ObjectMapper().readTree(v2.resolve("config.json").toFile()).at("/backbone/batchNorm/inference")
                .asText()).isEqualTo("BATCH_NORM_2D");

        CliTest.Run bad = importAs(tmp.resolve("bad"), "--arithmetic", "exact");
        assertThat(bad.code()).isEqualTo(2);
        assertThat(bad.err().trim()).doesNotContain("\n").contains("--arithmetic").contains("exact");
    }
}
