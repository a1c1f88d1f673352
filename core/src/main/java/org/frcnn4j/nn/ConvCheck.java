package org.frcnn4j.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import java.util.Random;

/**
 * Checks one way of computing a convolution ({@link ConvRoute}) on this machine against a reference that does not use
 * oneDNN: the same convolution in float64 as strided slices and a BLAS matrix product (oneDNN has no float64 kernels,
 * and no convolution kernel runs). Random inputs of a few positions, a batch of two (PyTorch hands a batch of one with a
 * small input and a small kernel to its own slow path instead of oneDNN, which would hide oneDNN's result), the
 * forward output and, as the caller needs them, the input and weight gradients; each compared as the largest error
 * relative to the reference's largest magnitude. The errors found here are 0.07-0.25 or NaN; right results are within
 * 2e-6.
 */
public final class ConvCheck {
    /**
     * The reference route, run in float64: strided slices and a BLAS matrix product. (libtorch's own float64
     * convolution would do too, but asks for NNPACK on every call, which logs a warning on CPUs without it.)
     */
    static final ConvRoute REFERENCE = new ConvRoute.ShiftedProducts();

    /** Larger relative errors than this are wrong (float32 sums over a few thousand terms stay near 1e-6). */
    public static final double TOLERANCE = 1e-4;

    /** Output sizes (batch, rows, columns) checked; a layer that always sees one input size is checked at it. */
    private static final int[][] SIZES = {{2, 5, 7}, {2, 2, 13}};

    private ConvCheck() {}

    /** Which gradients a convolution's caller needs, so which of them must be right. */
    public enum Gradients {
        NONE(false, false), WEIGHT(false, true), INPUT(true, false), BOTH(true, true);

        private final boolean input;
        private final boolean weight;

        Gradients(boolean input, boolean weight) {
            this.input = input;
            this.weight = weight;
        }

        public boolean input() {
            return input;
        }

        public boolean weight() {
            return weight;
        }

        public static Gradients of(boolean input, boolean weight) {
            return input ? (weight ? BOTH : INPUT) : (weight ? WEIGHT : NONE);
        }
    }

    /**
     * Largest relative errors of the forward output and the input and weight (with bias) gradients; -1 where not
     * checked, NaN where the route produced NaN.
     */
    public record Errors(double forward, double inputGradient, double weightGradient) {
        public boolean right() {
            return ok(forward) && ok(inputGradient) && ok(weightGradient);
        }

        private static boolean ok(double e) {
            return e == -1 || e <= TOLERANCE; // NaN fails
        }

        Errors worst(Errors o) {
            return new Errors(worse(forward, o.forward), worse(inputGradient, o.inputGradient),
                    worse(weightGradient, o.weightGradient));
        }

        private static double worse(double a, double b) {
            return Double.isNaN(a) || Double.isNaN(b) ? Double.NaN : Math.max(a, b);
        }

        public String describe() {
            StringBuilder s = new StringBuilder("forward ").append(format(forward));
            if (inputGradient != -1) {
                s.append(", input gradient ").append(format(inputGradient));
            }
            if (weightGradient != -1) {
                s.append(", weight gradient ").append(format(weightGradient));
            }
            return s.toString();
        }

        private static String format(double e) {
            return Double.isNaN(e) ? "NaN" : String.format(java.util.Locale.ROOT, "%.1e", e);
        }
    }

    /**
     * The route's errors for {@code shape}: the worst over every checked size, each run twice with this process's
     * threads and once with a single thread. Some wrong kernels are wrong only now and then with two threads (which
     * thread computes which block varies) and wrong every time with one; others could be wrong only with several.
     */
    public static Errors run(ConvRoute route, ConvShape shape, Gradients gradients) {
        EngineLogging.apply(); // loads libtorch before the first native call below, quiet
        int threads = JniUtils.getNumThreads();
        Errors worst = runSizes(route, shape, gradients, null);
        worst = worst.worst(runSizes(route, shape, gradients, null));
        if (threads > 1) {
            JniUtils.setNumThreads(1);
            try {
                worst = worst.worst(runSizes(route, shape, gradients, null));
            } finally {
                JniUtils.setNumThreads(threads);
            }
        }
        return worst;
    }

    private static Errors runSizes(ConvRoute route, ConvShape shape, Gradients gradients, Errors worst) {
        for (int[] size : SIZES) {
            int batch = size[0];
            int h = shape.inputSize() > 0 ? shape.inputSize() : shape.inputSizeFor(size[1]);
            int w = shape.inputSize() > 0 ? shape.inputSize() : shape.inputSizeFor(size[2]);
            if (shape.inputSize() > 0 && worst != null) {
                batch = 5; // one input size: vary the batch instead
            }
            Errors e = runOnce(route, shape, gradients, batch, h, w);
            worst = worst == null ? e : worst.worst(e);
        }
        return worst;
    }

    private static Errors runOnce(ConvRoute route, ConvShape s, Gradients gradients, int batch, int h, int w) {
        int oh = s.outputSize(h);
        int ow = s.outputSize(w);
        Random random = new Random(31L * s.hashCode() + batch * 1_000_003L + h * 1009L + w);
        boolean gradMode = JniUtils.isGradMode();
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = normal(m, random, new Shape(batch, s.inChannels(), h, w), 1);
            int fanIn = s.inChannels() / s.groups() * s.kernel() * s.kernel();
            NDArray weight = normal(m, random, new Shape(s.outChannels(), s.inChannels() / s.groups(), s.kernel(), s.kernel()),
                    1 / Math.sqrt(fanIn));
            NDArray bias = normal(m, random, new Shape(s.outChannels()), 1);
            NDArray gradOut = normal(m, random, new Shape(batch, s.outChannels(), oh, ow), 1);
            JniUtils.setGradMode(true);
            double[][] got = compute(route, s, gradients, x, weight, bias, gradOut);
            double[][] ref = compute(REFERENCE, s, gradients, x.toType(DataType.FLOAT64, true),
                    weight.toType(DataType.FLOAT64, true), bias.toType(DataType.FLOAT64, true),
                    gradOut.toType(DataType.FLOAT64, true));
            return new Errors(relative(got[0], ref[0]), gradients.input() ? relative(got[1], ref[1]) : -1,
                    gradients.weight() ? Math.max(relative(got[2], ref[2]), relative(got[3], ref[3])) : -1);
        } finally {
            JniUtils.setGradMode(gradMode);
        }
    }

    /** Output, input gradient, weight gradient, bias gradient (the last three only as asked). */
    private static double[][] compute(ConvRoute route, ConvShape s, Gradients gradients, NDArray x, NDArray weight,
                                      NDArray bias, NDArray gradOut) {
        // fresh leaves, so that gradients never accumulate across calls
        NDArray xl = x.duplicate();
        NDArray wl = weight.duplicate();
        NDArray bl = bias.duplicate();
        xl.setRequiresGradient(gradients.input());
        wl.setRequiresGradient(gradients.weight());
        bl.setRequiresGradient(gradients.weight());
        NDArray y = route.forward(xl, wl, bl, s);
        double[][] out = {doubles(y), null, null, null};
        if (gradients != Gradients.NONE) {
            JniUtils.backward((PtNDArray) y, (PtNDArray) gradOut, false, false);
            if (gradients.input()) {
                out[1] = doubles(xl.getGradient());
            }
            if (gradients.weight()) {
                out[2] = doubles(wl.getGradient());
                out[3] = doubles(bl.getGradient());
            }
        }
        return out;
    }

    private static NDArray normal(NDManager m, Random random, Shape shape, double std) {
        float[] v = new float[Math.toIntExact(shape.size())];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (random.nextGaussian() * std);
        }
        return m.create(v, shape);
    }

    private static double[] doubles(NDArray a) {
        return a.getDataType() == DataType.FLOAT64 ? a.toDoubleArray() : a.toType(DataType.FLOAT64, true).toDoubleArray();
    }

    /** max |a - ref| / max |ref|; NaN when {@code a} has a NaN. */
    static double relative(double[] a, double[] ref) {
        double diff = 0;
        double scale = 1e-30;
        for (int i = 0; i < ref.length; i++) {
            if (Double.isNaN(a[i]) || Double.isInfinite(a[i])) {
                return Double.NaN;
            }
            diff = Math.max(diff, Math.abs(a[i] - ref[i]));
            scale = Math.max(scale, Math.abs(ref[i]));
        }
        return diff / scale;
    }
}
