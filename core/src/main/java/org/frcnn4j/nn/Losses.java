package org.frcnn4j.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/**
 * The loss functions of section 3.1.2 (log loss and smooth L1), on native arrays so that gradients flow. Constants
 * go through {@link Scalars}: DJL's Number overloads are not safe in a graph.
 */
public final class Losses {
    private Losses() {}

    /**
     * Smooth L1 of {@code prediction - target}, summed: 0.5 d^2 / beta where |d| &lt; beta, else |d| - 0.5 beta
     * (Fast R-CNN, equation 3, for beta = 1).
     */
    public static NDArray smoothL1Sum(NDArray prediction, NDArray target, float beta) {
        NDArray d = prediction.sub(target).abs();
        NDArray quadratic = Scalars.mul(d.square(), 0.5f / beta);
        NDArray linear = d.sub(0.5f * beta);
        return NDArrays.where(d.lt(beta), quadratic, linear).sum();
    }

    /** Mean binary log loss of logits against 0/1 labels (torchvision's binary_cross_entropy_with_logits). */
    public static NDArray binaryLogLoss(NDArray logits, NDArray labels) {
        // max(x, 0) - x y + log(1 + exp(-|x|)): stable for large |x|
        NDArray loss = Scalars.maximum(logits, 0f).sub(logits.mul(labels)).add(logits.abs().neg().exp().add(1f).log());
        return loss.mean();
    }

    /** Mean softmax log loss of rows of logits (n, c) against class indices. */
    public static NDArray softmaxLogLoss(NDArray logits, int[] labels) {
        NDManager m = logits.getManager();
        int classes = (int) logits.getShape().get(1);
        long[] flat = new long[labels.length];
        for (int i = 0; i < labels.length; i++) {
            flat[i] = (long) i * classes + labels[i];
        }
        NDArray picked = logits.logSoftmax(1).take(m.create(flat));
        return picked.mean().neg();
    }

    /** A scalar zero that takes part in the graph (for a loss with nothing to measure). */
    public static NDArray zero(NDArray like) {
        return Scalars.mul(like.sum(), 0f);
    }

    /** Entries of a flattened array at the given indices. */
    public static NDArray gather(NDArray array, long[] flatIndices) {
        return array.take(array.getManager().create(flatIndices, new Shape(flatIndices.length)));
    }
}
