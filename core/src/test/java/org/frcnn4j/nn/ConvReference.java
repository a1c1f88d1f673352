package org.frcnn4j.nn;

/**
 * A convolution, its input gradient and its weight gradient by the definition, in double precision in plain Java: the
 * reference that shares nothing with the engine. Arrays are row-major (N, C, H, W) and (out, in / groups, k, k).
 */
final class ConvReference {
    final double[] output;
    final double[] inputGradient;
    final double[] weightGradient;
    final double[] biasGradient;

    /**
     * @param gradOut the gradient arriving at the output (N, out, oh, ow)
     */
    ConvReference(ConvShape s, int n, int h, int w, float[] x, float[] weight, float[] bias, float[] gradOut) {
        int oh = s.outputSize(h);
        int ow = s.outputSize(w);
        int k = s.kernel();
        int inPerGroup = s.inChannels() / s.groups();
        int outPerGroup = s.outChannels() / s.groups();
        output = new double[n * s.outChannels() * oh * ow];
        inputGradient = new double[x.length];
        weightGradient = new double[weight.length];
        biasGradient = new double[s.outChannels()];
        for (int b = 0; b < n; b++) {
            for (int o = 0; o < s.outChannels(); o++) {
                int group = o / outPerGroup;
                for (int oy = 0; oy < oh; oy++) {
                    for (int ox = 0; ox < ow; ox++) {
                        int oi = ((b * s.outChannels() + o) * oh + oy) * ow + ox;
                        double g = gradOut[oi];
                        double acc = bias == null ? 0 : bias[o];
                        biasGradient[o] += g;
                        for (int ci = 0; ci < inPerGroup; ci++) {
                            int c = group * inPerGroup + ci;
                            for (int ky = 0; ky < k; ky++) {
                                int iy = oy * s.stride() - s.padding() + ky * s.dilation();
                                if (iy < 0 || iy >= h) {
                                    continue;
                                }
                                for (int kx = 0; kx < k; kx++) {
                                    int ix = ox * s.stride() - s.padding() + kx * s.dilation();
                                    if (ix < 0 || ix >= w) {
                                        continue;
                                    }
                                    int wi = ((o * inPerGroup + ci) * k + ky) * k + kx;
                                    int xi = ((b * s.inChannels() + c) * h + iy) * w + ix;
                                    acc += (double) x[xi] * weight[wi];
                                    inputGradient[xi] += g * weight[wi];
                                    weightGradient[wi] += g * x[xi];
                                }
                            }
                        }
                        output[oi] = acc;
                    }
                }
            }
        }
    }

    /** max |a - ref| / max |ref|, NaN when {@code a} holds a NaN or an infinity. */
    /**
     * A forward pass drawn at random for {@code s} (groups of 1) on {@code n} maps of {@code h} x {@code w}: inputs
     * uniform in [-1, 1], the weight scaled by its fan-in, the bias in [-1, 1], as arrays in {@code m}, with the
     * definition's output for them.
     */
    record Drawn(ai.djl.ndarray.NDArray input, ai.djl.ndarray.NDArray weight, ai.djl.ndarray.NDArray bias, double[] output) {
        static Drawn of(ai.djl.ndarray.NDManager m, java.util.Random random, ConvShape s, int n, int h, int w) {
            int k = s.kernel();
            float[] x = uniform(random, n * s.inChannels() * h * w, 1);
            float[] wt = uniform(random, s.outChannels() * s.inChannels() * k * k,
                    (float) (1 / Math.sqrt((double) k * k * s.inChannels())));
            float[] b = uniform(random, s.outChannels(), 1);
            ConvReference ref = new ConvReference(s, n, h, w, x, wt, b,
                    new float[n * s.outChannels() * s.outputSize(h) * s.outputSize(w)]);
            return new Drawn(m.create(x, new ai.djl.ndarray.types.Shape(n, s.inChannels(), h, w)),
                    m.create(wt, new ai.djl.ndarray.types.Shape(s.outChannels(), s.inChannels(), k, k)),
                    m.create(b, new ai.djl.ndarray.types.Shape(s.outChannels())), ref.output);
        }
    }

    /** {@code n} values uniform in [-scale, scale]. */
    static float[] uniform(java.util.Random random, int n, float scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (random.nextFloat() * 2 - 1) * scale;
        }
        return v;
    }

    static double relativeError(float[] a, double[] ref) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            d[i] = a[i];
        }
        return ConvCheck.relative(d, ref);
    }
}
