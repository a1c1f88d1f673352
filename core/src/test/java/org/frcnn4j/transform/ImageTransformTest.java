package org.frcnn4j.transform;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDManager;
import java.awt.image.BufferedImage;
import org.frcnn4j.model.Presets;
import org.junit.jupiter.api.Test;

/**
 * The network input of an image is the same floats whatever Java type holds its pixels: RGB images are read from their
 * raster directly, others through the colour model.
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
}
