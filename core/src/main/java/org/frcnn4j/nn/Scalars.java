package org.frcnn4j.nn;

import ai.djl.ndarray.NDArray;

/**
 * Arithmetic with a constant that is safe inside an autograd graph.
 *
 * <p>DJL's {@code NDArray.mul(Number)} (and div, pow, maximum, ...) makes the constant a tensor over a Java direct
 * buffer and closes it as soon as the op returns. PyTorch keeps that tensor for the backward pass (d(x*s)/dx = s),
 * and once the buffer is garbage-collected backward reads freed memory: training then differed from run to run and
 * now and then produced NaN. These helpers create the constant in the operand's manager, which keeps it alive until
 * the step's manager closes, after the backward pass.
 */
public final class Scalars {
    private Scalars() {}

    public static NDArray constant(NDArray like, float value) {
        return like.getManager().create(value);
    }

    public static NDArray add(NDArray x, float value) {
        return x.add(constant(x, value));
    }

    public static NDArray mul(NDArray x, float value) {
        return x.mul(constant(x, value));
    }

    public static NDArray div(NDArray x, float value) {
        return x.div(constant(x, value));
    }

    public static NDArray pow(NDArray x, float value) {
        return x.pow(constant(x, value));
    }

    public static NDArray maximum(NDArray x, float value) {
        return x.maximum(constant(x, value));
    }
}
