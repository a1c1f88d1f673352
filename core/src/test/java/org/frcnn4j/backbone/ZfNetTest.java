package org.frcnn4j.backbone;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.Random;
import org.junit.jupiter.api.Test;

class ZfNetTest {
    /** Caffe's WITHIN_CHANNEL LRN written out: x / (1 + alpha/9 * sum of x^2 over the zero-padded 3x3 window)^beta. */
    private static double lrnByDefinition(float[] x, int c, int h, int w, int ch, int y, int xx) {
        double sum = 0;
        for (int dy = -1; dy <= 1; dy++) {
            for (int dx = -1; dx <= 1; dx++) {
                int yy = y + dy;
                int xc = xx + dx;
                if (yy >= 0 && yy < h && xc >= 0 && xc < w) {
                    double v = x[(ch * h + yy) * w + xc];
                    sum += v * v;
                }
            }
        }
        return x[(ch * h + y) * w + xx] / Math.pow(1 + ZfNet.LRN_ALPHA / 9.0 * sum, ZfNet.LRN_BETA);
    }

    @Test
    void withinChannelLrnMatchesCaffesDefinitionInBothModes() {
        int c = 3;
        int h = 5;
        int w = 6;
        float[] x = new float[c * h * w];
        Random random = new Random(7);
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (random.nextGaussian() * 60); // large enough that the denominator is far from 1
        }
        try (NDManager manager = NDManager.newBaseManager()) {
            NDArray input = manager.create(x, new Shape(1, c, h, w));
            for (boolean training : new boolean[] {false, true}) {
                float[] out = ZfNet.lrn(input, training).toFloatArray();
                for (int ch = 0; ch < c; ch++) {
                    for (int y = 0; y < h; y++) {
                        for (int xx = 0; xx < w; xx++) {
                            double expected = lrnByDefinition(x, c, h, w, ch, y, xx);
                            assertThat((double) out[(ch * h + y) * w + xx])
                                    .isCloseTo(expected, within(1e-5 * Math.max(1, Math.abs(expected))));
                        }
                    }
                }
            }
        }
    }
}
