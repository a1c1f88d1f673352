package org.frcnn4j.model;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDManager;
import java.awt.image.BufferedImage;
import java.util.List;
import org.frcnn4j.data.Dataset;
import org.frcnn4j.data.Images;
import org.frcnn4j.head.DetectionPostprocessor;
import org.frcnn4j.testing.SharedData;
import org.junit.jupiter.api.Test;

/**
 * {@code detect --batch N} (issue #15): images of equal input size share the backbone's pass, and each gets the
 * detections it gets alone; an image of another size in the same call runs in its own pass, so nothing is padded.
 */
class BatchedInferenceTest {
    @Test
    void aBatchGivesEachImageItsOwnDetections() {
        Dataset d = Dataset.open(SharedData.bundled("raccoon"), "test", null);
        FasterRcnnConfig config = Presets.TINY.config(d.classes().names());
        // detections at any score, so that there are many to compare
        FasterRcnnConfig all = config.with(config.head().withPostprocess(0f, config.head().nmsThreshold(), 50));
        BufferedImage a = Images.readRgb(d.images().get(0).imageFile());
        BufferedImage mirrored = mirror(a); // the same size, other content
        BufferedImage other = null;
        for (var an : d.images()) {
            BufferedImage img = Images.readRgb(an.imageFile());
            if ((double) img.getWidth() / img.getHeight() != (double) a.getWidth() / a.getHeight()) {
                other = img;
                break;
            }
        }
        assertThat(other).isNotNull();
        try (NDManager m = NDManager.newBaseManager(); FasterRcnn model = FasterRcnn.create(all, m, 11)) {
            List<BufferedImage> images = List.of(a, other, mirrored);
            List<DetectionPostprocessor.Result> batch = model.detectBatch(images);
            assertThat(batch).hasSize(3);
            for (int i = 0; i < images.size(); i++) {
                DetectionPostprocessor.Result alone = model.detect(images.get(i));
                DetectionPostprocessor.Result together = batch.get(i);
                assertThat(together.count()).as("image %d", i).isEqualTo(alone.count()).isPositive();
                assertThat(together.labels()).containsExactly(alone.labels());
                for (int k = 0; k < alone.count(); k++) {
                    assertThat(Math.abs(together.scores()[k] - alone.scores()[k])).isLessThan(1e-4f);
                }
                for (int k = 0; k < 4 * alone.count(); k++) {
                    assertThat(Math.abs(together.boxes()[k] - alone.boxes()[k])).isLessThan(1e-2f);
                }
            }
        }
    }

    private static BufferedImage mirror(BufferedImage img) {
        BufferedImage out = new BufferedImage(img.getWidth(), img.getHeight(), BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < img.getHeight(); y++) {
            for (int x = 0; x < img.getWidth(); x++) {
                out.setRGB(img.getWidth() - 1 - x, y, img.getRGB(x, y));
            }
        }
        return out;
    }
}
