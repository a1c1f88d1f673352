package org.frcnn4j.nn;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import java.util.ArrayList;
import java.util.List;
import org.frcnn4j.nn.ConvCheck.Gradients;
import org.junit.jupiter.api.Test;

/**
 * The hand-written backward pass of a conv + ReLU (+ pool) chain gives autograd's gradients: through the ReLUs and
 * pools, into every trained weight and bias, stopping at the lowest trained layer; the input gradient by the turned
 * kernel is the definition's.
 */
@org.junit.jupiter.api.Tag("numerics")
class ChainTapeTest {
    /**
     * An image layer (3 input channels), a pool (ceil mode) on an odd map, two 256-channel layers on 17 x 17 tiles of
     * 4 x 4 (enough for the Winograd weight gradient too), the last without a pool (as VGG-16's conv5_3).
     */
    private static final int[][] LAYERS = {{3, 16}, {16, 256}, {256, 256}, {256, 256}};
    private static final List<Boolean> POOL_AFTER = List.of(false, true, false, false);

    /**
     * On a map whose last tiles reach past its edge (30 x 34: 8 x 9 tiles of 4 x 4), against the definition in float64
     * ({@link ConvReference}): the input gradient as a forward convolution of the output gradient with the kernel turned
     * by 180 degrees and its channels swapped (Winograd's route, where this machine's inference takes it), and the
     * weight and bias gradients by Winograd's F(4x4, 3x3) run backwards.
     */
    @Test
    void gradientsByWinogradAreTheDefinitions() {
        ConvShape s = ConvShape.of(256, 256, 3, 1, 1);
        try (NDManager m = NDManager.newBaseManager()) {
            m.getEngine().setRandomSeed(6);
            NDArray x = m.randomNormal(new Shape(1, 256, 30, 34));
            NDArray w = m.randomNormal(new Shape(256, 256, 3, 3)).div(48);
            NDArray g = m.randomNormal(new Shape(1, 256, 30, 34));
            NDArray input;
            NDArray[] weight;
            try (GradMode off = GradMode.set(false)) {
                // below the tiles at which the transform pays for a gradient, the guard leaves it to the engine
                assertThat(ConvGuard.shared().inputGradientByWinograd(g, w, s)).isNull();
                ConvRoute route = ConvGuard.shared().inferenceRoute(s, 68, 68);
                org.junit.jupiter.api.Assumptions.assumeTrue(
                        route instanceof ConvRoute.WinogradProducts || route instanceof ConvRoute.Winograd,
                        "no Winograd route for this shape on this machine");
                // on a map of 17 x 17 tiles it takes the route
                try (NDArray large = m.randomNormal(new Shape(1, 256, 68, 68));
                     NDArray byWinograd = ConvGuard.shared().inputGradientByWinograd(large, w, s)) {
                    assertThat(byWinograd).isNotNull();
                }
                // the computations themselves on the small map (the chain test below checks the larger maps' gradients)
                input = ConvGuard.shared().winogradInputGradient(g, w, s);
                weight = ScriptedOps.winogradWeightGradient(x, g, s.padding());
            }
            ConvReference ref = new ConvReference(s, 1, 30, 34, x.toFloatArray(), w.toFloatArray(), null, g.toFloatArray());
            assertThat(ConvCheck.relative(doubles(input), ref.inputGradient)).as("input").isLessThan(1e-4);
            assertThat(ConvCheck.relative(doubles(weight[0]), ref.weightGradient)).as("weight").isLessThan(1e-4);
            assertThat(ConvCheck.relative(doubles(weight[1]), ref.biasGradient)).as("bias").isLessThan(1e-5);
        }
    }

    private static double[] doubles(NDArray a) {
        float[] f = a.toFloatArray();
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }

    /**
     * With the direct arithmetic (Winograd off), the hand-written pass runs the kernels autograd runs: its gradients
     * are autograd's to float rounding.
     */
    /**
     * The pool's values and positions are each window's first maximum in row-major order, a NaN taking the place of any
     * number (libtorch's rule, which the backward pass's gradient routing relies on): on maps of few distinct values
     * (ties everywhere, as ReLU's zeros and flat image regions make them), with NaN and -inf, odd sizes, both modes.
     */
    @Test
    void poolPositionsAreEachWindowsFirstMaximum() {
        java.util.Random r = new java.util.Random(7);
        float[] levels = {0f, 0f, 0f, 1f, 2f, 2f, Float.NaN, Float.NEGATIVE_INFINITY};
        try (NDManager m = NDManager.newBaseManager()) {
            for (int k : new int[] {2, 3}) {
                for (boolean ceil : new boolean[] {false, true}) {
                    int n = 2, c = 3, h = 7 + k, w = 9;
                    float[] x = new float[n * c * h * w];
                    for (int i = 0; i < x.length; i++) {
                        x[i] = levels[r.nextInt(levels.length)];
                    }
                    NDArray[] got = ScriptedOps.maxPoolWithIndices(m.create(x, new Shape(n, c, h, w)), k, ceil);
                    int oh = pooled(h, k, ceil), ow = pooled(w, k, ceil);
                    assertThat(got[0].getShape()).isEqualTo(new Shape(n, c, oh, ow));
                    float[] values = got[0].toFloatArray();
                    long[] positions = got[1].toLongArray();
                    for (int plane = 0; plane < n * c; plane++) {
                        for (int i = 0; i < oh; i++) {
                            for (int j = 0; j < ow; j++) {
                                float best = Float.NEGATIVE_INFINITY;
                                int at = i * k * w + j * k;
                                for (int y = i * k; y < Math.min(i * k + k, h); y++) {
                                    for (int z = j * k; z < Math.min(j * k + k, w); z++) {
                                        float v = x[plane * h * w + y * w + z];
                                        if (v > best || Float.isNaN(v)) {
                                            best = v;
                                            at = y * w + z;
                                        }
                                    }
                                }
                                int o = (plane * oh + i) * ow + j;
                                String where = "k " + k + (ceil ? " ceil" : "") + ", plane " + plane + ", window " + i + "," + j;
                                assertThat(positions[o]).as(where).isEqualTo(at);
                                assertThat(Float.floatToIntBits(values[o])).as(where).isEqualTo(Float.floatToIntBits(best));
                            }
                        }
                    }
                }
            }
        }
    }

    /** Windows along a side of {@code size} (no padding, stride k), as libtorch counts them. */
    private static int pooled(int size, int k, boolean ceil) {
        int out = (size - k + (ceil ? k - 1 : 0)) / k + 1;
        return ceil && (out - 1) * k >= size ? out - 1 : out;
    }

    @Test
    void givesAutogradsGradientsToEveryLayer() {
        withDirectArithmetic(() -> againstAutograd(0, 1e-5));
    }

    /**
     * With the wide layers' forward passes and gradients by Winograd (this machine's default), the gradients are
     * autograd's of slightly different activations: rounding near 1e-6 of the range that moves a ReLU's or a pool's
     * choice here and there, as the Winograd forward pass does in LossParityTest (measured: up to 3.5e-3 of the largest
     * element, the top layer's weight gradient with oneDNN's AVX2 kernels; within 2e-3 with its AVX-512 ones).
     */
    @Test
    void givesAutogradsGradientsThroughWinogradsArithmetic() {
        againstAutograd(0, 5e-3);
    }

    /**
     * Where the guard finds the engine's gradient kernels wrong for a shape (here: for every shape, by a guard whose
     * checks say so), the layer's gradients come from autograd through the route that checked out (channels padded):
     * still autograd's gradients.
     */
    @Test
    void shapesWithWrongEngineGradientsTakeAutogradThroughTheirRoute() {
        ConvGuard engineGradientsWrong = new ConvGuard((route, shape, g, layout) ->
                route instanceof ConvRoute.Direct && g != Gradients.NONE ? new ConvCheck.Errors(0, 1, 1)
                        : new ConvCheck.Errors(0, g.input() ? 0 : -1, g.weight() ? 0 : -1), null);
        withDirectArithmetic(() -> againstAutograd(engineGradientsWrong, 0, 1e-5));
    }

    /** Frozen lower layers (the paper's VGG-16 fine-tunes from conv3_1): no gradient below the lowest trained layer. */
    @Test
    void stopsAtTheLowestTrainedLayer() {
        withDirectArithmetic(() -> againstAutograd(2, 1e-5));
    }

    /** Runs {@code test} with the Winograd routes off (oneDNN's direct kernels, autograd's arithmetic). */
    private static void withDirectArithmetic(Runnable test) {
        boolean winograd = EngineFacts.setWinogradConvolutions(false);
        try {
            test.run();
        } finally {
            EngineFacts.setWinogradConvolutions(winograd);
        }
    }

    /**
     * Two images' passes on two threads at once (the trainer's data-parallel iteration) add into the same parameters'
     * gradients: the sums of the two passes one after the other, to float rounding (a + b or b + a).
     */
    @Test
    void passesOnTwoThreadsAddUpAsOneAfterTheOther() throws Exception {
        try (NDManager m = NDManager.newBaseManager(); Parameters p = new Parameters(m, 4)) {
            List<Layers.Conv> convs = convs(p, 0);
            m.getEngine().setRandomSeed(4);
            NDArray[] images = {m.randomNormal(new Shape(1, 3, 129, 131)), m.randomNormal(new Shape(1, 3, 129, 131))};
            NDArray weighting = m.randomNormal(new Shape(1, 256, 65, 66));
            for (NDArray image : images) {
                handPass(m, convs, image, weighting);
            }
            List<float[]> sequential = gradients(convs);
            zeroGradients(convs);
            java.util.concurrent.ExecutorService two = java.util.concurrent.Executors.newFixedThreadPool(2);
            try {
                for (int round = 0; round < 3; round++) {
                    zeroGradients(convs);
                    java.util.concurrent.CountDownLatch start = new java.util.concurrent.CountDownLatch(1);
                    List<java.util.concurrent.Future<?>> done = new ArrayList<>();
                    for (NDArray image : images) {
                        done.add(two.submit(() -> {
                            start.await();
                            handPass(m, convs, image, weighting);
                            return null;
                        }));
                    }
                    start.countDown();
                    for (java.util.concurrent.Future<?> f : done) {
                        f.get();
                    }
                    List<float[]> together = gradients(convs);
                    for (int i = 0; i < together.size(); i++) {
                        float[] a = sequential.get(i);
                        float[] t = together.get(i);
                        double scale = 0;
                        double worst = 0;
                        for (int j = 0; j < a.length; j++) {
                            scale = Math.max(scale, Math.abs(a[j]));
                            worst = Math.max(worst, Math.abs(a[j] - t[j]));
                        }
                        assertThat(worst / scale).as("round " + round + ", parameter " + i).isLessThan(1e-5);
                    }
                }
            } finally {
                two.shutdownNow();
            }
        }
    }

    /** One image's forward pass through the chain and its hand-written backward pass, on the calling thread. */
    private static void handPass(NDManager m, List<Layers.Conv> convs, NDArray image, NDArray weighting) {
        try (NDManager step = m.newSubManager(); GradMode on = GradMode.set(true);
             HandBackward.Scope hand = HandBackward.open()) {
            NDArray y = ChainTape.forward(image, convs, POOL_AFTER, 2, true);
            NDArray loss = y.mul(weighting).sum();
            JniUtils.backward((PtNDArray) loss, (PtNDArray) loss.onesLike(), false, false);
            hand.backward();
        }
    }

    @Test
    void withoutAScopeTheChainRecordsForAutograd() {
        try (NDManager m = NDManager.newBaseManager(); Parameters p = new Parameters(m, 3);
             GradMode on = GradMode.set(true)) {
            List<Layers.Conv> convs = convs(p, 0);
            assertThat(ChainTape.forward(m.randomNormal(new Shape(1, 3, 16, 16)), convs, POOL_AFTER, 2, true)).isNull();
        }
    }

    /**
     * The chain's output and the gradients of a fixed weighting of it, by hand and by autograd (the layers one by one),
     * with the layers below {@code frozen} not training: every gradient within {@code tolerance} of the largest element.
     */
    private static void againstAutograd(int frozen, double tolerance) {
        againstAutograd(ConvGuard.shared(), frozen, tolerance);
    }

    private static void againstAutograd(ConvGuard guard, int frozen, double tolerance) {
        try (NDManager m = NDManager.newBaseManager(); Parameters p = new Parameters(m, 9)) {
            List<Layers.Conv> convs = convs(p, frozen);
            m.getEngine().setRandomSeed(9);
            // 129 x 131 -> pool (ceil) 65 x 66: the ceil mode's partial windows take part
            NDArray x = m.randomNormal(new Shape(1, 3, 129, 131));
            NDArray weighting = m.randomNormal(new Shape(1, 256, 65, 66));
            List<float[]> byAutograd = new ArrayList<>();
            NDArray expected;
            try (NDManager step = m.newSubManager(); GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray y = LayerByLayer.forward(x, convs, POOL_AFTER, true);
                expected = y.duplicate();
                expected.attach(m);
                gc.backward(y.mul(weighting).sum());
                byAutograd = gradients(convs);
            }
            zeroGradients(convs);
            try (NDManager step = m.newSubManager(); GradientCollector gc = Engine.getInstance().newGradientCollector();
                 HandBackward.Scope hand = HandBackward.open()) {
                NDArray y = ChainTape.forward(guard, x, convs, POOL_AFTER, 2, true);
                assertThat(y).isNotNull();
                if (EngineFacts.winogradConvolutions() && EngineFacts.winogradRoute() instanceof ConvRoute.WinogradProducts) {
                    // the two wide layers' weight gradients take Winograd's route here (checked for the shape first)
                    try (GradMode off = GradMode.set(false)) {
                        assertThat(ConvGuard.shared().weightGradientByWinograd(y, y, convs.get(3).shape())).isNotNull();
                    }
                }
                float scale = expected.abs().max().getFloat();
                assertThat(y.sub(expected).abs().max().getFloat() / scale).as("output").isLessThan(1e-4f);
                gc.backward(y.mul(weighting).sum());
                hand.backward();
                // the hand pass works in place only on gradients it made itself: autograd's at the output stays as it was
                assertThat(y.getGradient().contentEquals(weighting)).as("the output's gradient").isTrue();
            }
            List<float[]> byHand = gradients(convs);
            for (int i = 0; i < byHand.size(); i++) {
                float[] a = byAutograd.get(i);
                float[] h = byHand.get(i);
                String what = "parameter " + i + " (layer " + i / 2 + ")";
                if (i / 2 < frozen) {
                    continue; // not trained: no gradient asked for
                }
                double scale = 0;
                double worst = 0;
                for (int j = 0; j < a.length; j++) {
                    scale = Math.max(scale, Math.abs(a[j]));
                    worst = Math.max(worst, Math.abs(a[j] - h[j]));
                }
                assertThat(scale).as(what).isPositive();
                assertThat(worst / scale).as(what).isLessThan(tolerance);
            }
        }
    }

    private static List<Layers.Conv> convs(Parameters p, int frozen) {
        List<Layers.Conv> convs = new ArrayList<>();
        for (int i = 0; i < LAYERS.length; i++) {
            Layers.Conv c = Layers.Conv.create(p, "c" + i, LAYERS[i][0], LAYERS[i][1], 3, 1, 1);
            c.weight().setRequiresGradient(i >= frozen);
            c.bias().setRequiresGradient(i >= frozen);
            convs.add(i == 0 ? c.onImage() : c);
        }
        return convs;
    }

    /** Weight and bias gradients of every layer, in order (null where a parameter has none). */
    private static List<float[]> gradients(List<Layers.Conv> convs) {
        List<float[]> out = new ArrayList<>();
        for (Layers.Conv c : convs) {
            for (NDArray a : new NDArray[] {c.weight(), c.bias()}) {
                PtNDArray g = JniUtils.requiresGrad((PtNDArray) a) ? JniUtils.getGradient((PtNDArray) a) : null;
                out.add(g == null ? null : g.toFloatArray());
            }
        }
        return out;
    }

    private static void zeroGradients(List<Layers.Conv> convs) {
        for (Layers.Conv c : convs) {
            for (NDArray a : new NDArray[] {c.weight(), c.bias()}) {
                if (JniUtils.requiresGrad((PtNDArray) a)) {
                    JniUtils.zeroGrad((PtNDArray) a);
                }
            }
        }
    }
}
