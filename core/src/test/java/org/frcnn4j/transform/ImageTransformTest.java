package org.frcnn4j.transform;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.awt.image.BufferedImage;
import org.frcnn4j.model.Presets;
import org.frcnn4j.nn.ScriptedOps;
import org.junit.jupiter.api.Test;

/**
 * The network input of an image is the same floats whatever Java type holds its pixels: RGB images are read from their
 * raster directly, others through the colour model; resizing is PyTorch's bilinear interpolation as torchvision's
 * transform calls it.
 */
class ImageTransformTest {
    @Test
    void rgbRastersAreReadAsTheColourModelReadsThem() {
        java.util.SplittableRandom random = new java.util.SplittableRandom(4);
        int w = 37;
        int h = 23;
        BufferedImage rgb = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        BufferedImage bgr = new BufferedImage(w, h, BufferedImage.TYPE_3BYTE_BGR);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int p = random.nextInt(1 << 24);
                rgb.setRGB(x, y, p);
                bgr.setRGB(x, y, p);
            }
        }
        // a sub-image shares its parent's raster at an offset: the direct read must honour the offset
        BufferedImage parent = new BufferedImage(w + 5, h + 4, BufferedImage.TYPE_INT_RGB);
        parent.getGraphics().drawImage(rgb, 5, 4, null);
        BufferedImage sub = parent.getSubimage(5, 4, w, h);
        for (var preset : new Presets[] {Presets.TINY, Presets.PAPER_VGG16}) {
            ImageTransform t = new ImageTransform(preset.config(java.util.List.of("a")).transform());
            float[] viaRaster = t.normalisedPixels(rgb);
            assertThat(viaRaster).isEqualTo(t.normalisedPixels(bgr));
            assertThat(t.normalisedPixels(sub)).isEqualTo(viaRaster);
            try (NDManager m = NDManager.newBaseManager()) {
                assertThat(t.apply(rgb, m).tensor().toFloatArray()).isEqualTo(t.apply(bgr, m).tensor().toFloatArray());
            }
        }
    }

    @Test
    void resizingIsPyTorchsBilinearWithoutAntialiasing() {
        try (NDManager m = NDManager.newBaseManager()) {
            // enlarging: half-pixel centres, sources clamped at the border
            NDArray small = m.create(new float[] {0, 1, 2, 3}, new Shape(1, 1, 2, 2));
            assertThat(ScriptedOps.resizeBilinear(small, 4, 4).toFloatArray()).isEqualTo(new float[] {
                0f, 0.25f, 0.75f, 1f, 0.5f, 0.75f, 1.25f, 1.5f, 1.5f, 1.75f, 2.25f, 2.5f, 2f, 2.25f, 2.75f, 3f});
            // shrinking by two samples between each pair of pixels: an antialiasing filter would weigh in the others
            NDArray row = m.create(new float[] {0, 1, 2, 3, 10, 11, 12, 13}, new Shape(1, 1, 2, 4));
            assertThat(ScriptedOps.resizeBilinear(row, 1, 2).toFloatArray()).isEqualTo(new float[] {5.5f, 7.5f});
        }
    }
}
