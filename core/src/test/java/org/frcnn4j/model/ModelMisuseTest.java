package org.frcnn4j.model;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDManager;
import java.awt.image.BufferedImage;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The model used directly (as {@code Detector.model()} gives it) after it is closed: one clear exception, no crash. */
class ModelMisuseTest {
    private static final String CLOSED = "this model is closed";

    @Test
    void aClosedModelSaysSoAndClosesTwiceQuietly() {
        BufferedImage image = new BufferedImage(64, 48, BufferedImage.TYPE_INT_RGB);
        try (NDManager m = NDManager.newBaseManager()) {
            FasterRcnn model = FasterRcnn.create(Presets.TINY.config(List.of("raccoon")), m, 3);
            model.detect(image);
            org.frcnn4j.transform.ImageTransform.Transformed t = model.transform().apply(image, m);
            model.close();
            assertThatThrownBy(() -> model.forward(t)).hasMessageStartingWith(CLOSED);
            model.close();
            assertThatThrownBy(() -> model.detect(image)).isInstanceOf(IllegalStateException.class).hasMessageStartingWith(CLOSED);
            assertThatThrownBy(() -> model.detectTimed(image)).hasMessageStartingWith(CLOSED);
            assertThatThrownBy(() -> model.detectBatch(List.of(image, image))).hasMessageStartingWith(CLOSED);
            assertThatThrownBy(() -> model.detectWithProposals(image, new float[] {0, 0, 10, 10})).hasMessageStartingWith(CLOSED);
            assertThatThrownBy(() -> model.propose(image, 5)).hasMessageStartingWith(CLOSED);
            assertThatThrownBy(() -> model.withPrecision(org.frcnn4j.nn.Precision.FP32)).hasMessageStartingWith(CLOSED);
        }
    }

    /** close() waits for the detection in progress in another thread; that thread's next call is told the model is closed. */
    @Test
    void closeDuringADetectionInAnotherThreadNeverCrashes() throws Exception {
        BufferedImage image = new BufferedImage(320, 240, BufferedImage.TYPE_INT_RGB);
        try (NDManager m = NDManager.newBaseManager()) {
            FasterRcnn model = FasterRcnn.create(Presets.TINY.config(List.of("raccoon")), m, 4);
            java.util.concurrent.atomic.AtomicReference<Throwable> failure = new java.util.concurrent.atomic.AtomicReference<>();
            java.util.concurrent.atomic.AtomicInteger done = new java.util.concurrent.atomic.AtomicInteger();
            Thread worker = new Thread(() -> {
                try {
                    while (true) {
                        model.detect(image);
                        done.incrementAndGet();
                    }
                } catch (Throwable e) {
                    failure.set(e);
                }
            });
            worker.start();
            while (done.get() < 2) {
                Thread.sleep(5);
            }
            model.close();
            worker.join(60_000);
            org.assertj.core.api.Assertions.assertThat(failure.get()).isInstanceOf(IllegalStateException.class)
                    .hasMessageStartingWith(CLOSED);
        }
    }
}
