package org.frcnn4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The commands that reproduce the paper's comparisons, on small inputs. */
class PaperCommandsTest {
    private static final Path ROOT = Path.of("").toAbsolutePath().getParent();
    private static final Path RACCOON = ROOT.resolve("datasets/raccoon");

    /** A VOC folder with the first two test images of raccoon, and a tiny model trained for 2 iterations. */
    static Path[] smallSetup(Path tmp) throws IOException {
        Path voc = tmp.resolve("voc");
        Files.createDirectories(voc.resolve("ImageSets/Main"));
        Files.createSymbolicLink(voc.resolve("Annotations"), RACCOON.resolve("Annotations"));
        Files.createSymbolicLink(voc.resolve("JPEGImages"), RACCOON.resolve("JPEGImages"));
        Files.copy(RACCOON.resolve("classes.txt"), voc.resolve("classes.txt"));
        Files.writeString(voc.resolve("ImageSets/Main/two.txt"), "raccoon-146\nraccoon-143\n");
        Path run = tmp.resolve("run");
        CliTest.Run train = CliTest.run("train", "--data", voc.toString(), "--train-split", "two", "--preset", "tiny",
                "--iterations", "2", "--out", run.toString());
        assertThat(train.code()).as(train.err()).isZero();
        return new Path[] {voc, run.resolve("model")};
    }

    @Test
    void selectiveSearchProposalsAndTheirRecall(@TempDir Path tmp) throws IOException {
        Path[] s = smallSetup(tmp);
        Path image = RACCOON.resolve("JPEGImages/raccoon-146.jpg");
        CliTest.Run p = CliTest.run("propose", "--method", "selective-search", "--top", "100", image.toString());
        assertThat(p.code()).as(p.err()).isZero();
        JsonNode boxes = new ObjectMapper().readTree(p.out()).get(0).get("proposals");
        assertThat(boxes.size()).isBetween(20, 100);
        assertThat(boxes.get(0).size()).isEqualTo(5);

        Path out = tmp.resolve("recall");
        CliTest.Run e = CliTest.run("proposals-eval", "--model", s[1].toString(), "--data", s[0].toString(), "--split",
                "two", "--methods", "rpn,selective-search", "--out", out.toString());
        assertThat(e.code()).as(e.err()).isZero();
        JsonNode j = new ObjectMapper().readTree(out.resolve("proposals.json").toFile());
        // each of the two images' raccoons is among 2000 Selective Search boxes at IoU 0.5 (README: recall 1.000 on test)
        assertThat(j.get("selective-search").get("top_2000").get("recall_0.5").asDouble()).isEqualTo(1.0);
        assertThat(j.get("rpn").get("seconds_per_image").asDouble()).isPositive();
        for (String png : new String[] {"recall_vs_iou_300.png", "recall_vs_iou_1000.png", "recall_vs_iou_2000.png",
            "recall_vs_proposals_iou0.5.png", "recall_vs_proposals_iou0.7.png"}) {
            assertThat(out.resolve(png)).exists();
        }

        CliTest.Run bad = CliTest.run("propose", "--method", "edge-boxes", image.toString());
        assertThat(bad.code()).isEqualTo(2);
        assertThat(bad.err()).contains("--method must be rpn or selective-search");
    }

    @Test
    void timingTableForBothMethods(@TempDir Path tmp) throws IOException {
        Path[] s = smallSetup(tmp);
        Path json = tmp.resolve("bench.json");
        CliTest.Run b = CliTest.run("bench", "--model", s[1].toString(), "--images",
                RACCOON.resolve("JPEGImages/raccoon-146.jpg").toString(), "--methods", "rpn,selective-search",
                "--warmup", "0", "--repeat", "1", "--json", json.toString());
        assertThat(b.code()).as(b.err()).isZero();
        assertThat(b.out()).contains("| conv | proposal | region-wise | total | fps |");
        JsonNode j = new ObjectMapper().readTree(json.toFile());
        assertThat(j.get("selective-search").get("proposal_ms").asDouble())
                .isGreaterThan(j.get("rpn").get("proposal_ms").asDouble());

        // detect --batch's throughput, for each asked batch size
        String img = RACCOON.resolve("JPEGImages/raccoon-146.jpg").toString();
        CliTest.Run t = CliTest.run("bench", "--model", s[1].toString(), "--images", img, img, img, "--warmup", "0",
                "--repeat", "1", "--batch-sizes", "1,2", "--json", json.toString());
        assertThat(t.code()).as(t.err()).isZero();
        assertThat(t.out()).contains("| batch | images/s |");
        JsonNode batches = new ObjectMapper().readTree(json.toFile()).get("batches");
        assertThat(batches.get("1").asDouble()).isPositive();
        assertThat(batches.get("2").asDouble()).isPositive();
    }

    @Test
    void experimentSmokeRunAndFastRcnnOnSelectiveSearch(@TempDir Path tmp) throws IOException {
        Path[] s = smallSetup(tmp);
        Path out = tmp.resolve("exp");
        CliTest.Run e = CliTest.run("experiment", "schedules", "--data", s[0].toString(), "--train-split", "two",
                "--test-split", "two", "--preset", "tiny", "--iterations", "4", "--out", out.toString());
        assertThat(e.code()).as(e.err()).isZero();
        assertThat(e.out()).contains("| alternating |").contains("| joint |");
        assertThat(out.resolve("summary.json")).exists();

        Path ss = tmp.resolve("ss-run");
        CliTest.Run t = CliTest.run("train", "--data", s[0].toString(), "--train-split", "two", "--preset", "tiny",
                "--proposals", "ss", "--iterations", "2", "--out", ss.toString());
        assertThat(t.code()).as(t.err()).isZero();
        assertThat(ss.resolve("proposals-ss/raccoon-146.boxes")).exists();
        CliTest.Run ev = CliTest.run("eval", "--model", ss.resolve("model").toString(), "--data", s[0].toString(),
                "--split", "two", "--proposals", "ss", "--proposal-cache", ss.resolve("proposals-ss").toString(), "--json");
        assertThat(ev.code()).as(ev.err()).isZero();
        // the model folder records that it was trained on Selective Search boxes: eval uses them without being told
        assertThat(Files.readString(ss.resolve("model/config.json"))).contains("\"proposals\" : \"SELECTIVE_SEARCH\"");
        CliTest.Run implicit = CliTest.run("eval", "--model", ss.resolve("model").toString(), "--data", s[0].toString(),
                "--split", "two", "--proposal-cache", ss.resolve("proposals-ss").toString(), "--json");
        assertThat(implicit.code()).as(implicit.err()).isZero();
        assertThat(new ObjectMapper().readTree(implicit.out()).get("mAP").asDouble())
                .isEqualTo(new ObjectMapper().readTree(ev.out()).get("mAP").asDouble());
        CliTest.Run rpn = CliTest.run("eval", "--model", ss.resolve("model").toString(), "--data", s[0].toString(),
                "--split", "two", "--proposals", "rpn");
        assertThat(rpn.code()).isEqualTo(2);
        assertThat(rpn.err()).contains("trained on Selective Search proposals");
    }
}
