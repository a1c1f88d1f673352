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
}
