package org.frcnn4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class CliTest {
    private static final Path ROOT = Path.of("").toAbsolutePath().getParent();
    private static final Path TOY = ROOT.resolve("datasets/eval-golden/review-toyexample");

    record Run(int code, String out, String err) {}

    static Run run(String... args) {
        CommandLine cli = Main.newCommandLine();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cli.setOut(new PrintWriter(out));
        cli.setErr(new PrintWriter(err));
        int code = cli.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    @Test
    void evalVocResultsFolderAsJson() throws IOException {
        Run r = run("eval", "--gt", TOY.toString(), "--detections", TOY.resolve("results").toString(),
                "--metric", "voc07", "--json");
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertThat(j.get("metric").asText()).isEqualTo("voc07");
        assertThat(j.get("mAP").asDouble()).isBetween(0.886363, 0.886365);
        assertThat(j.get("per_class").get("cat").asDouble()).isBetween(0.886363, 0.886365);

        Run strict = run("eval", "--gt", TOY.toString(), "--detections", TOY.resolve("results").toString(),
                "--metric", "voc", "--iou", "0.75");
        assertThat(strict.out()).contains("cat").contains("0.5097").contains("mAP");
    }

    @Test
    void evalCocoResultsJsonAgainstVocTruth(@TempDir Path tmp) throws IOException {
        // the toy detections as COCO results (0-based corners, category 1 = cat) give the same AP
        StringBuilder json = new StringBuilder("[");
        for (String line : Files.readAllLines(TOY.resolve("results/comp4_det_test_cat.txt"))) {
            String[] t = line.split(" ");
            double x1 = Double.parseDouble(t[2]) - 1, y1 = Double.parseDouble(t[3]) - 1;
            double x2 = Double.parseDouble(t[4]) - 1, y2 = Double.parseDouble(t[5]) - 1;
            json.append(json.length() > 1 ? "," : "").append(String.format(
                    "{\"image_id\":\"%s\",\"category_id\":1,\"bbox\":[%s,%s,%s,%s],\"score\":%s}",
                    t[0], x1, y1, x2 - x1, y2 - y1, t[1]));
        }
        Path dets = tmp.resolve("dets.json");
        Files.writeString(dets, json.append("]"));
        Run r = run("eval", "--gt", TOY.toString(), "--detections", dets.toString(), "--metric", "voc", "--json");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(new ObjectMapper().readTree(r.out()).get("mAP").asDouble()).isBetween(0.895832, 0.895834);
        Run coco = run("eval", "--gt", TOY.toString(), "--detections", dets.toString(), "--metric", "coco", "--json");
        assertThat(coco.code()).as(coco.err()).isZero();
        assertThat(new ObjectMapper().readTree(coco.out()).fieldNames()).toIterable()
                .contains("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl");
    }

    @Test
    void evalCocoPerfectDetectionsOnCocoMini(@TempDir Path tmp) throws IOException {
        Path coco = ROOT.resolve("datasets/coco-mini/annotations/instances_train2017.json");
        JsonNode gt = new ObjectMapper().readTree(coco.toFile());
        StringBuilder json = new StringBuilder("[");
        for (JsonNode a : gt.get("annotations")) {
            if (a.get("iscrowd").asInt() == 0) {
                json.append(json.length() > 1 ? "," : "").append(String.format(
                        "{\"image_id\":%d,\"category_id\":%d,\"bbox\":%s,\"score\":0.9}",
                        a.get("image_id").asLong(), a.get("category_id").asInt(), a.get("bbox")));
            }
        }
        Path dets = tmp.resolve("perfect.json");
        Files.writeString(dets, json.append("]"));
        Run r = run("eval", "--gt", coco.toString(), "--detections", dets.toString(), "--metric", "coco", "--json");
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertThat(j.get("AP").asDouble()).isEqualTo(1.0);
        assertThat(j.get("AR100").asDouble()).isEqualTo(1.0);
    }

    @Test
    void badInputGivesOneLineAndExitCode2(@TempDir Path tmp) throws IOException {
        Run missing = run("eval", "--gt", tmp.resolve("nope").toString(), "--detections", "x.json");
        assertThat(missing.code()).isEqualTo(2);
        assertThat(missing.err().trim()).doesNotContain("\n").contains("nope").contains("no such file");

        Path broken = tmp.resolve("broken.json");
        Files.writeString(broken, "[{\"image_id\": \"2007_000549\", ");
        Run bad = run("eval", "--gt", TOY.toString(), "--detections", broken.toString());
        assertThat(bad.code()).isEqualTo(2);
        assertThat(bad.err().trim()).doesNotContain("\n").contains("broken.json").contains("malformed JSON");

        Files.writeString(broken, "[{\"image_id\": \"nope\", \"category_id\": 1, \"bbox\": [0,0,1,1], \"score\": 1}]");
        Run unknown = run("eval", "--gt", TOY.toString(), "--detections", broken.toString());
        assertThat(unknown.err()).contains("image_id nope is not in the ground truth");
    }

    @Test
    void dataCheckCountsAndProblems(@TempDir Path tmp) throws IOException {
        Run ok = run("data", "check", "--data", ROOT.resolve("datasets/raccoon").toString(), "--split", "test");
        assertThat(ok.code()).as(ok.err()).isZero();
        assertThat(ok.out()).contains("images    40").contains("boxes     44").contains("raccoon").contains("problems  0");

        Path bad = tmp.resolve("bad");
        Files.createDirectories(bad.resolve("Annotations"));
        Files.writeString(bad.resolve("classes.txt"), "cat\n");
        Files.writeString(bad.resolve("Annotations/a.xml"), "<annotation><size><width>10</width><height>10</height></size>"
                + "<object><name>cat</name><bndbox><xmin>5</xmin><ymin>5</ymin><xmax>20</xmax><ymax>8</ymax></bndbox></object>"
                + "</annotation>");
        Run r = run("data", "check", "--data", bad.toString());
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("a.xml: box [5, 5, 20, 8] of 'cat' lies outside the 10x10 image")
                .contains("a.jpg: image file is missing");
    }

    @Test
    void demoTrainsEvaluatesAndWritesItsReport(@TempDir Path tmp) throws IOException {
        // a smoke run: the real demo trains for DemoCommand.ITERATIONS
        Run r = run("demo", "--out", tmp.toString(), "--datasets", ROOT.resolve("datasets").toString(), "--iterations", "4");
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode m = new ObjectMapper().readTree(tmp.resolve("metrics.json").toFile());
        assertThat(m.get("test_images").asInt()).isEqualTo(40);
        assertThat(tmp.resolve("index.html")).exists();
        assertThat(tmp.resolve("loss.png")).exists();
        assertThat(tmp.resolve("model/weights.safetensors")).exists();
        assertThat(Files.list(tmp.resolve("images")).count()).isEqualTo(40);
        assertThat(r.out()).contains(tmp.resolve("index.html").toString());
        Path model = tmp.resolve("model");
        Run eval = run("eval", "--model", model.toString(), "--data", ROOT.resolve("datasets/raccoon").toString(),
                "--split", "test", "--metric", "voc07", "--json");
        assertThat(eval.code()).as(eval.err()).isZero();
        assertThat(new ObjectMapper().readTree(eval.out()).get("mAP").asDouble()).isEqualTo(m.get("mAP").asDouble());
    }

    /**
     * {@code train --precision bf16} (issue #15): where the CPU has AVX512_BF16 or AMX it trains (two iterations of the
     * tiny preset, finite losses, a model written); elsewhere one line, exit 2 and no run folder.
     */
    @Test
    void trainInBfloat16OrRefused(@TempDir Path tmp) throws IOException {
        Path out = tmp.resolve("bf16");
        Run r = run("train", "--data", ROOT.resolve("datasets/raccoon").toString(), "--train-split", "test", "--preset",
                "tiny", "--iterations", "2", "--precision", "bf16", "--out", out.toString());
        String[] cpu = org.frcnn4j.nn.EngineFacts.thisCpu();
        if (!org.frcnn4j.nn.Precision.BF16.availableWith(java.util.List.of(cpu[1].split(" ")))
                || !org.frcnn4j.nn.Precision.isaAllowsBf16(System.getenv("ONEDNN_MAX_CPU_ISA"))) {
            assertThat(r.code()).isEqualTo(Main.BAD_INPUT);
            assertThat(r.err()).contains("--precision bf16 needs ");
            assertThat(out).doesNotExist();
            return;
        }
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(out.resolve("model/config.json")).exists();
        java.util.List<String> log = java.nio.file.Files.readAllLines(out.resolve("log.csv"));
        assertThat(log).hasSize(3);
        assertThat(Double.parseDouble(log.get(2).split(",")[7])).isFinite().isPositive();
    }

    @Test
    void trainFromAnotherModelsWeightsWithOtherClassesAndScales(@TempDir Path tmp) throws IOException {
        Path raccoon = ROOT.resolve("datasets/raccoon");
        Run first = run("train", "--data", raccoon.toString(), "--train-split", "test", "--preset", "tiny",
                "--iterations", "2", "--out", tmp.resolve("a").toString());
        assertThat(first.code()).as(first.err()).isZero();
        // 20 VOC classes on top of a 1-class model: its class layers start fresh, the rest is carried over
        Run second = run("train", "--data", ROOT.resolve("datasets/voc-mini100").toString(), "--preset", "tiny",
                "--init", tmp.resolve("a/model").toString(), "--train-scales", "96,128", "--rois-per-image", "128",
                "--iterations", "2", "--out", tmp.resolve("b").toString());
        assertThat(second.code()).as(second.err()).isZero();
        String config = java.nio.file.Files.readString(tmp.resolve("b/model/config.json"));
        assertThat(config).contains("\"numClasses\" : 21").contains("aeroplane");
        assertThat(new ObjectMapper().readTree(tmp.resolve("b/run.json").toFile()).get("train").get("trainScales").toString())
                .isEqualTo("[96,128]");
        assertThat(new ObjectMapper().readTree(tmp.resolve("b/run.json").toFile()).get("train").get("head").get("batchSize").asInt())
                .isEqualTo(128);

        Run wrongArch = run("train", "--data", raccoon.toString(), "--init", tmp.resolve("a/model").toString(),
                "--backbone", "vgg16", "--out", tmp.resolve("c").toString());
        assertThat(wrongArch.code()).isEqualTo(2);
        assertThat(wrongArch.err()).contains("--init keeps the architecture");
        Run badScales = run("train", "--data", raccoon.toString(), "--train-scales", "96,big",
                "--out", tmp.resolve("d").toString());
        assertThat(badScales.code()).isEqualTo(2);
        assertThat(badScales.err()).contains("'big' is not a size");
        // a paper preset (no padding to a size multiple) trains from the command line: its resized image reaches the
        // first convolution with autograd on
        Run paper = run("train", "--data", raccoon.toString(), "--train-split", "test", "--preset", "paper-zf",
                "--width-scale", "0.125", "--min-size", "320", "--max-size", "480", "--iterations", "1",
                "--out", tmp.resolve("g").toString());
        assertThat(paper.code()).as(paper.err()).isZero();
        // and runs in bfloat16 where the CPU has it: its LRN is a grouped convolution, which has no bfloat16 training
        // method, and the guard's check of it once asked for one (an internal error)
        boolean bf16 = true;
        try {
            org.frcnn4j.nn.Precision.BF16.requireAvailable();
        } catch (RuntimeException e) {
            bf16 = false;
        }
        if (bf16) {
            Run bench = run("bench", "--model", tmp.resolve("g/model").toString(), "--images",
                    raccoon.resolve("JPEGImages").toFile().listFiles()[0].toString(), "--warmup", "0", "--repeat", "1",
                    "--precision", "bf16");
            assertThat(bench.code()).as(bench.err()).isZero();
        }
        // on images smaller than the paper's smallest anchor (128 px) no anchor lies inside: the RPN's losses are 0 and
        // training goes on with one line saying why (it once stopped at iteration 1 on a NaN loss, blaming the rate)
        Run small = run("train", "--data", raccoon.toString(), "--train-split", "test", "--preset", "paper-zf",
                "--width-scale", "0.125", "--min-size", "96", "--max-size", "120", "--iterations", "2",
                "--out", tmp.resolve("h").toString());
        assertThat(small.code()).as(small.err()).isZero();
        assertThat(small.out()).containsOnlyOnce("no anchor lies inside its").contains("--min-size");
        Run badRois = run("train", "--data", raccoon.toString(), "--rois-per-image", "0", "--out", tmp.resolve("f").toString());
        assertThat(badRois.code()).isEqualTo(2);
        assertThat(badRois.err()).contains("--rois-per-image must be at least 1, not");
        Run noModel = run("train", "--data", raccoon.toString(), "--init", tmp.resolve("nope").toString(),
                "--out", tmp.resolve("e").toString());
        assertThat(noModel.code()).isEqualTo(2);
        assertThat(noModel.err()).contains("no such model folder");
    }

    @Test
    void trainCountsItsConvolutionsAndDoctorMeasuresTheCeiling(@TempDir Path tmp) {
        Run train = run("train", "--data", ROOT.resolve("datasets/raccoon").toString(), "--train-split", "train",
                "--preset", "tiny", "--iterations", "2", "--out", tmp.resolve("run").toString());
        assertThat(train.code()).as(train.err()).isZero();
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("convolutions: ([0-9.]+) GFLOP per iteration "
                + "\\(([0-9.]+) forward, ([0-9.]+) gradients\\), ([0-9]+) GFLOP/s over 2 iterations").matcher(train.out());
        assertThat(m.find()).as(train.out()).isTrue();
        double total = Double.parseDouble(m.group(1));
        double forward = Double.parseDouble(m.group(2));
        double gradients = Double.parseDouble(m.group(3));
        // every layer but the one on the image has both gradients: between one and two per forward operation
        assertThat(forward).isPositive();
        assertThat(gradients).isGreaterThan(forward).isLessThanOrEqualTo(2 * forward);
        assertThat(total).isCloseTo(forward + gradients, org.assertj.core.api.Assertions.within(0.11));

        Run doctor = run("doctor", "--preset", "tiny");
        assertThat(doctor.out()).as(doctor.err())
                .containsPattern("ceiling: a 3x3 convolution [1-9][0-9]* GFLOP/s, a matrix product [1-9][0-9]* GFLOP/s");
    }
}
