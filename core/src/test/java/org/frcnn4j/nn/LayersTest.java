package org.frcnn4j.nn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.util.Random;
import org.junit.jupiter.api.Test;

class LayersTest {
    @Test
    void groupNormNormalisesEachImagesGroupsThenScalesAndShiftsChannels() {
        int n = 2, c = 6, h = 3, w = 4, groups = 3;
        float[] x = new float[n * c * h * w];
        float[] gamma = new float[c];
        float[] beta = new float[c];
        Random r = new Random(3);
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (r.nextGaussian() * 4 + 2);
        }
        for (int i = 0; i < c; i++) {
            gamma[i] = 0.5f + r.nextFloat();
            beta[i] = r.nextFloat() - 0.5f;
        }
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray gammaArray = m.create(gamma);
            NDArray betaArray = m.create(beta);
            gammaArray.setRequiresGradient(true);
            betaArray.setRequiresGradient(true);
            Layers.GroupNorm norm = new Layers.GroupNorm(gammaArray, betaArray, groups);
            NDArray input = m.create(x, new Shape(n, c, h, w));
            input.setRequiresGradient(true);
            float[] out;
            float[] weights = new float[x.length];
            for (int i = 0; i < weights.length; i++) {
                weights[i] = (float) r.nextGaussian();
            }
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray y = norm.forward(input);
                out = y.toFloatArray();
                gc.backward(y.mul(m.create(weights, new Shape(n, c, h, w))).sum());
            }
            float[] grad = input.getGradient().toFloatArray();
            float[] gammaGrad = gammaArray.getGradient().toFloatArray();
            float[] betaGrad = betaArray.getGradient().toFloatArray();
            double[] expectedGammaGrad = new double[c];
            double[] expectedBetaGrad = new double[c];
            int per = c / groups * h * w;
            for (int img = 0; img < n; img++) {
                for (int g = 0; g < groups; g++) {
                    int start = (img * c + g * (c / groups)) * h * w;
                    double mean = 0;
                    for (int i = 0; i < per; i++) {
                        mean += x[start + i];
                    }
                    mean /= per;
                    double var = 0;
                    for (int i = 0; i < per; i++) {
                        var += (x[start + i] - mean) * (x[start + i] - mean);
                    }
                    var /= per; // biased, as GroupNorm's definition
                    double std = Math.sqrt(var + 1e-5);
                    // d/dx of sum(u * xhat) with xhat = (x - mean) / std: (u - mean(u) - xhat * mean(u * xhat)) / std,
                    // where u = weight * gamma of the element's channel
                    double meanU = 0;
                    double meanUXhat = 0;
                    for (int i = 0; i < per; i++) {
                        int ch = (start + i) / (h * w) % c;
                        double u = weights[start + i] * gamma[ch];
                        meanU += u / per;
                        meanUXhat += u * (x[start + i] - mean) / std / per;
                    }
                    for (int i = 0; i < per; i++) {
                        int ch = (start + i) / (h * w) % c;
                        double xhat = (x[start + i] - mean) / std;
                        assertThat((double) out[start + i]).isCloseTo(xhat * gamma[ch] + beta[ch], within(1e-5));
                        double u = weights[start + i] * gamma[ch];
                        assertThat((double) grad[start + i]).isCloseTo((u - meanU - xhat * meanUXhat) / std, within(1e-4));
                        expectedGammaGrad[ch] += weights[start + i] * xhat;
                        expectedBetaGrad[ch] += weights[start + i];
                    }
                }
            }
            // the scale and shift learn: d/dgamma = sum of weight * xhat, d/dbeta = sum of weight, per channel
            for (int ch = 0; ch < c; ch++) {
                assertThat((double) gammaGrad[ch]).isCloseTo(expectedGammaGrad[ch], within(1e-3));
                assertThat((double) betaGrad[ch]).isCloseTo(expectedBetaGrad[ch], within(1e-3));
            }
        }
    }

    @Test
    void aFlattenedDenseLayerIsTheProductOfTheRowMajorFlattenedInputByEitherRoute() {
        // fc6 over a 7x7 grid: a convolution where oneDNN has AVX-512 kernels, the product elsewhere; both checked
        // here on any CPU, against the product in double
        int n = 3, c = 5, size = 7, out = 4;
        Random r = new Random(11);
        float[] x = new float[n * c * size * size];
        float[] w = new float[out * c * size * size];
        float[] b = new float[out];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian();
        }
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) (r.nextGaussian() * 0.1);
        }
        for (int i = 0; i < out; i++) {
            b[i] = r.nextFloat();
        }
        try (NDManager m = NDManager.newBaseManager(); GradMode off = GradMode.set(false)) {
            Layers.Dense dense = new Layers.Dense(m.create(w, new Shape(out, w.length / out)), m.create(b));
            NDArray input = m.create(x, new Shape(n, c, size, size));
            for (boolean asConvolution : new boolean[] {true, false}) {
                float[] y = dense.forwardFlattened(input, asConvolution).toFloatArray();
                assertThat(y).hasSize(n * out);
                int in = c * size * size;
                for (int i = 0; i < n; i++) {
                    for (int o = 0; o < out; o++) {
                        double e = b[o];
                        for (int k = 0; k < in; k++) {
                            e += (double) x[i * in + k] * w[o * in + k];
                        }
                        assertThat((double) y[i * out + o]).as("convolution: %s", asConvolution).isCloseTo(e, within(1e-4));
                    }
                }
            }
            // the machine's choice is one of the two
            assertThat(dense.forwardFlattened(input).toFloatArray())
                    .isEqualTo(dense.forwardFlattened(input, Layers.Dense.flattenedAsConvolution()).toFloatArray());
        }
        assertThat(EngineFacts.isaAllowsAvx512(null)).isTrue();
        assertThat(EngineFacts.isaAllowsAvx512("AVX512_CORE")).isTrue();
        assertThat(EngineFacts.isaAllowsAvx512("avx512_core_bf16")).isTrue();
        assertThat(EngineFacts.isaAllowsAvx512("AVX2")).isFalse();
        assertThat(EngineFacts.isaAllowsAvx512("AVX2_VNNI_2")).isFalse();
    }

    @Test
    void onlyBatchNormsThatTrainWithTheBatchsStatisticsAreRecorded() {
        // data-parallel training runs each image alone, which such a norm must not (Trainer keeps the batched pass)
        try (NDManager m = NDManager.newBaseManager();
             Parameters frozen = new Parameters(m, 1);
             Parameters trained = new Parameters(m, 1)) {
            Norms.BatchNorm.create(frozen, "bn", 4, 1e-5f, true);
            Norms.BatchNorm.create(trained, "bn", 4, 1e-5f, false);
            assertThat(frozen.hasBatchStatistics()).isFalse();
            assertThat(trained.hasBatchStatistics()).isTrue();
        }
    }
}
