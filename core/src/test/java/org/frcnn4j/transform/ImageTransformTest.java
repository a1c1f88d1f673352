package org.frcnn4j.transform;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.util.HashMap;
import java.util.Map;
import org.frcnn4j.model.Presets;
import org.frcnn4j.testing.SharedData;
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

    /**
     * Every byte value of every channel becomes what torchvision's {@code to_tensor} and {@code normalize} make of it
     * in float32 ((v / 255 - mean) / std; the paper presets: BGR order, v - mean), to the last bit.
     */
    @Test
    void normalisationIsTorchvisionsFormulaForEveryByte() {
        for (var preset : new Presets[] {Presets.TINY, Presets.PAPER_VGG16}) {
            TransformConfig c = preset.config(java.util.List.of("a")).transform();
            boolean bgr = c.normalization() == TransformConfig.Normalization.BGR_MEAN;
            BufferedImage img = new BufferedImage(256, 1, BufferedImage.TYPE_INT_RGB);
            for (int v = 0; v < 256; v++) {
                img.setRGB(v, 0, (v << 16) | (((v * 7) & 0xff) << 8) | ((255 - v) & 0xff)); // r = v, g = 7v, b = 255 - v
            }
            float[] out = new ImageTransform(c).normalisedPixels(img);
            float range = bgr ? 1f : 255f;
            for (int v = 0; v < 256; v++) {
                float r = v / range;
                float g = ((v * 7) & 0xff) / range;
                float b = (255 - v) / range;
                float[] planes = bgr ? new float[] {b, g, r} : new float[] {r, g, b};
                for (int k = 0; k < 3; k++) {
                    assertThat(out[k * 256 + v]).as("%s plane %d byte %d", preset, k, v)
                            .isEqualTo((planes[k] - c.mean()[k]) / c.std()[k]);
                }
            }
        }
    }

    @Test
    void resizingIsPyTorchsBilinearWithoutAntialiasing() {
        // enlarging: half-pixel centres, sources clamped at the border
        assertThat(resized(new float[] {0, 1, 2, 3}, 1, 2, 2, 4, 4)).isEqualTo(new float[] {
            0f, 0.25f, 0.75f, 1f, 0.5f, 0.75f, 1.25f, 1.5f, 1.5f, 1.75f, 2.25f, 2.5f, 2f, 2.25f, 2.75f, 3f});
        // shrinking by two samples between each pair of pixels: an antialiasing filter would weigh in the others
        assertThat(resized(new float[] {0, 1, 2, 3, 10, 11, 12, 13}, 1, 2, 4, 1, 2)).isEqualTo(new float[] {5.5f, 7.5f});
        // onto a padded canvas: what lies beyond the image is left alone
        float[] canvas = new float[2 * 3 * 3];
        java.util.Arrays.fill(canvas, -7f);
        BilinearResize.resize(new float[] {0, 1, 2, 3, 4, 5, 6, 7}, 2, 2, 2, canvas, 2, 2, 3, 3);
        assertThat(canvas).containsExactly(0, 1, -7, 2, 3, -7, -7, -7, -7, 4, 5, -7, 6, 7, -7, -7, -7, -7);
    }

    /**
     * A strip that the resize rules round to a side of 0 keeps one pixel, and every input is padded to at least 32 px,
     * where the deepest backbones still have a 1 x 1 map: the paper presets, which pad nothing, once ended in an
     * engine error ("kernel size can't be greater than actual input size") on a 3000 x 1 image.
     */
    @Test
    void stripsAndSpecksGetAnInputEveryBackboneRunsOn() {
        for (var preset : new Presets[] {Presets.PAPER_ZF, Presets.PAPER_VGG16, Presets.TINY}) {
            ImageTransform t = new ImageTransform(preset.config(java.util.List.of("a")).transform());
            for (int[] size : new int[][] {{3000, 1}, {1, 2000}, {1, 1}}) {
                BufferedImage img = new BufferedImage(size[0], size[1], BufferedImage.TYPE_INT_RGB);
                try (NDManager m = NDManager.newBaseManager()) {
                    ImageTransform.Transformed in = t.apply(img, m);
                    assertThat(in.height()).as("%s %dx%d", preset, size[0], size[1]).isPositive();
                    assertThat(in.width()).isPositive();
                    assertThat(in.tensor().getShape().get(2)).isGreaterThanOrEqualTo(ImageTransform.MIN_INPUT_SIDE);
                    assertThat(in.tensor().getShape().get(3)).isGreaterThanOrEqualTo(ImageTransform.MIN_INPUT_SIDE);
                }
            }
        }
        // and the paper's ZF runs on the strip, its detections on the image
        try (NDManager m = NDManager.newBaseManager();
             org.frcnn4j.model.FasterRcnn zf = org.frcnn4j.model.FasterRcnn.create(
                     Presets.PAPER_ZF.config(java.util.List.of("a")), m, 1)) {
            var result = zf.detect(new BufferedImage(3000, 1, BufferedImage.TYPE_INT_RGB));
            float[] boxes = result.boxes();
            for (int i = 0; i < result.count(); i++) {
                assertThat(boxes[4 * i + 3]).isLessThanOrEqualTo(1f);
            }
        }
    }

    private static float[] resized(float[] planes, int channels, int height, int width, int outHeight, int outWidth) {
        float[] out = new float[channels * outHeight * outWidth];
        BilinearResize.resize(planes, channels, height, width, out, outHeight, outWidth, outHeight, outWidth);
        return out;
    }

    /**
     * Bit for bit what torch 1.13's kernel gives (tools/torchvision/make_resize_fixture.py): up to 1100 wide, where
     * libtorch 2.7's own kernel, with float32 source coordinates, differed by up to 1e-4 here.
     */
    @Test
    void resizingEqualsTorchvisionsKernelToTheLastBit() throws IOException {
        try (NDManager m = NDManager.newBaseManager();
             InputStream in = Files.newInputStream(SharedData.repoRoot()
                     .resolve("core/src/test/resources/fixtures/torchvision/resize/resize.npz"))) {
            Map<String, NDArray> fixture = new HashMap<>();
            for (NDArray a : NDList.decode(m, in)) {
                fixture.put(a.getName().replace(".npy", ""), a);
            }
            NDArray input = fixture.get("input");
            Shape inputShape = input.getShape();
            int sizes = 0;
            for (var e : fixture.entrySet()) {
                if (e.getKey().startsWith("size_")) {
                    Shape s = e.getValue().getShape();
                    float[] got = resized(input.toFloatArray(), (int) inputShape.get(1), (int) inputShape.get(2), (int) inputShape.get(3),
                            (int) s.get(2), (int) s.get(3));
                    float[] want = e.getValue().toFloatArray();
                    int differ = 0;
                    double largest = 0;
                    for (int i = 0; i < want.length; i++) {
                        if (Float.floatToIntBits(got[i]) != Float.floatToIntBits(want[i])) {
                            differ++;
                            largest = Math.max(largest, Math.abs(got[i] - want[i]));
                        }
                    }
                    assertThat(differ).as("%s: values that differ (largest difference %g)", e.getKey(), largest)
                            .isZero();
                    sizes++;
                }
            }
            assertThat(sizes).isEqualTo(3);
        }
    }
}
