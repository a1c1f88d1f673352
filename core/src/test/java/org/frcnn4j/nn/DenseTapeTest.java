package org.frcnn4j.nn;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import org.junit.jupiter.api.Test;

/**
 * fc6 as a convolution with its backward pass written out by hand gives autograd's gradients: its weight's, its
 * bias's, and, through a second backward call, those of whatever lies below it; with nothing below it learning, no
 * input gradient is asked of autograd.
 */
@org.junit.jupiter.api.Tag("numerics")
class DenseTapeTest {
    /** 37 RoIs (padded to 64 by the pass) of 24 x 7 x 7 features into 40 outputs. */
    private static final int ROIS = 37;
    private static final int CHANNELS = 24;
    private static final int OUT = 40;

    @Test
    void givesAutogradsGradients() {
        try (NDManager m = NDManager.newBaseManager(); Parameters p = new Parameters(m, 5)) {
            Case c = new Case(m, p, 5);
            float[][] byAutograd;
            try (NDManager step = m.newSubManager(); GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray y = c.fc6().forwardFlattened(c.features().mul(c.scale()), true);
                gc.backward(y.getNDArrayInternal().relu().mul(c.weighting()).sum());
                byAutograd = gradients(c.fc6().weight(), c.fc6().bias(), c.scale());
            }
            zero(c.fc6().weight(), c.fc6().bias(), c.scale());
            try (NDManager step = m.newSubManager(); GradientCollector gc = Engine.getInstance().newGradientCollector();
                 HandBackward.Scope hand = HandBackward.open()) {
                NDArray y = c.fc6().forwardFlattened(c.features().mul(c.scale()), true,
                        HandBackward.Below.HAND_WRITTEN);
                gc.backward(y.getNDArrayInternal().relu().mul(c.weighting()).sum());
                hand.backward();
                float[][] byHand = gradients(c.fc6().weight(), c.fc6().bias(), c.scale());
                String[] names = {"weight", "bias", "the layer below"};
                for (int i = 0; i < names.length; i++) {
                    assertThat(byHand[i]).as(names[i]).isNotNull();
                    assertThat(relative(byHand[i], byAutograd[i])).as(names[i]).isLessThan(1e-5);
                }
            }
        }
    }

    /** Nothing below fc6 learns (a frozen backbone): the weight's and bias's gradients as autograd's, and no error. */
    @Test
    void withNothingBelowLearningOnlyTheLayersOwn() {
        try (NDManager m = NDManager.newBaseManager(); Parameters p = new Parameters(m, 6)) {
            Layers.Dense fc6 = dense(p);
            m.getEngine().setRandomSeed(6);
            NDArray features = m.randomNormal(new Shape(ROIS + 27, CHANNELS, 7, 7)); // 64 rows: no padding
            NDArray weighting = m.randomNormal(new Shape(ROIS + 27, OUT));
            float[][] byAutograd;
            try (NDManager step = m.newSubManager(); GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                gc.backward(fc6.forwardFlattened(features, true).mul(weighting).sum());
                byAutograd = gradients(fc6.weight(), fc6.bias());
            }
            zero(fc6.weight(), fc6.bias());
            try (NDManager step = m.newSubManager(); GradientCollector gc = Engine.getInstance().newGradientCollector();
                 HandBackward.Scope hand = HandBackward.open()) {
                gc.backward(fc6.forwardFlattened(features, true, HandBackward.Below.FROZEN).mul(weighting).sum());
                hand.backward();
                float[][] byHand = gradients(fc6.weight(), fc6.bias());
                assertThat(relative(byHand[0], byAutograd[0])).as("weight").isLessThan(1e-5);
                assertThat(relative(byHand[1], byAutograd[1])).as("bias").isLessThan(1e-5);
            }
        }
    }

    /**
     * Below the layer, layers recorded for autograd whose graph the loss also reaches another way (as the RPN reaches
     * the backbone): the first backward call frees that graph, so the layer is recorded for autograd too, and the
     * gradients are autograd's.
     */
    @Test
    void aboveRecordedLayersTheLayerIsRecordedToo() {
        try (NDManager m = NDManager.newBaseManager(); Parameters p = new Parameters(m, 8)) {
            Case c = new Case(m, p, 8);
            float[][] expected = null;
            for (boolean scoped : new boolean[] {false, true}) {
                zero(c.fc6().weight(), c.fc6().bias(), c.scale());
                // without a scope autograd's pass, whatever the layer is told: the reference
                try (NDManager step = m.newSubManager();
                     GradientCollector gc = Engine.getInstance().newGradientCollector();
                     HandBackward.Scope hand = scoped ? HandBackward.open() : null) {
                    NDArray shared = c.features().mul(c.scale()); // saves its inputs: the shared part of the graph
                    NDArray y = c.fc6().forwardFlattened(shared, true, HandBackward.Below.RECORDED);
                    gc.backward(y.mul(c.weighting()).sum().add(shared.mul(shared).sum()));
                    if (hand != null) {
                        hand.backward();
                    }
                    float[][] got = gradients(c.fc6().weight(), c.fc6().bias(), c.scale());
                    if (expected == null) {
                        expected = got;
                    } else {
                        String[] names = {"weight", "bias", "the layer below"};
                        for (int i = 0; i < got.length; i++) {
                            assertThat(relative(got[i], expected[i])).as(names[i]).isLessThan(1e-6);
                        }
                    }
                }
            }
        }
    }

    /** Without a scope (a caller that will not run the hand-written passes) the layer is recorded for autograd. */
    @Test
    void withoutAScopeTheLayerRecordsForAutograd() {
        try (NDManager m = NDManager.newBaseManager(); Parameters p = new Parameters(m, 7);
             GradMode on = GradMode.set(true)) {
            Layers.Dense fc6 = dense(p);
            NDArray x = m.randomNormal(new Shape(3, CHANNELS, 7, 7));
            NDArray kernel = fc6.weight().reshape(OUT, CHANNELS, 7, 7);
            ConvShape shape = fc6.flattenedShape(CHANNELS, 7);
            assertThat(DenseTape.forward(ConvGuard.shared(), x, kernel, fc6.weight(), fc6.bias(), shape, true)).isNull();
            try (HandBackward.Scope hand = HandBackward.open()) {
                assertThat(DenseTape.forward(ConvGuard.shared(), x, kernel, fc6.weight(), fc6.bias(), shape, true))
                        .isNotNull();
            }
        }
    }

    /**
     * fc6, its input features, a fixed weighting of its output, and a learning layer below it (a scale per channel, so
     * that an input gradient has somewhere to go), from one seed.
     */
    private record Case(Layers.Dense fc6, NDArray features, NDArray weighting, NDArray scale) {
        Case(NDManager m, Parameters p, int seed) {
            this(dense(p), seeded(m, seed).randomNormal(new Shape(ROIS, CHANNELS, 7, 7)),
                    m.randomNormal(new Shape(ROIS, OUT)), learning(m.randomNormal(new Shape(1, CHANNELS, 1, 1))));
        }

        private static NDManager seeded(NDManager m, int seed) {
            m.getEngine().setRandomSeed(seed);
            return m;
        }

        private static NDArray learning(NDArray a) {
            a.setRequiresGradient(true);
            return a;
        }
    }

    private static Layers.Dense dense(Parameters p) {
        Layers.Dense d = Layers.Dense.create(p, "fc6", CHANNELS * 49, OUT, new Parameters.Normal(0.05),
                new Parameters.Normal(0.1));
        d.weight().setRequiresGradient(true);
        d.bias().setRequiresGradient(true);
        return d;
    }

    private static float[][] gradients(NDArray... arrays) {
        float[][] out = new float[arrays.length][];
        for (int i = 0; i < arrays.length; i++) {
            PtNDArray g = JniUtils.getGradient((PtNDArray) arrays[i]);
            out[i] = g == null ? null : g.toFloatArray();
        }
        return out;
    }

    private static void zero(NDArray... arrays) {
        for (NDArray a : arrays) {
            JniUtils.zeroGrad((PtNDArray) a);
        }
    }

    /** The largest difference relative to the largest element of {@code expected}. */
    private static double relative(float[] got, float[] expected) {
        double diff = 0;
        double scale = 0;
        for (int i = 0; i < expected.length; i++) {
            diff = Math.max(diff, Math.abs(got[i] - expected[i]));
            scale = Math.max(scale, Math.abs(expected[i]));
        }
        return diff / scale;
    }
}
