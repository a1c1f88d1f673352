package org.frcnn4j.roi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The RoI ops against direct transcriptions of torchvision's CPU kernels (roi_align, roi_pool). */
class RoiOpsTest {
    static float[] randomRois(Random r, int n, float w, float h) {
        float[] rois = new float[4 * n];
        for (int i = 0; i < n; i++) {
            float x1 = r.nextFloat() * w * 1.1f - 0.05f * w, y1 = r.nextFloat() * h * 1.1f - 0.05f * h;
            rois[4 * i] = Math.max(0, x1);
            rois[4 * i + 1] = Math.max(0, y1);
            rois[4 * i + 2] = Math.min(w, rois[4 * i] + 1 + r.nextFloat() * w * 0.8f);
            rois[4 * i + 3] = Math.min(h, rois[4 * i + 1] + 1 + r.nextFloat() * h * 0.8f);
        }
        return rois;
    }

    /** torchvision's roi_align_forward_kernel_impl, one output value. */
    static float alignReference(float[] f, int height, int width, int c, float[] roi, float scale, int size, int sr,
                                boolean aligned, int ph, int pw) {
        float offset = aligned ? 0.5f : 0f;
        float sw = roi[0] * scale - offset, sh = roi[1] * scale - offset;
        float ew = roi[2] * scale - offset, eh = roi[3] * scale - offset;
        float rw = ew - sw, rh = eh - sh;
        if (!aligned) {
            rw = Math.max(rw, 1f);
            rh = Math.max(rh, 1f);
        }
        float bh = rh / size, bw = rw / size;
        int gh = sr > 0 ? sr : (int) Math.ceil(rh / size);
        int gw = sr > 0 ? sr : (int) Math.ceil(rw / size);
        float count = Math.max(gh * gw, 1);
        float sum = 0;
        for (int iy = 0; iy < gh; iy++) {
            float y = sh + ph * bh + (iy + .5f) * bh / gh;
            for (int ix = 0; ix < gw; ix++) {
                float x = sw + pw * bw + (ix + .5f) * bw / gw;
                sum += bilinear(f, height, width, c, y, x);
            }
        }
        return sum / count;
    }

    static float bilinear(float[] f, int height, int width, int c, float y, float x) {
        if (y < -1.0f || y > height || x < -1.0f || x > width) {
            return 0;
        }
        if (y <= 0) {
            y = 0;
        }
        if (x <= 0) {
            x = 0;
        }
        int yl = (int) y, xl = (int) x, yh, xh;
        if (yl >= height - 1) {
            yh = yl = height - 1;
            y = yl;
        } else {
            yh = yl + 1;
        }
        if (xl >= width - 1) {
            xh = xl = width - 1;
            x = xl;
        } else {
            xh = xl + 1;
        }
        float ly = y - yl, lx = x - xl, hy = 1 - ly, hx = 1 - lx;
        int base = c * height * width;
        return hy * hx * f[base + yl * width + xl] + hy * lx * f[base + yl * width + xh]
                + ly * hx * f[base + yh * width + xl] + ly * lx * f[base + yh * width + xh];
    }

    /** torchvision's roi_pool_forward_kernel_impl, one output value. */
    static float poolReference(float[] f, int height, int width, int c, float[] roi, float scale, int size, int ph, int pw) {
        int sw = Math.round(roi[0] * scale), sh = Math.round(roi[1] * scale);
        int ew = Math.round(roi[2] * scale), eh = Math.round(roi[3] * scale);
        int rw = Math.max(ew - sw + 1, 1), rh = Math.max(eh - sh + 1, 1);
        float bh = (float) rh / size, bw = (float) rw / size;
        int hs = Math.min(Math.max((int) Math.floor(ph * bh) + sh, 0), height);
        int he = Math.min(Math.max((int) Math.ceil((ph + 1) * bh) + sh, 0), height);
        int ws = Math.min(Math.max((int) Math.floor(pw * bw) + sw, 0), width);
        int we = Math.min(Math.max((int) Math.ceil((pw + 1) * bw) + sw, 0), width);
        if (he <= hs || we <= ws) {
            return 0;
        }
        float max = -Float.MAX_VALUE;
        for (int y = hs; y < he; y++) {
            for (int x = ws; x < we; x++) {
                max = Math.max(max, f[c * height * width + y * width + x]);
            }
        }
        return max;
    }

    @Test
    void roiAlignMatchesTorchvisionsKernelIncludingEdgesAndAdaptiveSampling() {
        Random r = new Random(4);
        int c = 3, h = 13, w = 21;
        float[] f = new float[c * h * w];
        for (int i = 0; i < f.length; i++) {
            f[i] = r.nextFloat() * 2 - 1;
        }
        float[] rois = randomRois(r, 40, w * 16, h * 16);
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray features = m.create(f, new Shape(1, c, h, w));
            for (boolean training : new boolean[] {false, true}) // per-region crops, and the sparse product
            for (int sr : new int[] {2, 0}) {
                for (boolean aligned : new boolean[] {false, true}) {
                    float[] out = new RoiAlign(7, 1 / 16f, sr, aligned).extract(features, rois, training).toFloatArray();
                    for (int i = 0; i < 40; i++) {
                        float[] roi = java.util.Arrays.copyOfRange(rois, 4 * i, 4 * i + 4);
                        for (int ch = 0; ch < c; ch++) {
                            for (int ph = 0; ph < 7; ph++) {
                                for (int pw = 0; pw < 7; pw++) {
                                    float expected = alignReference(f, h, w, ch, roi, 1 / 16f, 7, sr, aligned, ph, pw);
                                    assertThat(out[((i * c + ch) * 7 + ph) * 7 + pw]).as("sr %d aligned %s roi %s bin %d,%d", sr, aligned, java.util.Arrays.toString(roi), ph, pw).isCloseTo(expected, within(1e-5f));
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void roiPoolMatchesTorchvisionsKernelIncludingEdges() {
        Random r = new Random(5);
        int c = 2, h = 11, w = 17;
        float[] f = new float[c * h * w];
        for (int i = 0; i < f.length; i++) {
            f[i] = r.nextFloat() * 2 - 1;
        }
        float[] rois = randomRois(r, 40, w * 16, h * 16);
        try (NDManager m = NDManager.newBaseManager()) {
            float[] out = new RoiPool(7, 1 / 16f).extract(m.create(f, new Shape(1, c, h, w)), rois, false).toFloatArray();
            for (int i = 0; i < 40; i++) {
                float[] roi = java.util.Arrays.copyOfRange(rois, 4 * i, 4 * i + 4);
                for (int ch = 0; ch < c; ch++) {
                    for (int ph = 0; ph < 7; ph++) {
                        for (int pw = 0; pw < 7; pw++) {
                            assertThat(out[((i * c + ch) * 7 + ph) * 7 + pw])
                                    .isEqualTo(poolReference(f, h, w, ch, roi, 1 / 16f, 7, ph, pw));
                        }
                    }
                }
            }
        }
    }

    @Test
    void roiAlignGradientIsTheTransposedWeights() {
        // d(sum of outputs)/d(feature cell) = total weight of that cell over all bins
        Random r = new Random(6);
        int c = 1, h = 9, w = 12;
        float[] f = new float[c * h * w];
        float[] rois = randomRois(r, 10, w * 16, h * 16);
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray features = m.create(f, new Shape(1, c, h, w));
            features.setRequiresGradient(true);
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                gc.backward(new RoiAlign(7, 1 / 16f, 2, false).extract(features, rois, true).sum());
            }
            float[] grad = features.getGradient().toFloatArray();
            for (int cell = 0; cell < h * w; cell++) {
                float[] unit = new float[c * h * w];
                unit[cell] = 1;
                float expected = 0;
                for (int i = 0; i < 10; i++) {
                    float[] roi = java.util.Arrays.copyOfRange(rois, 4 * i, 4 * i + 4);
                    for (int ph = 0; ph < 7; ph++) {
                        for (int pw = 0; pw < 7; pw++) {
                            expected += alignReference(unit, h, w, 0, roi, 1 / 16f, 7, 2, false, ph, pw);
                        }
                    }
                }
                assertThat(grad[cell]).isCloseTo(expected, within(1e-4f));
            }
        }
    }
}
