package org.frcnn4j.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import org.frcnn4j.nn.ConvCheck.Gradients;

/**
 * The training pass of a fully connected layer over flattened (R, C, S, S) maps that runs as an S x S convolution
 * ({@link Layers.Dense#forwardFlattened}: fc6 of the box head on AVX-512 EPYCs), with its backward pass written out by
 * hand ({@link HandBackward}). Its gradients are two matrix products, each run as a 1x1 convolution of oneDNN's:
 * <ul>
 *   <li>the weight's, {@code g^T X} (out x in): X's rows as the channels of a map whose positions are the in features,
 *   {@code g^T} as the 1x1 kernels;</li>
 *   <li>the input's, {@code g W} (R x in): W's rows as the channels of a map over the in features, {@code g} as the
 *   kernels;</li>
 * </ul>
 * both on the arrays as they lie (only {@code g}, R x out, is transposed). Autograd's pass for the S x S convolution
 * runs oneDNN's backward kernels for it, whose weight gradient is the slow half: on the family-26 EPYC (2 threads,
 * VGG-16's 512 x 7 x 7 -> 1024, medians of 7) 169 against 120 ms for 352 RoIs and 226 against 178 ms for 512, the
 * weight gradient alone 91 and 115 against 60 and 89; the products by the BLAS (MKL without its AVX-512 kernels on
 * AMD) take 115-167 ms each.
 *
 * <p>R, a channel count of both products, changes from image to image; it is padded with zero rows to a multiple of
 * {@link #ROWS} (zero rows add nothing to either product), so that the guard checks a few shapes once each and not
 * one per count of RoIs. Each product runs by the guard's route for its shape, right on every CPU as every other
 * convolution. The input gradient goes on into autograd's graph below the layer (RoIAlign) by a second backward call
 * from the layer's input, before the passes registered earlier run; so only where that graph is the head's own, ending
 * at a hand-written pass's leaf (VGG-16's chain, {@link HandBackward#isLeaf}), or where nothing below the layer learns
 * ({@link HandBackward.Below}): a backbone recorded for autograd is walked, and its saved arrays freed, by the first
 * backward call already (through the RPN), and there the layer is recorded for autograd as before.
 */
final class DenseTape {
    /** RoI counts are padded to a multiple of this (the channel counts oneDNN's kernels block by). */
    static final int ROWS = 32;

    private DenseTape() {}

    /**
     * The layer's output for {@code input} (R, C, S, S) through {@code kernel} (out, C, S, S), a leaf that requires
     * gradients, with the pass registered that carries its gradient into {@code weight}, {@code bias} and, where
     * {@code inputLearns}, into {@code input}; or null where the layer is recorded for autograd as before (no hand-written
     * pass allowed or possible, not float32, or nothing of it learns).
     */
    static NDArray forward(ConvGuard guard, NDArray input, NDArray kernel, NDArray weight, NDArray bias,
                           ConvShape shape, boolean inputLearns) {
        if (!HandBackward.enabled() || !HandBackward.available() || !JniUtils.isGradMode()
                || Precision.current() != Precision.FP32) {
            return null;
        }
        boolean weightLearns = HandBackward.trains(weight);
        boolean biasLearns = HandBackward.trains(bias);
        if (!weightLearns && !biasLearns && !inputLearns) {
            return null;
        }
        NDArray y;
        try (GradMode off = GradMode.set(false)) {
            y = guard.forward(input, kernel, bias, shape, Gradients.NONE);
        }
        y.setRequiresGradient(true);
        Gradients needed = Gradients.of(inputLearns, weightLearns);
        HandBackward.defer(() -> backward(guard, input, y, weight, bias, shape, needed, biasLearns));
        return y;
    }

    private static void backward(ConvGuard guard, NDArray input, NDArray y, NDArray weight, NDArray bias,
                                 ConvShape shape, Gradients needed, boolean biasLearns) {
        PtNDArray g = JniUtils.getGradient((PtNDArray) y);
        if (g == null) {
            return; // the losses did not reach the layer
        }
        NDManager m = input.getManager();
        long rows = input.getShape().get(0);
        long out = weight.getShape().get(0);
        long in = weight.getShape().get(1);
        int padded = Math.toIntExact((rows + ROWS - 1) / ROWS * ROWS);
        ConvGuard.countGradients(input.getShape(), shape, needed);
        // the in features as a map of (channels of the input, S * S): any split of them serves a 1x1 convolution
        long mapRows = shape.inChannels();
        long mapCols = in / mapRows;
        try (NDManager work = m.newSubManager()) {
            // the three views the pass starts from live in its own manager, and so does all that is made from them
            // (an operation's result belongs to its input's manager): freed when the pass ends, not with the iteration
            NDArray gRows = padRows(NativeArrays.attached(g.reshape(rows, out), work), padded);
            if (biasLearns) {
                HandBackward.accumulate(bias, gRows.sum(new int[] {0})); // the zero rows add nothing
            }
            if (needed.weight()) {
                NDArray x = padRows(NativeArrays.attached(input.reshape(rows, in), work), padded).reshape(1, padded, mapRows, mapCols);
                NDArray kernels = gRows.transpose().reshape(out, padded, 1, 1); // a copy: R x out is small
                NDArray gw = guard.forwardUncounted(x, kernels, null, ConvShape.of(padded, (int) out, 1, 1, 0),
                        Gradients.NONE);
                HandBackward.accumulate(weight, gw.reshape(weight.getShape()));
            }
            if (needed.input()) {
                NDArray w = NativeArrays.attached(weight.reshape(1, out, mapRows, mapCols), work); // a view of the parameter
                NDArray gx = guard.forwardUncounted(w, gRows.reshape(padded, out, 1, 1), null,
                        ConvShape.of((int) out, padded, 1, 1, 0), Gradients.NONE);
                NDArray gInput = gx.reshape(padded, in).get(new NDIndex("0:{}", rows)).reshape(input.getShape());
                JniUtils.backward((PtNDArray) input, (PtNDArray) gInput, false, false);
            }
        }
        g.close();
    }

    /** {@code a} (rows x n) with zero rows below it up to {@code padded} rows (itself where none are needed). */
    private static NDArray padRows(NDArray a, int padded) {
        long rows = a.getShape().get(0);
        if (rows == padded) {
            return a;
        }
        return NDArrays.concat(new NDList(a, a.getManager().zeros(new Shape(padded - rows, a.getShape().get(1)))));
    }
}
