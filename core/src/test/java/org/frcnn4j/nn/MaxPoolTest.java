package org.frcnn4j.nn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.pooling.Pool;
import ai.djl.training.GradientCollector;
import org.junit.jupiter.api.Test;

/** The pool by element-wise maxima is libtorch's max pool, float for float, at every size, padding and ceil mode. */
class MaxPoolTest {
    @Test
    void maximaEqualLibtorchsPoolExactly() {
        int[][] configs = {{2, 2, 0}, {3, 2, 1}, {3, 2, 0}, {3, 1, 1}, {2, 1, 0}};
        int[][] sizes = {{8, 8}, {9, 7}, {5, 6}, {3, 4}, {2, 2}, {17, 31}};
        try (NDManager m = NDManager.newBaseManager()) {
            for (int[] c : configs) {
                for (boolean ceil : new boolean[] {false, true}) {
                    MaxPool pool = new MaxPool(c[0], c[1], c[2], ceil);
                    for (int[] hw : sizes) {
                        if (hw[0] + 2 * c[2] < c[0] || hw[1] + 2 * c[2] < c[0]) {
                            continue;
                        }
                        // negative values (no ReLU before), and ties: rounded to a few levels
                        NDArray x = m.randomUniform(-3, 3, new Shape(2, 3, hw[0], hw[1])).round();
                        NDArray expected = Pool.maxPool2d(x, new Shape(c[0], c[0]), new Shape(c[1], c[1]),
                                new Shape(c[2], c[2]), ceil);
                        NDArray actual = pool.byMaxima(x);
                        String what = c[0] + "x" + c[0] + "/" + c[1] + " pad " + c[2] + (ceil ? " ceil " : " floor ")
                                + hw[0] + "x" + hw[1];
                        assertThat(actual.getShape()).as(what).isEqualTo(expected.getShape());
                        assertThat(pool.outputSize(hw[0])).as(what).isEqualTo(expected.getShape().get(2));
                        // equal values (a maximum does not round; of 0 and -0 either may come out)
                        assertThat(actual.eq(expected).all().getBoolean()).as(what).isTrue();
                        // forward() takes the maxima when autograd is off; the thread's mode is given back as found
                        try (GradMode off = GradMode.set(false)) {
                            assertThat(pool.forward(x).eq(expected).all().getBoolean()).as(what).isTrue();
                        }
                    }
                }
            }
        }
    }

    @Test
    void trainingKeepsLibtorchsGradientThatGoesToOneElementOfATie() {
        MaxPool pool = new MaxPool(2, 2, 0, false);
        try (NDManager m = NDManager.newBaseManager()) {
            // one window of four equal values: libtorch's pool gives its gradient to one of them, not a quarter to each
            NDArray x = m.ones(new Shape(1, 1, 2, 2));
            x.setRequiresGradient(true);
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                gc.backward(pool.forward(x).sum());
            }
            assertThat(x.getGradient().toFloatArray()).containsExactlyInAnyOrder(1f, 0f, 0f, 0f);
            // and when the pool's input is computed from a parameter (a layer's output, as in training)
            NDArray weight = m.ones(new Shape(1, 1, 2, 2));
            weight.setRequiresGradient(true);
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                gc.backward(pool.forward(weight.mul(2f)).sum());
            }
            assertThat(weight.getGradient().toFloatArray()).containsExactlyInAnyOrder(2f, 0f, 0f, 0f);
        }
    }

    @Test
    void trainingPoolOf3x3WindowsHasLibtorchsValuesAndGradientsExactly() {
        int[][] sizes = {{8, 8}, {9, 7}, {5, 6}, {3, 4}, {17, 31}, {40, 54}};
        try (NDManager m = NDManager.newBaseManager()) {
            for (int padding = 0; padding <= 1; padding++) {
                for (boolean ceil : new boolean[] {false, true}) {
                    MaxPool pool = new MaxPool(3, 2, padding, ceil);
                    for (int[] hw : sizes) {
                        String what = "3x3/2 pad " + padding + (ceil ? " ceil " : " floor ") + hw[0] + "x" + hw[1];
                        // ties (a few levels, zeros as after a ReLU) and negative values; an upstream gradient that
                        // differs per output, so that a gradient sent to the wrong element of a window shows
                        NDArray base = m.randomUniform(-2, 4, new Shape(2, 3, hw[0], hw[1])).round();
                        float[][] values = new float[2][];
                        float[][] grads = new float[2][];
                        for (int route = 0; route < 2; route++) {
                            NDArray leaf = base.duplicate();
                            leaf.setRequiresGradient(true);
                            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                                NDArray x = leaf.mul(1f); // computed, as a layer's output is
                                NDArray y = route == 0 ? Pool.maxPool2d(x, new Shape(3, 3), new Shape(2, 2),
                                        new Shape(padding, padding), ceil) : pool.forward(x);
                                NDArray upstream = m.arange((float) y.getShape().size()).reshape(y.getShape()).sin();
                                values[route] = y.toFloatArray();
                                gc.backward(y.mul(upstream).sum());
                            }
                            grads[route] = leaf.getGradient().toFloatArray();
                        }
                        assertThat(values[1]).as(what).containsExactly(values[0]);
                        assertThat(grads[1]).as(what).containsExactly(grads[0]);
                    }
                }
            }
        }
    }

    @Test
    void refusesWindowsThatPaddingCouldFill() {
        assertThatThrownBy(() -> new MaxPool(2, 2, 2, false)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new MaxPool(0, 2, 0, false)).isInstanceOf(IllegalArgumentException.class);
    }
}
