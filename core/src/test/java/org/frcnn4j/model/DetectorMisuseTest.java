package org.frcnn4j.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.inference.Predictor;
import ai.djl.modality.cv.Image;
import ai.djl.modality.cv.ImageFactory;
import ai.djl.modality.cv.output.DetectedObjects;
import ai.djl.ndarray.NDManager;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicReference;
import org.frcnn4j.data.Images;
import org.frcnn4j.testing.SharedData;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The Java API used wrongly: each misuse is one clear exception, never a JVM crash or an error from deep inside. */
class DetectorMisuseTest {
    private static final Path IMAGE = SharedData.repoRoot().resolve("datasets/raccoon/JPEGImages/raccoon-1.jpg");
    private static final String CLOSED = "this Detector is closed";
    @TempDir
    static Path modelDir;

    @BeforeAll
    static void tinyModel() throws java.io.IOException {
        try (NDManager m = NDManager.newBaseManager();
             FasterRcnn model = FasterRcnn.create(Presets.TINY.config(List.of("raccoon")), m, 3)) {
            ModelFiles.save(model, modelDir);
        }
    }

    @Test
    void aClosedDetectorSaysSoAndClosesTwiceQuietly() throws Exception {
        BufferedImage image = Images.readRgb(IMAGE);
        Detector detector = Detector.load(modelDir);
        Predictor<Image, DetectedObjects> predictor = detector.newPredictor();
        detector.close();
        detector.close();
        assertThatThrownBy(() -> detector.detect(image)).isInstanceOf(IllegalStateException.class).hasMessageStartingWith(CLOSED);
        assertThatThrownBy(() -> detector.detect(IMAGE)).hasMessageStartingWith(CLOSED);
        assertThatThrownBy(() -> detector.detectBatch(List.of(image, image))).hasMessageStartingWith(CLOSED);
        assertThatThrownBy(() -> detector.propose(image, 5)).hasMessageStartingWith(CLOSED);
        assertThatThrownBy(() -> detector.withPrecision(org.frcnn4j.nn.Precision.FP32)).hasMessageStartingWith(CLOSED);
        assertThatThrownBy(detector::newPredictor).hasMessageStartingWith(CLOSED);
        // DJL's Predictor finds its model's arrays closed before our code runs, and says so in its own words
        assertThatThrownBy(() -> predictor.predict(ImageFactory.getInstance().fromImage(image)))
                .rootCause().isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
        predictor.close();
    }

    @Test
    void nullAndOutOfRangeArgumentsAreOneLineNamingTheArgument() throws Exception {
        BufferedImage image = Images.readRgb(IMAGE);
        try (Detector detector = Detector.load(modelDir)) {
            Map<String, ThrowingCallable> calls = new java.util.LinkedHashMap<>();
            calls.put("Detector.detect: the image file is null", () -> detector.detect((Path) null));
            calls.put("Images: the image file is null", () -> Images.readRgb((Path) null));
            calls.put("the detector: the image is null", () -> detector.detect((BufferedImage) null));
            calls.put("the detector: the image is null ", () -> detector.detectTimed(null));
            calls.put("detectBatch: the list of images is null", () -> detector.detectBatch(null));
            calls.put("detectBatch: image 1 of 2 is null", () -> detector.detectBatch(java.util.Arrays.asList(image, null)));
            calls.put("withPrecision: the precision is null", () -> detector.withPrecision(null));
            calls.put("ModelFiles.load: the model folder is null", () -> Detector.load(null));
            calls.put("ModelFiles.load: the configuration adjustment is null", () -> Detector.load(modelDir, null));
            calls.put(modelDir + ": the configuration adjustment gave null", () -> Detector.load(modelDir, c -> null));
            calls.put("propose: the number of proposals must be 0 or more, got -1", () -> detector.propose(image, -1));
            calls.put("detect: the proposals is null", () -> detector.detect(image, null));
            calls.put("detect: 3 proposal coordinates are not whole boxes", () -> detector.detect(image, new float[3]));
            calls.put("detect: proposal 1 has a coordinate NaN",
                    () -> detector.detect(image, new float[] {0, 0, 9, 9, 0, Float.NaN, 9, 9}));
            calls.put("explain: level 7 is not one of this model's 1 feature levels", () -> detector.explain(image, 7, 0, 0, 10));
            calls.put("explain: row and col must be 0 or more", () -> detector.explain(image, 0, -5, 0, 10));
            FasterRcnn model = detector.model();
            org.frcnn4j.data.Dataset raccoon = org.frcnn4j.data.Dataset.open(SharedData.bundled("raccoon"), "test", null);
            calls.put("DatasetDetection.detectAll: the model is null",
                    () -> DatasetDetection.detectAll(null, raccoon, null));
            calls.put("DatasetDetection.detectAll: the dataset is null", () -> DatasetDetection.detectAll(model, null, null));
            calls.put("image " + raccoon.images().get(0).imageId() + ": detect: 3 proposal coordinates are not whole boxes",
                    () -> DatasetDetection.detectAll(model, raccoon, a -> new float[3], null));
            calls.put("DatasetDetection.labelMap: the dataset is null", () -> DatasetDetection.labelMap(model.config(), null));
            calls.forEach((message, call) -> assertThatThrownBy(call).as(message)
                    .isInstanceOf(org.frcnn4j.io.BadInputException.class)
                    .hasMessageStartingWith(message.strip()).hasMessageNotContaining("\n"));
            try (Predictor<Image, DetectedObjects> predictor = detector.newPredictor()) {
                // DJL wraps what the translator throws; the cause is the one line
                assertThatThrownBy(() -> predictor.predict(null)).rootCause()
                        .isInstanceOf(org.frcnn4j.io.BadInputException.class)
                        .hasMessage("Predictor.predict: the image is null");
            }
            assertThat(detector.detect(image)).as("usable after all that").isNotEmpty();
            assertThat(detector.detectBatch(List.of())).isEmpty();
        }
    }

    /** Closing while another thread detects: that image finishes (or the call says the detector is closed). */
    @Test
    void closeDuringADetectionInAnotherThreadNeverCrashes() throws Exception {
        BufferedImage image = Images.readRgb(IMAGE);
        Image djlImage = ImageFactory.getInstance().fromImage(image);
        Map<String, Integer> outcomes = new TreeMap<>();
        Random random = new Random(1);
        for (int trial = 0; trial < 40; trial++) {
            Detector detector = Detector.load(modelDir);
            Predictor<Image, DetectedObjects> predictor = detector.newPredictor();
            detector.detect(image);
            AtomicReference<String> direct = new AtomicReference<>("finished");
            AtomicReference<String> viaDjl = new AtomicReference<>("finished");
            Thread a = new Thread(() -> outcome(direct, () -> detector.detect(image)));
            Thread b = new Thread(() -> outcome(viaDjl, () -> predictor.predict(djlImage)));
            a.start();
            b.start();
            Thread.sleep(random.nextInt(30));
            detector.close();
            a.join();
            b.join();
            predictor.close();
            outcomes.merge(direct.get(), 1, Integer::sum);
            outcomes.merge(viaDjl.get(), 1, Integer::sum);
        }
        assertThat(outcomes.keySet())
                .allSatisfy(o -> assertThat(o).matches("finished|IllegalStateException: (" + CLOSED + "|NDManager has been closed).*"));
    }

    private interface Call {
        Object run() throws Exception;
    }

    private static void outcome(AtomicReference<String> out, Call call) {
        try {
            for (int i = 0; i < 30; i++) {
                call.run();
            }
        } catch (Exception e) {
            Throwable root = e;
            while (root.getCause() != null) {
                root = root.getCause();
            }
            out.set(root.getClass().getSimpleName() + ": " + root.getMessage());
        }
    }
}
