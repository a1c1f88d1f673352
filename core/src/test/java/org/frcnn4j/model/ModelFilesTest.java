package org.frcnn4j.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.inference.Predictor;
import ai.djl.modality.cv.Image;
import ai.djl.modality.cv.ImageFactory;
import ai.djl.modality.cv.output.DetectedObjects;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.frcnn4j.backbone.BackboneConfig;
import org.frcnn4j.backbone.BackboneConfig.Architecture;
import org.frcnn4j.data.Images;
import org.frcnn4j.head.DetectionPostprocessor;
import org.frcnn4j.head.HeadConfig;
import org.frcnn4j.testing.SharedData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelFilesTest {
    private static final Path IMAGE = SharedData.repoRoot().resolve("datasets/raccoon/JPEGImages/raccoon-17.jpg");

    @Test
    void saveThenLoadGivesIdenticalOutputs(@TempDir Path tmp) throws IOException {
        BufferedImage img = Images.readRgb(IMAGE);
        try (NDManager m = NDManager.newBaseManager()) {
            for (Presets preset : new Presets[] {Presets.TINY, Presets.PAPER_ZF}) {
                FasterRcnnConfig config = preset.config(List.of("raccoon", "dog"));
                if (preset == Presets.PAPER_ZF) { // a narrow paper-style ZF keeps the test fast
                    config = config.with(new BackboneConfig(Architecture.ZF, 0.125, true, false))
                            .with(config.head().withNumClasses(3)).with(config.transform().withSizes(160, 240));
                    config = config.with(new HeadConfig(3, 32, true, config.head().boxWeights(), 0.0f, 0.3f, 100, 0f));
                }
                Path dir = tmp.resolve(preset.id());
                try (FasterRcnn model = FasterRcnn.create(config, m, 5)) {
                    DetectionPostprocessor.Result before = model.detect(img);
                    ModelFiles.save(model, dir);
                    try (FasterRcnn loaded = ModelFiles.load(dir, m)) {
                        DetectionPostprocessor.Result after = loaded.detect(img);
                        assertThat(loaded.config().classNames()).containsExactly("raccoon", "dog");
                        assertThat(after.boxes()).containsExactly(before.boxes());
                        assertThat(after.scores()).containsExactly(before.scores());
                        assertThat(after.labels()).containsExactly(before.labels());
                        assertThat(before.count()).isPositive();
                    }
                }
                try (var files = Files.list(dir)) {
                    assertThat(files.map(p -> p.getFileName().toString()))
                            .containsExactlyInAnyOrder("config.json", "weights.safetensors"); // no temp files left
                }
            }
        }
    }

    @Test
    void initialiseKeepsTheSharedWeightsAndRedrawsTheClassLayersForOtherClasses(@TempDir Path tmp) throws IOException {
        try (NDManager m = NDManager.newBaseManager()) {
            FasterRcnnConfig two = Presets.TINY.config(List.of("raccoon", "dog"));
            try (FasterRcnn source = FasterRcnn.create(two, m, 5)) {
                ModelFiles.save(source, tmp);
                Map<String, NDArray> w = source.parameters().all();
                try (FasterRcnn same = ModelFiles.initialise(tmp, two, m, 9)) {
                    same.parameters().all().forEach((name, a) ->
                            assertThat(a.toFloatArray()).as(name).containsExactly(w.get(name).toFloatArray()));
                }
                FasterRcnnConfig three = two.withClasses(List.of("a", "b", "c"));
                try (FasterRcnn other = ModelFiles.initialise(tmp, three, m, 9)) {
                    other.parameters().all().forEach((name, a) -> {
                        if (name.startsWith(ModelFiles.PREDICTOR)) {
                            assertThat(a.getShape().get(0)).as(name).isEqualTo(name.contains("cls_score") ? 4 : 16);
                        } else {
                            assertThat(a.toFloatArray()).as(name).containsExactly(w.get(name).toFloatArray());
                        }
                    });
                }
                FasterRcnnConfig wider = two.with(new BackboneConfig(two.backbone().architecture(),
                        two.backbone().widthScale() * 2, two.backbone().ceilMode(), two.backbone().groupNorm()));
                assertThatThrownBy(() -> ModelFiles.initialise(tmp, wider, m, 9))
                        .isInstanceOf(ModelFiles.ModelException.class).hasMessageContaining("weights.safetensors")
                        .hasMessageContaining("has shape");
            }
        }
    }

    @Test
    void mismatchedWeightsAreNamed(@TempDir Path tmp) throws IOException {
        try (NDManager m = NDManager.newBaseManager()) {
            FasterRcnnConfig tiny = Presets.TINY.config(List.of("a"));
            try (FasterRcnn model = FasterRcnn.create(tiny, m, 1)) {
                ModelFiles.save(model, tmp);
            }
            // the same weights under a config with another class count
            String original = Files.readString(tmp.resolve("config.json"));
            String json = original.replace("\"numClasses\" : 2", "\"numClasses\" : 3");
            Files.writeString(tmp.resolve("config.json"), json);
            assertThatThrownBy(() -> ModelFiles.load(tmp, m)).hasMessage(tmp.resolve("config.json")
                    + ": head.numClasses is 3 but there are 1 class names (plus background)");
            json = json.replaceAll("\"classNames\" : \\[ \"a\" \\]", "\"classNames\" : [ \"a\", \"b\" ]")
                    .replaceAll("\"categoryIds\" : \\[ 1 \\]", "\"categoryIds\" : [ 1, 2 ]");
            Files.writeString(tmp.resolve("config.json"), json);
            assertThatThrownBy(() -> ModelFiles.load(tmp, m)).hasMessageContaining("weights.safetensors")
                    .hasMessageContaining("roi_heads.box_predictor.cls_score.weight").hasMessageContaining("shape");
            Files.delete(tmp.resolve("weights.safetensors"));
            assertThatThrownBy(() -> ModelFiles.load(tmp, m)).hasMessageContaining("missing weights file");
        }
    }

    @Test
    void savingRefusesToReplaceAFolderThatIsNotAModelsOrAFile(@TempDir Path tmp) throws Exception {
        try (NDManager m = NDManager.newBaseManager();
             FasterRcnn model = FasterRcnn.create(Presets.TINY.config(List.of("raccoon")), m, 3)) {
            // the user's folder, given as --out by mistake: kept as it is
            Path mine = Files.createDirectories(tmp.resolve("thesis"));
            Files.writeString(mine.resolve("thesis.tex"), "years of work");
            assertThatThrownBy(() -> ModelFiles.save(model, mine)).hasMessage(mine + ": holds files that are not a "
                    + "model's (thesis.tex); refusing to replace it: give a new or empty folder, or a model folder");
            assertThat(mine.resolve("thesis.tex")).hasContent("years of work");
            Path file = Files.writeString(tmp.resolve("notes.txt"), "notes");
            assertThatThrownBy(() -> ModelFiles.save(model, file))
                    .hasMessageContaining("exists and is not a folder; refusing to replace it");
            assertThat(file).hasContent("notes");
            // a model folder (and an empty one) is replaced as before
            Path dir = tmp.resolve("model");
            ModelFiles.save(model, dir);
            ModelFiles.save(model, dir);
            assertThat(Files.list(dir).map(p -> p.getFileName().toString()).sorted().toList())
                    .containsExactly("config.json", "weights.safetensors");
            ModelFiles.save(model, Files.createDirectories(tmp.resolve("empty")));
        }
    }

    @Test
    void aConfigurationsOwnChecksSpeakInOneLine(@TempDir Path tmp) throws Exception {
        Path config = savedTinyModel(tmp).resolve("config.json");
        Files.writeString(config, Files.readString(config).replaceFirst("\"detectionsPerImage\" *: *100", "\"detectionsPerImage\":-1"));
        assertThatThrownBy(() -> ModelFiles.readConfig(config))
                .hasMessageStartingWith(config + ": head.detectionsPerImage must be at least 1, not -1")
                .hasMessageNotContaining("Cannot construct").hasMessageNotContaining("\n");
        Files.writeString(config, "");
        assertThatThrownBy(() -> ModelFiles.readConfig(config))
                .hasMessage(config + ": empty file, not a model configuration");
        Files.writeString(config, "[]");
        assertThatThrownBy(() -> ModelFiles.readConfig(config))
                .hasMessageStartingWith(config + ": not a model configuration (a JSON object is expected)");
    }

    /** A random-weight model of the tiny preset saved to {@code dir}. */
    private static Path savedTinyModel(Path dir) throws IOException {
        try (NDManager m = NDManager.newBaseManager();
             FasterRcnn model = FasterRcnn.create(Presets.TINY.config(List.of("raccoon")), m, 3)) {
            ModelFiles.save(model, dir);
        }
        return dir;
    }

    /** Each section checks its own values, so a hand-edited config.json fails on loading with the setting named. */
    @Test
    void outOfRangeSettingsOfEverySectionAreNamed(@TempDir Path tmp) throws Exception {
        Path config = savedTinyModel(tmp).resolve("config.json");
        com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
        String saved = Files.readString(config);
        // each row: the edit (a section's field = a JSON value) | the refusal's message
        String refusals = """
                transform.minSize=0 | transform.minSize must be at least 1, not 0
                transform.std=[0.229,0,0.225] | transform.std (each) must be a positive number, not 0.0
                transform.mean=[0.5] | transform.mean must list 3 values, not 1
                anchors.stride=0 | anchors.stride must be at least 1, not 0
                anchors.ratios=[] | anchors.ratios must list at least one value
                anchors.sizes=[32,-64] | anchors.sizes (each) must be a positive number, not -64.0
                rpn.nmsThreshold="NaN" | rpn.nmsThreshold must be between 0 and 1, not NaN
                rpn.postNmsTopNTest=0 | rpn.postNmsTopNTest must be at least 1, not 0
                rpn.objectness=null | rpn.objectness is missing
                roi.outputSize=0 | roi.outputSize must be at least 1, not 0
                backbone.widthScale=0 | backbone.widthScale must be a positive number, not 0.0
                head.boxWeights=[10,10,5] | head.boxWeights must list 4 values, not 3
                head.numClasses=0 | head.numClasses (the K classes and the background) must be at least 1, not 0
                """;
        for (String row : refusals.strip().lines().toList()) {
            String[] r = row.strip().split(" \\| ", 2);
            String[] edit = r[0].split("=", 2);
            String[] path = edit[0].split("\\.");
            com.fasterxml.jackson.databind.node.ObjectNode root =
                    (com.fasterxml.jackson.databind.node.ObjectNode) json.readTree(saved);
            ((com.fasterxml.jackson.databind.node.ObjectNode) root.get(path[0])).set(path[1], json.readTree(edit[1]));
            Files.writeString(config, json.writeValueAsString(root));
            assertThatThrownBy(() -> ModelFiles.readConfig(config)).as(r[0])
                    .hasMessageStartingWith(config + ": " + r[1]).hasMessageNotContaining("\n");
        }
    }

    /** A run that diverged leaves NaN weights: refused on loading, naming one, rather than a model finding nothing. */
    @Test
    void nonFiniteWeightsAreRefused(@TempDir Path tmp) throws Exception {
        try (NDManager m = NDManager.newBaseManager()) {
            Path weights = savedTinyModel(tmp).resolve("weights.safetensors");
            ai.djl.ndarray.NDList arrays;
            try (java.io.InputStream in = Files.newInputStream(weights)) {
                arrays = ai.djl.ndarray.NDList.decode(m, in);
            }
            ai.djl.ndarray.NDList poisoned = new ai.djl.ndarray.NDList();
            for (NDArray a : arrays) {
                NDArray b = a.getName().startsWith("rpn.head.cls_logits.weight") ? a.mul(Float.NaN) : a;
                b.setName(a.getName());
                poisoned.add(b);
            }
            try (java.io.OutputStream out = Files.newOutputStream(weights)) {
                poisoned.encode(out, ai.djl.ndarray.NDList.Encoding.SAFETENSORS);
            }
            assertThatThrownBy(() -> ModelFiles.load(tmp, m))
                    .hasMessage(weights + ": weight 'rpn.head.cls_logits.weight' holds NaN or infinite values");
        }
    }

    @Test
    void djlPredictorGivesTheDetectorsResults(@TempDir Path tmp) throws Exception {
        try (NDManager m = NDManager.newBaseManager();
             FasterRcnn model = FasterRcnn.create(Presets.TINY.config(List.of("raccoon")), m, 3)) {
            ModelFiles.save(model, tmp);
        }
        try (Detector detector = Detector.load(tmp);
             Predictor<Image, DetectedObjects> predictor = detector.newPredictor()) {
            List<Detector.DetectedBox> direct = detector.detect(IMAGE);
            Image image = ImageFactory.getInstance().fromFile(IMAGE);
            DetectedObjects viaDjl = predictor.predict(image);
            assertThat(viaDjl.getNumberOfObjects()).isEqualTo(direct.size()).isPositive();
            DetectedObjects.DetectedObject first = viaDjl.item(0);
            assertThat(first.getClassName()).isEqualTo("raccoon");
            assertThat(first.getProbability()).isCloseTo(direct.get(0).score(), within(1e-6));
            assertThat(first.getBoundingBox().getBounds().getX() * image.getWidth()).isCloseTo(direct.get(0).x1(), within(1e-3));
        }
    }

    @Test
    void residentMemoryStaysFlatOver200Detections(@TempDir Path tmp) throws Exception {
        try (NDManager m = NDManager.newBaseManager();
             FasterRcnn model = FasterRcnn.create(Presets.TINY.config(List.of("raccoon")), m, 3)) {
            ModelFiles.save(model, tmp);
        }
        BufferedImage img = Images.readRgb(IMAGE);
        try (Detector detector = Detector.load(tmp)) {
            for (int i = 0; i < 200; i++) { // warm-up: JIT, allocator arenas, oneDNN kernels (a one-time step near 150)
                detector.detect(img);
            }
            // The resident set swings by ~100 MB as the native allocator takes and returns memory; its floor is what
            // a leak would raise. Compare the floor of the first 50 of 200 detections with that of the last 50.
            long[] rss = new long[200];
            for (int i = 0; i < rss.length; i++) {
                detector.detect(img);
                rss[i] = residentKb();
            }
            long floorStart = java.util.Arrays.stream(rss, 0, 50).min().orElseThrow();
            long floorEnd = java.util.Arrays.stream(rss, 150, 200).min().orElseThrow();
            assertThat((double) floorEnd).as("resident floor, kB, last 50 of 200 (first 50: " + floorStart + ")")
                    .isLessThan(floorStart * 1.05);
        }
    }

    @Test
    void oneDetectorUsedFromFourThreadsGivesTheSequentialResults(@TempDir Path tmp) throws Exception {
        try (NDManager m = NDManager.newBaseManager();
             FasterRcnn model = FasterRcnn.create(Presets.TINY.config(List.of("raccoon")), m, 3)) {
            ModelFiles.save(model, tmp);
        }
        List<Path> images = new java.util.ArrayList<>();
        for (int i = 1; i <= 8; i++) {
            images.add(SharedData.repoRoot().resolve("datasets/raccoon/JPEGImages/raccoon-" + (10 + i) + ".jpg"));
        }
        try (Detector detector = Detector.load(tmp, c -> c.with(c.head().withPostprocess(0f, 0.5f, 100)))) {
            Map<Path, List<Detector.DetectedBox>> sequential = new java.util.HashMap<>();
            for (Path p : images) {
                sequential.put(p, detector.detect(p));
            }
            java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(4);
            try {
                List<java.util.concurrent.Future<String>> checks = new java.util.ArrayList<>();
                for (int t = 0; t < 4; t++) {
                    final int thread = t;
                    checks.add(pool.submit(() -> {
                        // two threads through the detector, two through their own DJL predictors
                        try (Predictor<Image, DetectedObjects> predictor = thread % 2 == 0 ? null : detector.newPredictor()) {
                            for (int round = 0; round < 3; round++) {
                                for (Path p : images) {
                                    List<Detector.DetectedBox> expected = sequential.get(p);
                                    if (predictor == null) {
                                        if (!detector.detect(p).equals(expected)) {
                                            return "detector, " + p.getFileName();
                                        }
                                    } else {
                                        DetectedObjects d = predictor.predict(ImageFactory.getInstance().fromFile(p));
                                        if (d.getNumberOfObjects() != expected.size()
                                                || Math.abs(d.item(0).getProbability() - expected.get(0).score()) > 1e-6) {
                                            return "predictor, " + p.getFileName();
                                        }
                                    }
                                }
                            }
                        }
                        return "";
                    }));
                }
                for (java.util.concurrent.Future<String> f : checks) {
                    assertThat(f.get(5, java.util.concurrent.TimeUnit.MINUTES)).as("differing results").isEmpty();
                }
            } finally {
                pool.shutdownNow();
            }
            assertThat(sequential.values()).allSatisfy(v -> assertThat(v).isNotEmpty());
        }
    }

    @Test
    void theModelFolderCarriesWhatItsUseNeeds(@TempDir Path tmp) throws IOException {
        // category ids of the training data and the source of proposals travel with the weights
        FasterRcnnConfig config = Presets.TINY.config(List.of("person", "dog")).withClasses(List.of("person", "dog"), List.of(1, 18))
                .with(FasterRcnnConfig.Proposals.SELECTIVE_SEARCH);
        try (NDManager m = NDManager.newBaseManager(); FasterRcnn model = FasterRcnn.create(config, m, 3)) {
            ModelFiles.save(model, tmp);
        }
        FasterRcnnConfig read = ModelFiles.readConfig(tmp.resolve(ModelFiles.CONFIG));
        assertThat(read.categoryIds()).containsExactly(1, 18);
        assertThat(read.categoryId(2)).isEqualTo(18);
        assertThat(read.proposals()).isEqualTo(FasterRcnnConfig.Proposals.SELECTIVE_SEARCH);
        // a model's classes are matched to a dataset's by name: the same classes in another order are not swapped
        org.frcnn4j.data.Dataset ordered = new org.frcnn4j.data.Dataset(org.frcnn4j.data.Dataset.Format.VOC,
                org.frcnn4j.data.ClassList.of(List.of("dog", "cat", "person")), List.of(), List.of());
        assertThat(DatasetDetection.labelMap(read, ordered)).containsExactly(-1, 2, 0);
        org.frcnn4j.data.Dataset other = new org.frcnn4j.data.Dataset(org.frcnn4j.data.Dataset.Format.VOC,
                org.frcnn4j.data.ClassList.of(List.of("car")), List.of(), List.of());
        assertThatThrownBy(() -> DatasetDetection.labelMap(read, other)).hasMessage(
                "none of the model's classes (person, dog) is a class of the dataset (car)");
        // an older config.json without these fields reads as 1..K and the RPN
        String json = Files.readString(tmp.resolve(ModelFiles.CONFIG)).replaceAll("(?s),\\s*\"categoryIds\"[^]]*]", "")
                .replaceAll(",\\s*\"proposals\"\\s*:\\s*\"SELECTIVE_SEARCH\"", "");
        Files.writeString(tmp.resolve(ModelFiles.CONFIG), json);
        FasterRcnnConfig old = ModelFiles.readConfig(tmp.resolve(ModelFiles.CONFIG));
        assertThat(old.categoryIds()).containsExactly(1, 2);
        assertThat(old.proposals()).isEqualTo(FasterRcnnConfig.Proposals.RPN);
    }

    private static long residentKb() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("\\D+", ""));
            }
        }
        throw new IllegalStateException("no VmRSS");
    }

    /**
     * A model folder written before the RPN's convDepth and scoreThreshold and the head's convLayers existed (the demo
     * model of an earlier version) loads as the same architecture: the small preset.
     */
    @Test
    void configurationsOfEarlierVersionsStillLoad(@org.junit.jupiter.api.io.TempDir Path tmp) throws IOException {
        Path file = tmp.resolve(ModelFiles.CONFIG);
        try (var in = ModelFilesTest.class.getResourceAsStream("/model-configs/small-before-0.2.json")) {
            Files.copy(in, file);
        }
        assertThat(Files.readString(file)).doesNotContain("convDepth").doesNotContain("convLayers");
        FasterRcnnConfig old = ModelFiles.readConfig(file);
        FasterRcnnConfig now = Presets.SMALL.config(List.of("raccoon"));
        assertThat(old.rpn().convDepth()).isEqualTo(1);
        assertThat(old.rpn().scoreThreshold()).isZero();
        assertThat(old.head().convLayers()).isEmpty();
        // the small preset of then: ZF at 3/4 width (1/2 since 2026-12-03)
        assertThat(old.backbone()).isEqualTo(new org.frcnn4j.backbone.BackboneConfig(now.backbone().architecture(), 0.75,
                now.backbone().ceilMode(), now.backbone().groupNorm()));
        assertThat(old.rpn()).isEqualTo(now.rpn());
        assertThat(old.classNames()).containsExactly("raccoon");
    }
}
