package org.frcnn4j.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import java.util.List;
import org.frcnn4j.nn.GradMode;
import org.frcnn4j.nn.Parameters;
import org.junit.jupiter.api.Test;

class SgdTest {
    /**
     * torch.optim.SGD's momentum update, w -= lr (mu v + g), taken twice with the gradient 0.5 of a weight 1: 0.95 then
     * 0.855. Run with autograd left on, as a thread may find it: the update must not be recorded (libtorch refuses an
     * in-place change of a leaf that requires gradients while recording), and the caller's mode comes back.
     */
    @Test
    void momentumStepsAsTorchAndWhateverTheGradMode() {
        try (NDManager m = NDManager.newBaseManager(); // loads libtorch before the first direct call below
             GradMode restore = GradMode.set(JniUtils.isGradMode());
             Parameters params = new Parameters(m, 1);
             Sgd sgd = new Sgd(new TrainConfig.Solver(0.1, 0.9, 0.0, 2.0, TrainConfig.Decay.STEP, new double[0], 0.1, 0,
                     1.0, 0.0), m)) {
            NDArray w = params.get("layer.weight", new Shape(3), new Parameters.Constant(1f));
            w.setRequiresGradient(true);
            float[] expected = {0.95f, 0.855f};
            for (float after : expected) {
                try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    gc.backward(w.mul(0.5f).sum());
                }
                JniUtils.setGradMode(true);
                sgd.step(params, List.of("layer.weight"), 0.1);
                assertThat(JniUtils.isGradMode()).isTrue();
                assertThat(w.toFloatArray()).containsOnly(w.toFloatArray()[0]);
                assertThat((double) w.toFloatArray()[0]).isCloseTo(after, within(1e-6));
                assertThat(w.getGradient().abs().sum().getFloat()).isZero();
            }
        }
    }

    /**
     * Three steps with everything the solver does at once, against its definition in double precision: weight decay on
     * weights only (not on biases nor normalisation parameters), biases at twice the rate, and the global gradient norm
     * clipped (the gradients here have norm ~9 against a bound of 1, so every step clips). The fused update groups the
     * parameters by decay and rate; each must get its own.
     */
    @Test
    void decayRatesAndClippingFollowTheDefinition() {
        double lr = 0.05;
        double mu = 0.9;
        double wd = 0.01;
        double clipAt = 1.0;
        String[] names = {"a.weight", "a.bias", "b.norm.weight", "c.weight"};
        int[] sizes = {12, 4, 4, 5};
        try (NDManager m = NDManager.newBaseManager();
             Parameters params = new Parameters(m, 7);
             Sgd sgd = new Sgd(new TrainConfig.Solver(lr, mu, wd, 2.0, TrainConfig.Decay.STEP, new double[0], 0.1, 0,
                     1.0, clipAt), m)) {
            java.util.SplittableRandom random = new java.util.SplittableRandom(5);
            double[][] w = new double[names.length][];
            double[][] v = new double[names.length][];
            NDArray[] arrays = new NDArray[names.length];
            for (int p = 0; p < names.length; p++) {
                w[p] = random.doubles(sizes[p], -1, 1).toArray();
                float[] init = new float[sizes[p]];
                for (int i = 0; i < init.length; i++) {
                    init[i] = (float) w[p][i];
                    w[p][i] = init[i];
                }
                arrays[p] = params.get(names[p], new Shape(sizes[p]), new Parameters.Constant(0f));
                arrays[p].set(java.nio.FloatBuffer.wrap(init));
                arrays[p].setRequiresGradient(true);
            }
            for (int step = 0; step < 3; step++) {
                float[][] g = new float[names.length][];
                double sq = 0;
                for (int p = 0; p < names.length; p++) {
                    g[p] = new float[sizes[p]];
                    for (int i = 0; i < sizes[p]; i++) {
                        g[p][i] = (float) random.nextDouble(-4, 4);
                        sq += (double) g[p][i] * g[p][i];
                    }
                }
                try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    NDArray loss = null;
                    for (int p = 0; p < names.length; p++) {
                        NDArray term = arrays[p].mul(m.create(g[p])).sum();
                        loss = loss == null ? term : loss.add(term);
                    }
                    gc.backward(loss);
                }
                sgd.step(params, List.of(names), lr);
                double scale = Math.min(1.0, clipAt / Math.sqrt(sq));
                assertThat(scale).isLessThan(1.0);
                for (int p = 0; p < names.length; p++) {
                    boolean bias = names[p].endsWith(".bias");
                    boolean decays = !bias && !names[p].contains(".norm.");
                    if (v[p] == null) {
                        v[p] = new double[sizes[p]];
                    }
                    float[] got = arrays[p].toFloatArray();
                    for (int i = 0; i < sizes[p]; i++) {
                        double d = g[p][i] * scale + (decays ? wd * w[p][i] : 0);
                        v[p][i] = step == 0 ? d : mu * v[p][i] + d;
                        w[p][i] -= lr * (bias ? 2.0 : 1.0) * v[p][i];
                        assertThat((double) got[i]).as("%s[%d] after step %d", names[p], i, step + 1)
                                .isCloseTo(w[p][i], within(1e-5));
                    }
                    assertThat(arrays[p].getGradient().abs().sum().getFloat()).isZero();
                }
            }
        }
    }

    /** Without momentum the step is w -= lr g (0.95, then 0.9) and no velocity is kept (the fused kernel takes none). */
    @Test
    void withoutMomentumEachStepIsTheGradientAlone() {
        try (NDManager m = NDManager.newBaseManager();
             Parameters params = new Parameters(m, 1);
             Sgd sgd = new Sgd(new TrainConfig.Solver(0.1, 0.0, 0.0, 2.0, TrainConfig.Decay.STEP, new double[0], 0.1, 0,
                     1.0, 0.0), m)) {
            NDArray w = params.get("layer.weight", new Shape(3), new Parameters.Constant(1f));
            w.setRequiresGradient(true);
            for (float after : new float[] {0.95f, 0.9f}) {
                try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    gc.backward(w.mul(0.5f).sum());
                }
                sgd.step(params, List.of("layer.weight"), 0.1);
                assertThat((double) w.toFloatArray()[2]).isCloseTo(after, within(1e-6));
            }
        }
    }
}
