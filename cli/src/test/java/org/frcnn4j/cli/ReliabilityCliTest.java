package org.frcnn4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Locale;
import org.frcnn4j.cli.CliTest.Run;
import org.frcnn4j.model.FasterRcnn;
import org.frcnn4j.model.ModelFiles;
import org.frcnn4j.model.Presets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Bad input of every kind gives one line naming the file and exit code 2, and good input around it is still used. */
class ReliabilityCliTest {
    static final Path ROOT = Path.of("").toAbsolutePath().getParent();
    static final Path RACCOON = ROOT.resolve("datasets/raccoon");
    static final Path IMPORT_FIXTURE = ROOT.resolve("core/src/test/resources/fixtures/torchvision/resnet50_fpn/model.pth");

    /** raccoon's VOC folder, copied with {@code ids} of its images. */
    static Path copyRaccoon(Path tmp, List<String> ids) throws IOException {
        Path root = tmp.resolve("raccoon-copy");
        for (String d : List.of("Annotations", "JPEGImages", "ImageSets/Main")) {
            Files.createDirectories(root.resolve(d));
        }
        Files.copy(RACCOON.resolve("classes.txt"), root.resolve("classes.txt"));
        for (String id : ids) {
            Files.copy(RACCOON.resolve("Annotations/" + id + ".xml"), root.resolve("Annotations/" + id + ".xml"));
            Files.copy(RACCOON.resolve("JPEGImages/" + id + ".jpg"), root.resolve("JPEGImages/" + id + ".jpg"));
        }
        Files.write(root.resolve("ImageSets/Main/train.txt"), ids);
        return root;
    }

    @Test
    void dataCheckNamesEveryBrokenFileInOnePass(@TempDir Path tmp) throws IOException {
        Path d = copyRaccoon(tmp, List.of("raccoon-1", "raccoon-2", "raccoon-3", "raccoon-4", "raccoon-5"));
        Files.writeString(d.resolve("Annotations/raccoon-1.xml"), "<annotation>\n<filename>raccoon-1.jpg");
        Files.delete(d.resolve("JPEGImages/raccoon-2.jpg"));
        byte[] jpeg = Files.readAllBytes(d.resolve("JPEGImages/raccoon-3.jpg"));
        Files.write(d.resolve("JPEGImages/raccoon-3.jpg"), java.util.Arrays.copyOf(jpeg, jpeg.length / 3));
        String xml = Files.readString(d.resolve("Annotations/raccoon-4.xml"));
        Files.writeString(d.resolve("Annotations/raccoon-4.xml"), xml.replaceFirst("<xmax>\\d+</xmax>", "<xmax>5000</xmax>"));
        Run r = CliTest.run("data", "check", "--data", d.toString());
        assertThat(r.code()).isEqualTo(2);
        List<String> lines = r.err().lines().toList();
        assertThat(lines).hasSize(4);
        assertThat(lines.get(0)).startsWith(d.resolve("Annotations/raccoon-1.xml") + ": malformed XML at line 2");
        assertThat(lines.get(1)).startsWith(d.resolve("Annotations/raccoon-4.xml") + ": box [").contains("lies outside");
        assertThat(lines.get(2)).isEqualTo(d.resolve("JPEGImages/raccoon-2.jpg") + ": image file is missing");
        assertThat(lines.get(3)).startsWith(d.resolve("JPEGImages/raccoon-3.jpg") + ": truncated or corrupt image data");
        assertThat(r.out()).contains("problems  4 (listed on standard error, 4 files)");

        // training refuses the same folder before its first iteration, naming every problem
        Path run = tmp.resolve("run");
        Run train = CliTest.run("train", "--data", d.toString(), "--preset", "tiny", "--iterations", "2", "--out", run.toString());
        assertThat(train.code()).isEqualTo(2);
        assertThat(train.err().lines().toList()).hasSize(5).containsAll(lines);
        assertThat(train.err()).contains("frcnn: error: the training set has 4 problems (listed above; all of them: frcnn data check)");
        assertThat(run.resolve("log.csv")).doesNotExist();

        // a malformed COCO file is the one problem of its dataset
        Path coco = tmp.resolve("instances_bad.json");
        Files.writeString(coco, "{\"images\": [}");
        Run c = CliTest.run("data", "check", "--data", coco.toString());
        assertThat(c.code()).isEqualTo(2);
        assertThat(c.err().trim()).doesNotContain("\n").startsWith(coco + ": malformed JSON at line 1");
    }

    @Test
    void aDatasetsBrokenClassFileIsOneLineNamingIt(@TempDir Path tmp) throws IOException {
        Path d = copyRaccoon(tmp, List.of("raccoon-1"));
        Path classes = d.resolve("classes.txt");
        Files.write(classes, List.of("raccoon", "dog", "raccoon"));
        Run twice = CliTest.run("data", "check", "--data", d.toString());
        assertThat(twice.code()).isEqualTo(2);
        assertThat(twice.err().trim()).isEqualTo(classes + ": class name 'raccoon' appears twice"); // data check's one problem
        assertThat(twice.out()).contains("problems  1");
        Files.delete(classes);
        Files.createDirectory(classes);
        Run folder = CliTest.run("data", "check", "--data", d.toString());
        assertThat(folder.code()).isEqualTo(2);
        assertThat(folder.err().trim()).isEqualTo(classes + ": is a folder, not a class list file");
        Run train = CliTest.run("train", "--data", d.toString(), "--preset", "tiny", "--iterations", "1", "--out",
                tmp.resolve("run").toString());
        assertThat(train.code()).isEqualTo(2);
        assertThat(train.err().trim()).isEqualTo("frcnn: error: " + classes + ": is a folder, not a class list file");
    }

    @Test
    void stripsAndSpecksAreDetectedInNotCrashedOn(@TempDir Path tmp) throws IOException {
        // a 3000 x 1 strip resizes to a side of 0 by the rules (torchvision's resize fails there), and a map smaller
        // than a kernel is an engine error: both once ended detect with "internal error"
        Path model = tinyModel(tmp.resolve("model"));
        List<String> files = new ArrayList<>();
        for (int[] size : new int[][] {{3000, 1}, {1, 2000}, {1, 1}}) {
            java.awt.image.BufferedImage img = new java.awt.image.BufferedImage(size[0], size[1],
                    java.awt.image.BufferedImage.TYPE_INT_RGB);
            Path f = tmp.resolve("strip-" + size[0] + "x" + size[1] + ".png");
            javax.imageio.ImageIO.write(img, "png", f.toFile());
            files.add(f.toString());
        }
        List<String> detect = new ArrayList<>(List.of("detect", "--model", model.toString(), "--score-thresh", "0"));
        detect.addAll(files);
        Run r = CliTest.run(detect.toArray(String[]::new));
        assertThat(r.err()).doesNotContain("internal error");
        assertThat(r.code()).isZero();
        for (JsonNode d : new ObjectMapper().readTree(r.out())) {
            // every box lies on its image
            double[] b = {d.get("bbox").get(0).asDouble(), d.get("bbox").get(1).asDouble(),
                d.get("bbox").get(2).asDouble(), d.get("bbox").get(3).asDouble()};
            String[] wh = d.get("image_id").asText().substring("strip-".length()).split("x");
            assertThat(b[0] + b[2]).isLessThanOrEqualTo(Double.parseDouble(wh[0]) + 1e-3);
            assertThat(b[1] + b[3]).isLessThanOrEqualTo(Double.parseDouble(wh[1]) + 1e-3);
        }
        List<String> propose = new ArrayList<>(List.of("propose", "--model", model.toString(), "--top", "5"));
        propose.addAll(files);
        Run p = CliTest.run(propose.toArray(String[]::new));
        assertThat(p.err()).doesNotContain("internal error");
        assertThat(p.code()).isZero();
    }

    @Test
    void detectReportsEachBadImageAndStillWritesTheGoodOnes(@TempDir Path tmp) throws IOException {
        Path model = tinyModel(tmp.resolve("model"));
        Path empty = Files.write(tmp.resolve("empty.jpg"), new byte[0]);
        Path text = Files.writeString(tmp.resolve("notes.jpg"), "a text file");
        Path folder = Files.createDirectory(tmp.resolve("folder.jpg"));
        Path good = RACCOON.resolve("JPEGImages/raccoon-1.jpg");
        Path twin = Files.createDirectories(tmp.resolve("other")).resolve("raccoon-1.jpg");
        Files.copy(good, twin);
        Path json = tmp.resolve("dets.json");
        Run r = CliTest.run("detect", "--model", model.toString(), "--score-thresh", "0", "--json", json.toString(),
                "--out", tmp.resolve("drawn").toString(), empty.toString(), good.toString(), text.toString(),
                folder.toString(), twin.toString());
        assertThat(r.code()).isEqualTo(2);
        List<String> errors = r.err().lines().filter(l -> l.startsWith("frcnn: error:")).toList();
        assertThat(errors).containsExactly(
                "frcnn: error: " + empty + ": empty file (0 bytes), not an image",
                "frcnn: error: " + text + ": not an image: no decoder here recognises its contents (JPEG, PNG, BMP, GIF, WBMP are read)",
                "frcnn: error: " + folder + ": is a folder, not an image file",
                "frcnn: error: 3 of 5 images could not be read (named above); the others were processed");
        JsonNode dets = new ObjectMapper().readTree(json.toFile());
        List<String> ids = new ArrayList<>();
        dets.forEach(d -> ids.add(d.get("image_id").asText()));
        // two inputs named raccoon-1: distinct ids and pictures, neither overwrites the other
        assertThat(ids).contains("raccoon-1", "raccoon-1_2");
        assertThat(tmp.resolve("drawn/raccoon-1.png")).exists();
        assertThat(tmp.resolve("drawn/raccoon-1_2.png")).exists();
    }

    @Test
    void outputsNeverReplaceInputsOrEarlierResultsOrTheUsersFiles(@TempDir Path tmp) throws IOException {
        Path model = tinyModel(tmp.resolve("model"));
        // --json naming the input image: refused, the photo kept
        Path photo = Files.copy(RACCOON.resolve("JPEGImages/raccoon-1.jpg"), tmp.resolve("photo.jpg"));
        byte[] before = Files.readAllBytes(photo);
        Run same = CliTest.run("detect", "--model", model.toString(), "--json", photo.toString(), photo.toString());
        assertThat(same.code()).isEqualTo(2);
        assertThat(same.err()).contains("frcnn: error: --json " + photo + " is also an input image; refusing to replace it");
        assertThat(Files.readAllBytes(photo)).isEqualTo(before);
        // no image read: the earlier results stay
        Path prev = Files.writeString(tmp.resolve("prev.json"), "[{\"earlier\": 1}]");
        Path text = Files.writeString(tmp.resolve("notes.jpg"), "a text file");
        for (String command : List.of("detect", "propose")) {
            Run failed = CliTest.run(command, "--model", model.toString(), "--json", prev.toString(), text.toString());
            assertThat(failed.code()).as(command).isEqualTo(2);
            assertThat(prev).as(command).hasContent("[{\"earlier\": 1}]");
        }
        // a pipe (a device, as /dev/null) is not renamed over
        Path fifo = tmp.resolve("fifo");
        try {
            assertThat(new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor()).isZero();
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
        Run pipe = CliTest.run("detect", "--model", model.toString(), "--json", fifo.toString(), photo.toString());
        assertThat(pipe.code()).isEqualTo(2);
        assertThat(pipe.err()).contains(fifo + ": is not a regular file");
        assertThat(Files.isRegularFile(fifo)).isFalse();
        // an output that cannot be a file is the user's input (exit 2), found before the work, not after it
        Path folder = Files.createDirectories(tmp.resolve("results"));
        Path throughFile = photo.resolve("results.json");
        Map<List<String>, String> unusable = new java.util.LinkedHashMap<>();
        unusable.put(List.of("detect", "--model", model.toString(), "--json", folder.toString(), photo.toString()),
                folder + ": is a folder, not a file");
        unusable.put(List.of("propose", "--model", model.toString(), "--json", throughFile.toString(), photo.toString()),
                throughFile + ": cannot be written (" + photo + " is a file, not a folder)");
        unusable.put(List.of("bench", "--model", model.toString(), "--images", photo.toString(), "--json",
                folder.toString()), folder + ": is a folder, not a file");
        unusable.put(List.of("bench", "--model", model.toString(), "--images", photo.toString(), "--batch-sizes",
                "2,0"), "--batch-sizes (each) must be at least 1, not 0");
        for (Map.Entry<List<String>, String> u : unusable.entrySet()) {
            Run r = CliTest.run(u.getKey().toArray(String[]::new));
            assertThat(r.code()).as(u.getKey().toString()).isEqualTo(2);
            assertThat(r.err().trim()).as(u.getKey().toString()).isEqualTo("frcnn: error: " + u.getValue());
            assertThat(r.out()).as(u.getKey().toString()).doesNotContain("|");
        }
        // a model saved over the user's folder: refused, the folder kept
        Path mine = Files.createDirectories(tmp.resolve("mine"));
        Files.writeString(mine.resolve("thesis.tex"), "years of work");
        Run over = CliTest.run("import-torchvision", "--weights", IMPORT_FIXTURE.toString(), "--arch",
                "fasterrcnn_resnet50_fpn", "--num-classes", "5", "--out", mine.toString());
        assertThat(over.code()).isEqualTo(2);
        assertThat(over.err()).contains(mine + ": holds files that are not a model's (thesis.tex)");
        assertThat(mine.resolve("thesis.tex")).hasContent("years of work");
    }

    @Test
    void everyBrokenModelFolderIsOneLineNamingTheFile(@TempDir Path tmp) throws IOException {
        Path image = RACCOON.resolve("JPEGImages/raccoon-1.jpg");
        Path good = tinyModel(tmp.resolve("good"));
        record Case(String name, String expected) {}
        List<Case> cases = List.of(
                new Case("missing-config", "config.json: missing model configuration"),
                new Case("malformed-config", "config.json: malformed JSON"),
                new Case("unknown-field", "config.json: unknown field 'colour'"),
                new Case("unknown-preset", "config.json: unknown preset 'huge' (presets: paper-zf, paper-vgg16, torchvision, small, tiny, fasterrcnn_resnet50_fpn"),
                new Case("bad-enum", "config.json: field 'backbone.architecture' cannot be RESNET9000"),
                new Case("missing-weights", "weights.safetensors: missing weights file"),
                new Case("truncated-weights", "weights.safetensors: cannot read weights"),
                new Case("foreign-weights", "weights.safetensors: cannot read weights"),
                new Case("wrong-shape", "weights.safetensors: weight 'rpn.head.conv.weight' has shape (32, 32, 3, 3), the model needs (32, 32, 3, 3)"),
                new Case("wrong-dtype", "weights.safetensors: weight 'rpn.head.conv.bias' is float64, not float32"),
                new Case("nan-weights", "weights.safetensors: weight 'rpn.head.conv.bias' holds NaN or infinite values"));
        for (Case c : cases) {
            Path dir = tmp.resolve(c.name());
            copyFolder(good, dir);
            Path config = dir.resolve("config.json");
            Path weights = dir.resolve("weights.safetensors");
            String json = Files.readString(config);
            switch (c.name()) {
                case "missing-config" -> Files.delete(config);
                case "malformed-config" -> Files.writeString(config, json.substring(0, json.length() / 2));
                case "unknown-field" -> Files.writeString(config, json.replaceFirst("\\{", "{\"colour\": \"red\","));
                case "unknown-preset" -> Files.writeString(config, json.replace("\"preset\" : \"tiny\"", "\"preset\" : \"huge\""));
                case "bad-enum" -> Files.writeString(config, json.replace("\"ZF\"", "\"RESNET9000\""));
                case "missing-weights" -> Files.delete(weights);
                case "truncated-weights" -> {
                    byte[] b = Files.readAllBytes(weights);
                    Files.write(weights, java.util.Arrays.copyOf(b, b.length / 2));
                }
                case "foreign-weights" -> Files.copy(image, weights, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                case "wrong-shape" -> rewriteWeight(weights, "rpn.head.conv.weight", a -> a.reshape(32, 32, 9, 1));
                case "wrong-dtype" -> rewriteWeight(weights, "rpn.head.conv.bias", a -> a.toType(DataType.FLOAT64, true));
                case "nan-weights" -> rewriteWeight(weights, "rpn.head.conv.bias", a -> a.mul(Float.NaN));
                default -> throw new AssertionError(c.name());
            }
            Run r = CliTest.run("detect", "--model", dir.toString(), image.toString());
            assertThat(r.code()).as(c.name() + ": " + r.err()).isEqualTo(2);
            String expected = c.name().equals("wrong-shape")
                    ? "weights.safetensors: weight 'rpn.head.conv.weight' has shape (32, 32, 9, 1), the model needs (32, 32, 3, 3)"
                    : c.expected();
            assertThat(r.err().trim()).as(c.name()).doesNotContain("\n").startsWith("frcnn: error: " + dir.resolve(expected.split(": ")[0]))
                    .contains(expected.substring(expected.indexOf(": ") + 2));
        }
        // the doctor loads the whole folder too, not its configuration alone
        Run doctor = CliTest.run("doctor", "--preset", "tiny", "--model", tmp.resolve("nan-weights").toString());
        assertThat(doctor.code()).as(doctor.err()).isEqualTo(2);
        assertThat(doctor.err().trim()).endsWith("weight 'rpn.head.conv.bias' holds NaN or infinite values");
        Run healthy = CliTest.run("doctor", "--preset", "tiny", "--model", good.toString());
        assertThat(healthy.out()).as(healthy.err()).contains("model: " + good + ": configuration and weights load");
    }

    @Test
    void aRunFolderIsNeverMixedWithAnotherRun(@TempDir Path tmp) throws IOException {
        Path out = tmp.resolve("run");
        List<String> first = List.of("train", "--data", RACCOON.toString(), "--train-split", "test", "--preset", "tiny",
                "--iterations", "2", "--checkpoint-every", "1", "--out", out.toString());
        assertThat(CliTest.run(first.toArray(String[]::new)).code()).isZero();
        String log = Files.readString(out.resolve("log.csv"));
        // a fresh run into the folder: refused, the old run untouched
        Run again = CliTest.run("train", "--data", RACCOON.toString(), "--preset", "small", "--iterations", "2",
                "--out", out.toString());
        assertThat(again.code()).isEqualTo(2);
        assertThat(again.err().trim()).isEqualTo("frcnn: error: " + out + ": holds another run (log.csv, checkpoints); "
                + "continue it with --resume, train into another folder, or replace it with --force");
        assertThat(out.resolve("log.csv")).hasContent(log);
        // resuming with another recipe: refused, naming the first difference
        Run otherLr = CliTest.run("train", "--resume", "--out", out.toString(), "--lr", "0.5");
        assertThat(otherLr.code()).isEqualTo(2);
        assertThat(otherLr.err()).contains("differs from these settings in train.solver.baseLr: 0.02 vs 0.5");
        Run otherData = CliTest.run("train", "--resume", "--out", out.toString(), "--train-split", "train");
        assertThat(otherData.code()).isEqualTo(2);
        assertThat(otherData.err()).contains("differs from these settings in dataset.train_split: \"test\" vs \"train\"");
        // resuming with nothing but the folder: its own settings (already finished: nothing to do, same model)
        Run resumed = CliTest.run("train", "--resume", "--out", out.toString());
        assertThat(resumed.code()).as(resumed.err()).isZero();
        // --force replaces the old run
        Run forced = CliTest.run("train", "--data", RACCOON.toString(), "--train-split", "test", "--preset", "tiny",
                "--iterations", "1", "--out", out.toString(), "--force");
        assertThat(forced.code()).as(forced.err()).isZero();
        assertThat(Files.readAllLines(out.resolve("log.csv"))).hasSize(2);
        // a damaged checkpoint record: one line naming it, not a resume from the wrong place
        Path latest = out.resolve("checkpoints/latest.json");
        for (String damage : List.of("", "{\"iteration\":", "{\"iteration\": -5, \"step\": 0, \"folder\": \"x\"}",
                "{\"iteration\": 1, \"step\": 0, \"folder\": \"../../elsewhere\"}")) {
            Files.writeString(latest, damage);
            Run broken = CliTest.run("train", "--resume", "--out", out.toString(), "--iterations", "3", "--force");
            assertThat(broken.code()).as(damage).isEqualTo(2);
            assertThat(broken.err().trim()).as(damage).doesNotContain("\n").startsWith("frcnn: error: " + latest + ": ");
        }
        // the record gone while its checkpoint is there: named, not a silent restart from iteration 0
        Files.delete(latest);
        Run noRecord = CliTest.run("train", "--resume", "--out", out.toString(), "--iterations", "3");
        assertThat(noRecord.code()).isEqualTo(2);
        assertThat(noRecord.err().trim()).doesNotContain("\n").startsWith("frcnn: error: " + latest + ": missing, though ")
                .contains("iter-");
        // a checkpoint whose optimizer state is cut short, or gone: named, not an internal error or a silent restart
        Run whole = CliTest.run("train", "--data", RACCOON.toString(), "--train-split", "test", "--preset", "tiny",
                "--iterations", "1", "--out", out.toString(), "--force");
        assertThat(whole.code()).as(whole.err()).isZero();
        Path optimizer;
        try (var s = Files.list(out.resolve("checkpoints"))) {
            optimizer = s.filter(Files::isDirectory).findFirst().orElseThrow().resolve("optimizer.safetensors");
        }
        byte[] state = Files.readAllBytes(optimizer);
        Files.write(optimizer, java.util.Arrays.copyOf(state, state.length / 2));
        Run cut = CliTest.run("train", "--resume", "--out", out.toString(), "--iterations", "2", "--force");
        assertThat(cut.code()).isEqualTo(2);
        assertThat(cut.err().trim()).doesNotContain("\n").startsWith("frcnn: error: " + optimizer + ": not a readable optimizer state");
        Files.delete(optimizer);
        Run gone = CliTest.run("train", "--resume", "--out", out.toString(), "--iterations", "2", "--force");
        assertThat(gone.code()).isEqualTo(2);
        assertThat(gone.err().trim()).isEqualTo("frcnn: error: " + optimizer + ": missing optimizer state (the checkpoint "
                + "is incomplete; resume from another checkpoint or start again)");
    }

    @Test
    void trainingFlagsNoRunCouldUseAreRefusedBeforeAnythingIsWritten(@TempDir Path tmp) {
        Path out = tmp.resolve("run");
        Map<List<String>, String> cases = new java.util.LinkedHashMap<>();
        cases.put(List.of("--lr", "0"), "--lr must be a positive number, not 0.0");
        cases.put(List.of("--lr", "NaN"), "--lr must be a positive number, not NaN");
        cases.put(List.of("--width-scale", "0"), "--width-scale must be a positive number, not 0.0");
        cases.put(List.of("--min-size", "-10"), "--min-size and --max-size must satisfy 0 < min <= max, not -10 and null");
        cases.put(List.of("--min-size", "200", "--max-size", "100"),
                "--min-size and --max-size must satisfy 0 < min <= max, not 200 and 100");
        cases.put(List.of("--checkpoint-every", "0"), "--checkpoint-every must be at least 1, not 0");
        assertEachRefusedBeforeWriting(List.of("train", "--data", RACCOON.toString(), "--train-split", "test",
                "--preset", "tiny", "--iterations", "1", "--out", out.toString()), cases, out);
        Run demo = CliTest.run("demo", "--iterations", "0", "--out", out.toString());
        assertThat(demo.code()).isEqualTo(2);
        assertThat(demo.err().trim()).isEqualTo("frcnn: error: --iterations must be at least 1, not 0");
    }

    @Test
    void detectionsOfAnImageLeftOutForABrokenAnnotationAreLeftOutToo(@TempDir Path tmp) throws IOException {
        Path voc = tmp.resolve("voc");
        copyFolder(RACCOON, voc);
        copyFolder(RACCOON.resolve("Annotations"), voc.resolve("Annotations"));
        copyFolder(RACCOON.resolve("ImageSets/Main"), voc.resolve("ImageSets/Main"));
        List<String> ids = Files.readAllLines(voc.resolve("ImageSets/Main/test.txt")).stream().limit(3).toList();
        Files.write(voc.resolve("ImageSets/Main/three.txt"), ids);
        Files.writeString(voc.resolve("Annotations/" + ids.get(0) + ".xml"), "<annotation><object>");
        Path dets = Files.createDirectories(tmp.resolve("dets"));
        Files.write(dets.resolve("comp4_det_test_raccoon.txt"), ids.stream().map(id -> id + " 0.9 10 10 50 50").toList());
        Run r = CliTest.run("eval", "--gt", voc.toString(), "--split", "three", "--detections", dets.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.err()).contains("the ground truth has 1 problem,").contains(ids.get(0) + ".xml");
        assertThat(r.out()).containsPattern("raccoon +0\\.\\d+ +\\d+ +2\\b");
        // proposal recall measured on the same ground truth says so too
        Files.createDirectories(voc.resolve("JPEGImages"));
        for (String id : ids) {
            Files.copy(RACCOON.resolve("JPEGImages/" + id + ".jpg"), voc.resolve("JPEGImages/" + id + ".jpg"));
        }
        Run recall = CliTest.run("proposals-eval", "--model", tinyModel(tmp.resolve("model")).toString(), "--data",
                voc.toString(), "--split", "three", "--methods", "rpn", "--out", tmp.resolve("recall").toString());
        assertThat(recall.code()).as(recall.err()).isZero();
        assertThat(recall.err()).contains("the ground truth has 1 problem,").contains(ids.get(0) + ".xml");
        // an image that is in no annotation at all is still the detections' mistake
        Files.write(dets.resolve("comp4_det_test_raccoon.txt"), List.of("nowhere 0.9 10 10 50 50"));
        Run unknown = CliTest.run("eval", "--gt", voc.toString(), "--split", "three", "--detections", dets.toString());
        assertThat(unknown.code()).isEqualTo(2);
        assertThat(unknown.err()).contains("image id 'nowhere' is not in the ground truth");
    }

    @Test
    void evalRefusesDetectionsThatAreNoBoxesNamingTheEntry(@TempDir Path tmp) throws IOException {
        Path toy = ROOT.resolve("datasets/eval-golden/review-toyexample");
        Path json = tmp.resolve("dets.json");
        Files.writeString(json, "[{\"image_id\": \"2007_000549\", \"category_id\": 1, \"bbox\": [12, 44, -5, 100], \"score\": 0.9}]");
        Run coco = CliTest.run("eval", "--gt", toy.toString(), "--detections", json.toString());
        assertThat(coco.code()).isEqualTo(2);
        assertThat(coco.err().trim()).isEqualTo("frcnn: error: " + json
                + ": result 0 (image_id 2007_000549): bbox [12.0, 44.0, -5.0, 100.0] has a negative width or height");
        Path dir = Files.createDirectories(tmp.resolve("results"));
        Path voc = Files.write(dir.resolve("comp4_det_test_cat.txt"), List.of("2007_000549 0.9 344 44 12 481"));
        Run inverted = CliTest.run("eval", "--gt", toy.toString(), "--detections", dir.toString());
        assertThat(inverted.code()).isEqualTo(2);
        assertThat(inverted.err().trim()).isEqualTo("frcnn: error: " + voc
                + ": line 1 (image '2007_000549'): box [344, 44, 12, 481] is inverted (x2 < x1 or y2 < y1)");
    }

    @Test
    void importFlagsNoModelCouldRunWithAreRefusedBeforeTheImport(@TempDir Path tmp) throws IOException {
        Path out = tmp.resolve("m");
        Path twice = Files.write(tmp.resolve("classes.txt"), List.of("a", "b", "c", "a"));
        Map<List<String>, String> cases = new java.util.LinkedHashMap<>();
        cases.put(List.of("--box-nms-thresh", "5"), "--box-nms-thresh must be between 0 and 1, not 5.0");
        cases.put(List.of("--rpn-nms-thresh", "NaN"), "--rpn-nms-thresh must be between 0 and 1, not NaN");
        cases.put(List.of("--box-score-thresh", "-2"), "--box-score-thresh must be between 0 and 1, not -2.0");
        cases.put(List.of("--box-detections-per-img", "-1"), "--box-detections-per-img must be at least 1, not -1");
        cases.put(List.of("--bn-eps", "-1"), "--bn-eps must be a positive number, not -1.0");
        cases.put(List.of("--classes", twice.toString()), twice + ": class name 'a' appears twice");
        assertEachRefusedBeforeWriting(List.of("import-torchvision", "--weights", IMPORT_FIXTURE.toString(), "--arch",
                "fasterrcnn_resnet50_fpn", "--num-classes", "5", "--out", out.toString()), cases, out);
    }

    @Test
    void aRunThatFailedBeforeItsFirstIterationDoesNotBlockTheNext(@TempDir Path tmp) throws IOException {
        Path out = tmp.resolve("run");
        Run bad = CliTest.run("train", "--data", RACCOON.toString(), "--train-split", "test", "--preset", "tiny",
                "--iterations", "1", "--images-per-iteration", "0", "--out", out.toString());
        assertThat(bad.code()).isEqualTo(2);
        assertThat(bad.err().trim()).isEqualTo("frcnn: error: --images-per-iteration must be at least 1, not 0");
        Path empty = tmp.resolve("voc");
        copyFolder(RACCOON, empty);
        copyFolder(RACCOON.resolve("Annotations"), empty.resolve("Annotations"));
        copyFolder(RACCOON.resolve("ImageSets/Main"), empty.resolve("ImageSets/Main"));
        Files.writeString(empty.resolve("ImageSets/Main/none.txt"), "");
        Run noImages = CliTest.run("train", "--data", empty.toString(), "--train-split", "none", "--preset", "tiny",
                "--iterations", "1", "--out", out.toString());
        assertThat(noImages.code()).isEqualTo(2);
        Run retry = CliTest.run("train", "--data", RACCOON.toString(), "--train-split", "test", "--preset", "tiny",
                "--iterations", "1", "--out", out.toString());
        assertThat(retry.code()).as(retry.err()).isZero();
        assertThat(Files.readAllLines(out.resolve("log.csv"))).hasSize(2);
    }

    @Test
    void numbersAreWrittenTheSameInEveryLocale() throws IOException {
        Path toy = ROOT.resolve("datasets/eval-golden/review-toyexample");
        Locale before = Locale.getDefault();
        try {
            Locale.setDefault(Locale.GERMANY);
            Run table = CliTest.run("eval", "--gt", toy.toString(), "--detections", toy.resolve("results").toString(),
                    "--metric", "voc", "--iou", "0.75");
            assertThat(table.out()).contains("0.5097").doesNotContain("0,5097");
            Run json = CliTest.run("eval", "--gt", toy.toString(), "--detections", toy.resolve("results").toString(),
                    "--metric", "voc", "--iou", "0.75", "--json");
            assertThat(new ObjectMapper().readTree(json.out()).get("mAP").asDouble()).isEqualTo(0.5097, org.assertj.core.api.Assertions.within(5e-5));
        } finally {
            Locale.setDefault(before);
        }
    }

    @Test
    void errorsSayWhoseFaultTheyAre() {
        java.io.StringWriter w = new java.io.StringWriter();
        int bad = Main.report(new org.frcnn4j.io.BadInputException("x.json: not a thing"), new java.io.PrintWriter(w, true), false);
        int io = Main.report(new java.nio.file.AccessDeniedException("/root/out.json"), new java.io.PrintWriter(w, true), false);
        int bug = Main.report(new IllegalStateException("an invariant broke"), new java.io.PrintWriter(w, true), false);
        List<String> lines = w.toString().lines().toList();
        assertThat(bad).isEqualTo(2);
        assertThat(io).isEqualTo(1);
        assertThat(bug).isEqualTo(1);
        assertThat(lines.get(0)).isEqualTo("frcnn: error: x.json: not a thing");
        assertThat(lines.get(1)).isEqualTo("frcnn: error: /root/out.json: permission denied");
        assertThat(lines.get(2)).startsWith("frcnn: internal error: java.lang.IllegalStateException: an invariant broke "
                + "(a defect of frcnn4j; details in ").endsWith(", or run with --verbose)");
        Path trace = Path.of(lines.get(2).replaceAll(".*details in (\\S+), or run.*", "$1"));
        assertThat(trace).exists().content().contains("IllegalStateException: an invariant broke").contains("\tat ");
    }

    /** {@code command} with each case's flags added: exit 2, exactly the case's one line, and {@code out} not made. */
    private static void assertEachRefusedBeforeWriting(List<String> command, Map<List<String>, String> cases, Path out) {
        for (Map.Entry<List<String>, String> c : cases.entrySet()) {
            List<String> args = new ArrayList<>(command);
            args.addAll(c.getKey());
            Run r = CliTest.run(args.toArray(String[]::new));
            assertThat(r.code()).as(c.getKey().toString()).isEqualTo(2);
            assertThat(r.err().trim()).as(c.getKey().toString()).isEqualTo("frcnn: error: " + c.getValue());
            assertThat(out).as(c.getKey().toString()).doesNotExist();
        }
    }

    /** A random-weight model of the tiny preset, saved to {@code dir}. */
    static Path tinyModel(Path dir) throws IOException {
        try (NDManager m = NDManager.newBaseManager();
             FasterRcnn model = FasterRcnn.create(Presets.TINY.config(List.of("raccoon")), m, 3)) {
            ModelFiles.save(model, dir);
        }
        return dir;
    }

    static void copyFolder(Path from, Path to) throws IOException {
        Files.createDirectories(to);
        try (var s = Files.list(from)) {
            for (Path f : s.toList()) {
                Files.copy(f, to.resolve(f.getFileName()));
            }
        }
    }

    private static void rewriteWeight(Path file, String name, java.util.function.UnaryOperator<NDArray> change) throws IOException {
        try (NDManager m = NDManager.newBaseManager()) {
            NDList list;
            try (InputStream in = Files.newInputStream(file)) {
                list = NDList.decode(m, in);
            }
            NDList out = new NDList();
            for (NDArray a : list) {
                NDArray b = a.getName().equals(name) ? change.apply(a) : a;
                b.setName(a.getName());
                out.add(b);
            }
            try (OutputStream o = Files.newOutputStream(file)) {
                out.encode(o, NDList.Encoding.SAFETENSORS);
            }
        }
    }
}
