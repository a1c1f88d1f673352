package org.frcnn4j.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.frcnn4j.io.PthReader;
import org.frcnn4j.io.PthTensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fine-tuning torchvision's architectures (issue #12): from an ImageNet classification checkpoint
 * ({@code --init-backbone}) and from an imported detector ({@code --init}), with torchvision's trainable layers: the
 * frozen stages and the frozen batch norm keep the file's values bit for bit, the trained ones move.
 */
class FineTuneCliTest {
    private static final Path ROOT = Path.of("").toAbsolutePath().getParent();
    private static final Path FIXTURES = ROOT.resolve("core/src/test/resources/fixtures/torchvision");
    private static final String RACCOON = ROOT.resolve("datasets/raccoon").toString();

    private static Map<String, float[]> weights(Path model) throws IOException {
        try (NDManager m = NDManager.newBaseManager()) {
            return KillAndResumeTest.read(m, model.resolve("weights.safetensors"));
        }
    }

    private static float[] checkpoint(Path pth, String key) {
        PthTensor t = PthReader.readStateDict(pth).get(key);
        assertThat(t).as(key).isNotNull();
        return t.floats();
    }

    /** The reduced fixture of {@code variant} imported as a 5-class model at 128/192 pixels, into tmp/imported. */
    private static Path importFixture(String variant, Path tmp) {
        Path imported = tmp.resolve("imported");
        CliTest.Run imp = CliTest.run("import-torchvision", "--weights", FIXTURES.resolve(variant).resolve("model.pth")
                .toString(), "--arch", "fasterrcnn_" + variant, "--num-classes", "5", "--min-size", "128", "--max-size",
                "192", "--out", imported.toString());
        assertThat(imp.code()).as(imp.err()).isZero();
        return imported;
    }

    @Test
    void resnetFromAnImageNetCheckpoint(@TempDir Path tmp) throws IOException {
        Path pth = FIXTURES.resolve("imagenet/resnet.pth"); // torch.save's legacy format, as resnet50's download
        Path out = tmp.resolve("run");
        CliTest.Run train = CliTest.run("train", "--arch", "fasterrcnn_resnet50_fpn", "--init-backbone", pth.toString(),
                "--data", RACCOON, "--train-split", "test", "--iterations", "2", "--min-size", "128", "--max-size", "192",
                "--out", out.toString());
        assertThat(train.code()).as(train.err()).isZero();
        JsonNode backbone = new ObjectMapper().readTree(out.resolve("model/config.json").toFile()).get("backbone");
        assertThat(backbone.get("resnet").get("blocks").toString()).isEqualTo("[2,1,1,1]");
        assertThat(backbone.get("resnet").get("width").asInt()).isEqualTo(4);

        Map<String, float[]> w = weights(out.resolve("model"));
        // conv1 and layer1 frozen (torchvision's trainable_backbone_layers=3), batch norm frozen everywhere
        for (String key : new String[] {"conv1.weight", "layer1.0.conv2.weight", "layer1.1.conv3.weight", "bn1.running_var",
                "layer3.0.bn2.weight", "layer4.0.bn3.running_mean"}) {
            assertThat(w.get("backbone.body." + key)).as(key).containsExactly(checkpoint(pth, key));
        }
        for (String key : new String[] {"layer2.0.conv1.weight", "layer4.0.conv3.weight"}) {
            assertThat(w.get("backbone.body." + key)).as(key).isNotEqualTo(checkpoint(pth, key));
        }
        assertThat(w).doesNotContainKey("backbone.body.fc.weight").containsKey("backbone.fpn.inner_blocks.0.0.weight");
        assertThat(w.get("roi_heads.box_predictor.cls_score.bias")).hasSize(2); // raccoon + background

        CliTest.Run detect = CliTest.run("detect", "--model", out.resolve("model").toString(),
                ROOT.resolve("datasets/raccoon/JPEGImages/raccoon-1.jpg").toString());
        assertThat(detect.code()).as(detect.err()).isZero();

        // on from the imported detector: a new run with the frozen stages where the first left them
        Path second = tmp.resolve("second");
        CliTest.Run more = CliTest.run("train", "--init", out.resolve("model").toString(), "--data", RACCOON,
                "--train-split", "test", "--iterations", "1", "--out", second.toString());
        assertThat(more.code()).as(more.err()).isZero();
        assertThat(weights(second.resolve("model")).get("backbone.body.conv1.weight"))
                .containsExactly(checkpoint(pth, "conv1.weight"));
    }

    @Test
    void importedDetectorOntoOtherClasses(@TempDir Path tmp) throws IOException {
        Path imported = importFixture("resnet50_fpn", tmp);
        Path out = tmp.resolve("run");
        CliTest.Run train = CliTest.run("train", "--init", imported.toString(), "--data", RACCOON, "--train-split", "test",
                "--iterations", "2", "--out", out.toString());
        assertThat(train.code()).as(train.err()).isZero();
        Map<String, float[]> before = weights(imported);
        Map<String, float[]> after = weights(out.resolve("model"));
        assertThat(after.get("roi_heads.box_predictor.cls_score.bias")).hasSize(2); // 4 classes became 1: fresh layer
        assertThat(after.get("backbone.body.layer1.0.conv1.weight")).containsExactly(before.get("backbone.body.layer1.0.conv1.weight"));
        assertThat(after.get("backbone.body.layer3.0.conv2.weight")).isNotEqualTo(before.get("backbone.body.layer3.0.conv2.weight"));
        assertThat(after.get("rpn.head.conv.weight")).isNotEqualTo(before.get("rpn.head.conv.weight"));
        // imported in torchvision's arithmetic; trained here, its weights are no longer torchvision's: saved fast
        ObjectMapper json = new ObjectMapper();
        assertThat(json.readTree(imported.resolve("config.json").toFile()).get("arithmetic").asText()).isEqualTo("TORCHVISION");
        assertThat(json.readTree(out.resolve("model/config.json").toFile()).get("arithmetic").asText()).isEqualTo("FAST");
    }

    /**
     * The v2 model's FPN and heads normalise with the batch's statistics in training, so its images must go through one
     * forward pass together (torchvision's batch): the trainer keeps the batched pass for such models even where it
     * would otherwise put the two images of an iteration on two threads. Run both ways, the losses are the same; on
     * their own threads each image would be normalised by its own statistics and the losses would move (with the guard
     * taken out: the first iteration's total 1.984 instead of 1.940, its RPN box loss 0.017 instead of 0.011).
     */
    @Test
    void batchNormalisedModelsTrainOnTheWholeBatch(@TempDir Path tmp) throws IOException {
        assumeTrue(Runtime.getRuntime().availableProcessors() >= 2,
                "the images of an iteration go to two threads only where there are two processors");
        Path imported = importFixture("resnet50_fpn_v2", tmp);
        List<List<String>> losses = new ArrayList<>();
        for (String parallel : new String[] {"true", "false"}) {
            Path out = tmp.resolve("run-" + parallel);
            System.setProperty("frcnn.dataParallel", parallel);
            try {
                CliTest.Run train = CliTest.run("train", "--init", imported.toString(), "--data", RACCOON, "--train-split",
                        "test", "--images-per-iteration", "2", "--iterations", "2", "--out", out.toString());
                assertThat(train.code()).as(train.err()).isZero();
            } finally {
                System.clearProperty("frcnn.dataParallel");
            }
            List<String> rows = new ArrayList<>();
            for (String line : Files.readAllLines(out.resolve("log.csv")).subList(1, 3)) {
                String[] cells = line.split(",");
                rows.add(String.join(",", Arrays.copyOfRange(cells, 3, 8))); // the four losses and their total
            }
            losses.add(rows);
        }
        assertThat(losses.get(0)).as("losses with data-parallel training allowed, against the batched pass")
                .isEqualTo(losses.get(1));
    }

    @Test
    void mobileNetFromAnImageNetCheckpoint(@TempDir Path tmp) throws IOException {
        Path pth = FIXTURES.resolve("imagenet/mobilenet_v3_large.pth");
        Path out = tmp.resolve("run");
        CliTest.Run train = CliTest.run("train", "--arch", "fasterrcnn_mobilenet_v3_large_320_fpn", "--init-backbone",
                pth.toString(), "--data", RACCOON, "--train-split", "test", "--iterations", "1", "--min-size", "160",
                "--max-size", "320", "--out", out.toString());
        assertThat(train.code()).as(train.err()).isZero();
        JsonNode backbone = new ObjectMapper().readTree(out.resolve("model/config.json").toFile()).get("backbone");
        assertThat(backbone.get("widthScale").asDouble()).isEqualTo(0.25);
        Map<String, float[]> w = weights(out.resolve("model"));
        // features 0-6 frozen (trainable_backbone_layers=3 of its 6 stages)
        for (String key : new String[] {"0.0.weight", "3.block.1.0.weight", "6.block.2.fc1.weight"}) {
            assertThat(w.get("backbone.body." + key)).as(key).containsExactly(checkpoint(pth, "features." + key));
        }
        assertThat(w.get("backbone.body.12.block.0.0.weight")).isNotEqualTo(checkpoint(pth, "features.12.block.0.0.weight"));
    }

    @Test
    void wrongCheckpointsAreRefusedInOneLine(@TempDir Path tmp) {
        Path resnet = FIXTURES.resolve("imagenet/resnet.pth");
        CliTest.Run wrongArch = CliTest.run("train", "--arch", "fasterrcnn_mobilenet_v3_large_fpn", "--init-backbone",
                resnet.toString(), "--data", RACCOON, "--out", tmp.resolve("a").toString());
        assertThat(wrongArch.code()).isEqualTo(2);
        assertThat(wrongArch.err().trim()).doesNotContain("\n").contains("resnet.pth").contains("unexpected key 'conv1.weight'");

        CliTest.Run paper = CliTest.run("train", "--preset", "paper-zf", "--init-backbone", resnet.toString(),
                "--data", RACCOON, "--out", tmp.resolve("b").toString());
        assertThat(paper.code()).isEqualTo(2);
        assertThat(paper.err().trim()).doesNotContain("\n").contains("--init-backbone");

        CliTest.Run both = CliTest.run("train", "--arch", "fasterrcnn_resnet50_fpn", "--init-backbone", resnet.toString(),
                "--init", tmp.toString(), "--data", RACCOON, "--out", tmp.resolve("c").toString());
        assertThat(both.code()).isEqualTo(2);
        assertThat(both.err()).contains("--init").contains("--init-backbone");

        CliTest.Run missing = CliTest.run("train", "--arch", "fasterrcnn_resnet50_fpn", "--init-backbone",
                tmp.resolve("none.pth").toString(), "--data", RACCOON, "--out", tmp.resolve("d").toString());
        assertThat(missing.code()).isEqualTo(2);
        assertThat(missing.err()).contains("none.pth").contains("no such checkpoint file");
        assertThat(tmp.resolve("a")).doesNotExist();
    }
}
