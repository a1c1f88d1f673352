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
            return right(TOLERANCE);
        }

        /** Whether every checked error is at most {@code tolerance} (a route's own: {@link ConvRoute#tolerance}). */
        public boolean right(double tolerance) {
            return ok(forward, tolerance) && ok(inputGradient, tolerance) && ok(weightGradient, tolerance);
        }

        private static boolean ok(double e, double tolerance) {
            return e == -1 || e <= tolerance; // NaN fails
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
        return run(route, shape, gradients, MemoryLayout.NCHW);
    }

    /** As {@link #run(ConvRoute, ConvShape, Gradients)}, the input and output gradient lying in {@code layout}. */
    public static Errors run(ConvRoute route, ConvShape shape, Gradients gradients, MemoryLayout layout) {
        EngineLogging.apply(); // loads libtorch before the first native call below, quiet
        int threads = JniUtils.getNumThreads();
        Errors worst = null;
        try (GradMode on = GradMode.set(true)) {
            for (int i = 0; i < SIZES.length; i++) {
                int batch = SIZES[i][0];
                int h = shape.inputSize() > 0 ? shape.inputSize() : shape.inputSizeFor(SIZES[i][1]);
                int w = shape.inputSize() > 0 ? shape.inputSize() : shape.inputSizeFor(SIZES[i][2]);
                if (shape.inputSize() > 0 && i > 0) {
                    batch = 5; // one input size: vary the batch instead
                }
                try (NDManager m = NDManager.newBaseManager()) {
                    // the inputs and the reference once per size, the engine's result three times
                    Case c = new Case(m, shape, gradients, batch, h, w, layout);
                    Errors e = c.errors(route).worst(c.errors(route));
                    if (threads > 1) {
                        JniUtils.setNumThreads(1);
                        try {
                            e = e.worst(c.errors(route));
                        } finally {
                            JniUtils.setNumThreads(threads);
                        }
                    }
                    worst = worst == null ? e : worst.worst(e);
                }
            }
        }
        return worst;
    }

    /**
     * Weight and bias gradients computed outside autograd ({@code gradients}: input and output gradient to the weight's
     * and the bias's gradient), checked as {@link #run} checks a route: the largest relative error against the float64
     * reference over every checked size, with this process's threads and with one.
     */
    public static double weightGradientError(ConvShape shape,
                                             java.util.function.BiFunction<NDArray, NDArray, NDArray[]> gradients) {
        EngineLogging.apply();
        int threads = JniUtils.getNumThreads();
        double worst = 0;
        for (int[] size : WINOGRAD_GRADIENT_SIZES) {
            try (NDManager m = NDManager.newBaseManager()) {
                Case c = new Case(m, shape, Gradients.WEIGHT, size[0], shape.inputSizeFor(size[1]),
                        shape.inputSizeFor(size[2]), MemoryLayout.NCHW);
                for (int run = 0; run < (threads > 1 ? 2 : 1); run++) {
                    if (run == 1) {
                        JniUtils.setNumThreads(1);
                    }
                    try (GradMode off = GradMode.set(false)) {
                        NDArray[] got = gradients.apply(c.x, c.gradOut);
                        double e = Math.max(relative(doubles(got[0]), c.reference[2]),
                                relative(doubles(got[1]), c.reference[3]));
                        worst = Double.isNaN(e) || Double.isNaN(worst) ? Double.NaN : Math.max(worst, e);
                    } finally {
                        JniUtils.setNumThreads(threads);
                    }
                }
            }
        }
        return worst;
    }

    /**
     * Batch and output size of {@link #weightGradientError}'s cases: maps of 8 x 9 = 72 and 2 x 4 x 6 = 48 tiles of 4x4,
     * so that the grouped convolution over the tiles runs with 96 and 64 channels per group (after the padding to a
     * multiple of 32, as every count in use is), not the 8 tiles of the small maps above; a float64 reference at the
     * 256 tiles from which training uses the route would cost seconds per shape.
     */
    private static final int[][] WINOGRAD_GRADIENT_SIZES = {{1, 30, 34}, {2, 13, 21}};

    /** Random inputs of one size and the reference's outputs for them. */
    private static final class Case {
        private final ConvShape shape;
        private final Gradients gradients;
        private NDArray x;
        private final NDArray weight;
        private final NDArray bias;
        private NDArray gradOut;
        private final double[][] reference;

        Case(NDManager m, ConvShape s, Gradients gradients, int batch, int h, int w, MemoryLayout layout) {
            this.shape = s;
            this.gradients = gradients;
            java.util.SplittableRandom random = new java.util.SplittableRandom(31L * s.hashCode() + batch * 1_000_003L + h * 1009L + w);
            x = normal(m, random, new Shape(batch, s.inChannels(), h, w), 1);
            int fanIn = s.inChannels() / s.groups() * s.kernel() * s.kernel();
            weight = normal(m, random, new Shape(s.outChannels(), s.inChannels() / s.groups(), s.kernel(), s.kernel()),
                    1 / Math.sqrt(fanIn));
            bias = normal(m, random, new Shape(s.outChannels()), 1);
            gradOut = normal(m, random, new Shape(batch, s.outChannels(), s.outputSize(h), s.outputSize(w)), 1);
            reference = compute(REFERENCE, s, gradients, x.toType(DataType.FLOAT64, true),
                    weight.toType(DataType.FLOAT64, true), bias.toType(DataType.FLOAT64, true),
                    gradOut.toType(DataType.FLOAT64, true));
            if (layout == MemoryLayout.NHWC) { // the same values, in the layout the route is asked about
                x = layout.apply(x);
                gradOut = layout.apply(gradOut);
            }
        }

        Errors errors(ConvRoute route) {
            double[][] got = compute(route, shape, gradients, x, weight, bias, gradOut);
            return new Errors(relative(got[0], reference[0]), gradients.input() ? relative(got[1], reference[1]) : -1,
                    gradients.weight() ? Math.max(relative(got[2], reference[2]), relative(got[3], reference[3])) : -1);
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
        // the check computes what the use will: with autograd off for an inference shape (routes may take another
        // path then, as the bfloat16 one does), on when gradients are asked for
        NDArray y;
        try (GradMode mode = GradMode.set(gradients != Gradients.NONE)) {
            y = route.forward(xl, wl, bl, s);
        }
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

    /**
     * Values of mean 0 and standard deviation {@code std}, uniform (a Gaussian's cost is most of a large shape's
     * check, and nothing here needs its tails).
     */
    private static NDArray normal(NDManager m, java.util.SplittableRandom random, Shape shape, double std) {
        float[] v = new float[Math.toIntExact(shape.size())];
        double halfWidth = std * Math.sqrt(3);
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) ((2 * random.nextDouble() - 1) * halfWidth);
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
