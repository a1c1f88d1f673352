package org.frcnn4j.spark;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDManager;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.frcnn4j.data.Annotation;
import org.frcnn4j.data.Dataset;
import org.frcnn4j.data.Detection;
import org.frcnn4j.eval.DetectionFiles;
import org.frcnn4j.eval.VocEvaluator;
import org.frcnn4j.model.DatasetDetection;
import org.frcnn4j.model.Detector;
import org.frcnn4j.model.FasterRcnn;
import org.frcnn4j.model.ModelFiles;
import org.frcnn4j.model.Presets;
import org.frcnn4j.model.TorchvisionImport;
import org.frcnn4j.roi.RoiConfig.RoiOp;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code spark-detect} with {@code local[2]} on the 40 raccoon test images and one truncated JPEG: per image the
 * detections {@link Detector#detect} gives, an error row for the broken file and a job that succeeds, Parquet and
 * COCO JSON read back, the COCO JSON scoring the mAP that the model gets evaluated directly, the same table again on
 * a re-run.
 */
class SparkDetectionTest {
    private static final Path ROOT = Path.of("").toAbsolutePath().getParent();
    private static final Path RACCOON = ROOT.resolve("datasets/raccoon");
    private static final Path FIXTURES = ROOT.resolve("core/src/test/resources/fixtures/torchvision");

    @Test
    void detectsLikeTheDetectorAndSurvivesABrokenImage(@TempDir Path tmp) throws Exception {
        // torchvision's VGG-16 fixture (spread scores): a random tiny model's GroupNorm blows rounding up into other
        // detections between thread counts, trained or imported weights do not
        Path model = tmp.resolve("model");
        TorchvisionImport.Options tv = TorchvisionImport.Options.defaults(TorchvisionImport.Arch.VGG16, RoiOp.ALIGN, 4);
        TorchvisionImport.Options o = new TorchvisionImport.Options(tv.arch(), tv.roiOp(), 4, 224, 352,
                tv.rpnPreNmsTopNTest(), tv.rpnPostNmsTopNTest(), tv.rpnNmsThresh(), tv.rpnScoreThresh(), 0.05f,
                tv.boxNmsThresh(), tv.boxDetectionsPerImg(), tv.widthMult(), tv.bnEps());
        try (NDManager m = NDManager.newBaseManager();
             FasterRcnn net = TorchvisionImport.importWeights(FIXTURES.resolve("vgg16-align/state_dict.npz"), o, m)) {
            ModelFiles.save(new FasterRcnn(net.config().withClasses(List.of("raccoon", "b", "c")), net.parameters()),
                    model);
        }
        Dataset test = Dataset.open(RACCOON, "test", null);
        Path images = Files.createDirectories(tmp.resolve("images/nested"));
        for (Annotation a : test.images()) {
            Files.copy(a.imageFile(), images.resolve(a.imageFile().getFileName()));
        }
        byte[] whole = Files.readAllBytes(test.images().get(0).imageFile());
        Files.write(images.resolve("broken.jpg"), java.util.Arrays.copyOf(whole, whole.length / 4));
        Files.writeString(images.resolve("notes.txt"), "not an image, not picked up by the glob");

        Path out = tmp.resolve("detections.parquet");
        Path json = tmp.resolve("detections.json");
        String[] args = {"--model", model.toString(), "--images", tmp.resolve("images").toString(), "--out",
            out.toString(), "--master", "local[2]", "--partitions", "3", "--coco-json", json.toString()};
        assertThat(SparkDetectCommand.execute(args)).isZero();

        // the same detections as the Detector, image by image
        Map<String, List<String>> expected = new HashMap<>();
        try (Detector d = Detector.load(model)) {
            for (Annotation a : test.images()) {
                List<String> rows = new ArrayList<>();
                for (Detector.DetectedBox b : d.detect(a.imageFile())) {
                    rows.add(b.label() + " " + b.score() + " " + b.x1() + " " + b.y1() + " " + b.x2() + " " + b.y2());
                }
                expected.put(a.imageId(), rows);
            }
        }
        List<Row> first;
        try (SparkSession spark = SparkSession.builder().master("local[1]").config("spark.ui.enabled", "false")
                .getOrCreate()) {
            org.apache.spark.sql.Dataset<Row> table = spark.read().parquet(out.toString());
            first = table.orderBy("path", "rank").collectAsList();
            Map<String, List<String>> found = new HashMap<>();
            for (Row r : table.filter(functions.col("error").isNull()).orderBy("path", "rank").collectAsList()) {
                List<String> rows = found.computeIfAbsent(r.getAs("image_id"), k -> new ArrayList<>());
                if (r.getAs("category_id") != null) {
                    rows.add(r.<Integer>getAs("category_id") + " " + r.<Float>getAs("score") + " " + r.<Float>getAs("x1")
                            + " " + r.<Float>getAs("y1") + " " + r.<Float>getAs("x2") + " " + r.<Float>getAs("y2"));
                }
            }
            assertThat(found).isEqualTo(expected);
            assertThat(expected.values().stream().mapToInt(List::size).sum()).isPositive();
            List<Row> errors = table.filter(functions.col("error").isNotNull()).collectAsList();
            assertThat(errors).hasSize(1);
            assertThat(errors.get(0).<String>getAs("image_id")).isEqualTo("broken");
            assertThat(errors.get(0).<String>getAs("error")).contains("broken.jpg").contains("truncated");
            Row one = table.filter(functions.col("image_id").equalTo("raccoon-105")).first();
            assertThat(one.<Integer>getAs("width")).isEqualTo(720);
        }

        // the COCO JSON scores as the model does when evaluated directly (frcnn eval against frcnn eval --model),
        // against the test split read with the model's three class names
        test = Dataset.open(RACCOON, "test", List.of("raccoon", "b", "c"));
        List<Detection> fromJson = DetectionFiles.readCocoResults(json, test);
        List<Detection> direct;
        try (NDManager m = NDManager.newBaseManager(); FasterRcnn net = ModelFiles.load(model, m)) {
            direct = DatasetDetection.detectAll(net, test, null);
        }
        assertThat(fromJson).hasSameSizeAs(direct);
        assertThat(VocEvaluator.evaluate(test, fromJson, VocEvaluator.Options.voc07()).mAP())
                .isEqualTo(VocEvaluator.evaluate(test, direct, VocEvaluator.Options.voc07()).mAP());

        // a re-run writes the same table
        assertThat(SparkDetectCommand.execute(args)).isZero();
        try (SparkSession spark = SparkSession.builder().master("local[1]").config("spark.ui.enabled", "false")
                .getOrCreate()) {
            assertThat(spark.read().parquet(out.toString()).orderBy("path", "rank").collectAsList()).isEqualTo(first);
        }
    }

    @Test
    void aTableOfPathsAndBadArgumentsAreOneLine(@TempDir Path tmp) throws Exception {
        assertThat(SparkDetectCommand.execute("--model", tmp.resolve("none").toString(), "--images", tmp.toString(),
                "--out", tmp.resolve("o.parquet").toString(), "--master", "local[1]")).isEqualTo(2);
        Path csv = tmp.resolve("list.csv");
        Files.writeString(csv, "file\nx.jpg\n");
        Path model = tmp.resolve("model");
        try (NDManager m = NDManager.newBaseManager();
             FasterRcnn net = FasterRcnn.create(Presets.TINY.config(List.of("raccoon")), m, 5)) {
            ModelFiles.save(net, model);
        }
        assertThat(SparkDetectCommand.execute("--model", model.toString(), "--images", csv.toString(), "--out",
                tmp.resolve("o.parquet").toString(), "--master", "local[1]")).isEqualTo(2);
        // a CSV with a path column: its images; two files of one name get frcnn detect's ids (x, x_2); a listed file
        // that is missing is its own error row, and the job goes on
        Path a = Files.createDirectories(tmp.resolve("a"));
        Path b = Files.createDirectories(tmp.resolve("b"));
        Files.copy(RACCOON.resolve("JPEGImages/raccoon-146.jpg"), a.resolve("raccoon-146.jpg"));
        Files.copy(RACCOON.resolve("JPEGImages/raccoon-57.jpg"), b.resolve("raccoon-146.jpg"));
        Files.writeString(csv, "path\n" + a.resolve("raccoon-146.jpg") + "\n" + b.resolve("raccoon-146.jpg") + "\n"
                + tmp.resolve("gone[1].jpg") + "\n");
        assertThat(SparkDetectCommand.execute("--model", model.toString(), "--images", csv.toString(), "--out",
                tmp.resolve("o.parquet").toString(), "--master", "local[1]")).isZero();
        try (SparkSession spark = SparkSession.builder().master("local[1]").config("spark.ui.enabled", "false")
                .getOrCreate()) {
            org.apache.spark.sql.Dataset<Row> t = spark.read().parquet(tmp.resolve("o.parquet").toString());
            assertThat(t.filter(functions.col("error").isNull()).select("image_id", "path").distinct()
                    .orderBy("image_id").collectAsList().stream().map(r -> r.getString(0) + " " + r.getString(1)).toList())
                    .containsExactly("raccoon-146 " + a.resolve("raccoon-146.jpg").toUri().getPath().replaceAll("/$", ""),
                            "raccoon-146_2 " + b.resolve("raccoon-146.jpg").toUri().getPath().replaceAll("/$", ""));
            List<Row> errors = t.filter(functions.col("error").isNotNull()).collectAsList();
            assertThat(errors).hasSize(1);
            assertThat(errors.get(0).<String>getAs("error")).contains("gone[1].jpg").contains("missing");
        }
    }

    /**
     * A broken model, a missing input or an output that is not a table: one line naming the user's path, exit 2, and
     * the earlier table (or the user's file) untouched, as Spark's own overwrite would not leave it.
     */
    @Test
    void refusalsAreOneLineAndLeaveTheEarlierTable(@TempDir Path tmp) throws Exception {
        Path model = tmp.resolve("model");
        try (NDManager m = NDManager.newBaseManager();
             FasterRcnn net = FasterRcnn.create(Presets.TINY.config(List.of("raccoon")), m, 5)) {
            ModelFiles.save(net, model);
        }
        Path images = Files.createDirectories(tmp.resolve("images"));
        Files.copy(RACCOON.resolve("JPEGImages/raccoon-146.jpg"), images.resolve("raccoon-146.jpg"));
        Path out = tmp.resolve("o.parquet");
        String[] args = {"--model", model.toString(), "--images", images.toString(), "--out", out.toString(),
            "--master", "local[1]"};
        assertThat(SparkDetectCommand.execute(args)).isZero();
        Map<String, String> table = contents(out);

        Path config = model.resolve("config.json");
        Files.writeString(config, Files.readString(config).replaceFirst("\"detectionsPerImage\" *: *100",
                "\"detectionsPerImage\":-1"));
        assertThat(errorLine(args)).startsWith("frcnn: error: " + config
                + ": head.detectionsPerImage must be at least 1, not -1");
        assertThat(contents(out)).isEqualTo(table);
        Files.delete(config);
        Files.delete(model.resolve("weights.safetensors"));
        try (NDManager m = NDManager.newBaseManager();
             FasterRcnn net = FasterRcnn.create(Presets.TINY.config(List.of("raccoon")), m, 5)) {
            ModelFiles.save(net, model);
        }

        String[] missing = args.clone();
        missing[3] = tmp.resolve("nowhere").toString();
        assertThat(errorLine(missing)).startsWith("frcnn: error: " + missing[3] + ": ").contains("does not exist");
        String[] empty = args.clone();
        empty[3] = Files.createDirectories(tmp.resolve("empty")).toString();
        assertThat(errorLine(empty)).startsWith("frcnn: error: " + empty[3] + ": no images there");

        Path file = Files.writeString(tmp.resolve("notes.txt"), "notes");
        String[] onFile = args.clone();
        onFile[5] = file.toString();
        assertThat(errorLine(onFile)).isEqualTo("frcnn: error: " + file
                + ": exists and is not a folder; refusing to replace it with the Parquet table");
        assertThat(file).hasContent("notes");
        Path folder = Files.createDirectories(tmp.resolve("thesis"));
        Files.writeString(folder.resolve("thesis.tex"), "years of work");
        String[] onFolder = args.clone();
        onFolder[5] = folder.toString();
        assertThat(errorLine(onFolder)).startsWith("frcnn: error: " + folder + ": holds files that are not a Parquet "
                + "table's (thesis.tex)");
        assertThat(folder.resolve("thesis.tex")).hasContent("years of work");

        String[] flags = java.util.Arrays.copyOf(args, args.length + 2);
        flags[args.length] = "--partitions";
        flags[args.length + 1] = "-1";
        assertThat(errorLine(flags)).isEqualTo("frcnn: error: --partitions must be at least 0, not -1");
        flags[args.length] = "--bogus";
        assertThat(errorLine(flags)).startsWith("frcnn: error: Unknown option").endsWith("(see 'frcnn spark-detect --help')");
        assertThat(contents(out)).isEqualTo(table);

        // the earlier table is replaced by a run that succeeds, and no hidden leftovers stay beside it
        assertThat(SparkDetectCommand.execute(args)).isZero();
        assertThat(contents(out).keySet()).anyMatch(n -> n.endsWith(".parquet"));
        try (java.util.stream.Stream<Path> s = Files.list(tmp)) {
            assertThat(s.map(p -> p.getFileName().toString())).noneMatch(n -> n.startsWith(".o.parquet"));
        }
    }

    /** The one line the command prints on standard error for {@code args}, which it must refuse with exit code 2. */
    private static String errorLine(String... args) {
        java.io.PrintStream err = System.err;
        java.io.ByteArrayOutputStream buffer = new java.io.ByteArrayOutputStream();
        int code;
        System.setErr(new java.io.PrintStream(buffer, true, java.nio.charset.StandardCharsets.UTF_8));
        try {
            code = SparkDetectCommand.execute(args);
        } finally {
            System.setErr(err);
        }
        List<String> lines = buffer.toString(java.nio.charset.StandardCharsets.UTF_8).lines().toList();
        assertThat(code).as(String.join("\n", lines)).isEqualTo(2);
        assertThat(lines).hasSize(1);
        return lines.get(0);
    }

    private static Map<String, String> contents(Path dir) throws java.io.IOException {
        Map<String, String> files = new java.util.TreeMap<>();
        try (java.util.stream.Stream<Path> s = Files.list(dir)) {
            for (Path f : s.toList()) {
                files.put(f.getFileName().toString(),
                        new String(Files.readAllBytes(f), java.nio.charset.StandardCharsets.ISO_8859_1));
            }
        }
        return files;
    }
}
