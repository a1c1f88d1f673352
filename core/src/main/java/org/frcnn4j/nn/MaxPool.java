package org.frcnn4j.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.pooling.Pool;
import ai.djl.pytorch.jni.JniUtils;

/**
 * A square max pooling (the backbones' 2x2/2 and 3x3/2 pools), with PyTorch's output sizes, padding and ceil mode.
 *
 * <p>When no gradient is asked for, the pool is computed as element-wise maxima of strided views: first the k
 * windows along the width (stride s), then the k along the height of that. libtorch's own CPU max pool on a
 * row-major (N, C, H, W) map walks each window in scalar code and is the slowest layer per byte in the backbones:
 * measured on the family-26 EPYC (2 threads), VGG-16's four pools at 1000x600 take 227 ms that way and 30 ms as
 * maxima, ZF's two 86 ms and 21 ms; the values are the same (a maximum does not round). Torchvision runs the
 * slow kernel too, so this is a lead over the peer, not catching up.
 *
 * <p>With autograd on (training), the gradient must go to the first maximal element of each window, as torchvision's
 * does, where the gradient of a maximum would split ties: 3x3 windows run {@link ScriptedOps#maxPoolTrained} (the
 * positions from libtorch's channels-last kernel, the values and gradient by a gather), others libtorch's own pool.
 * Inference turns autograd off.
 */
public final class MaxPool {
    private final int kernel;
    private final int stride;
    private final int padding;
    private final boolean ceilMode;

    public MaxPool(int kernel, int stride, int padding, boolean ceilMode) {
        if (kernel < 1 || stride < 1 || padding < 0 || 2 * padding > kernel) {
            throw new IllegalArgumentException("max pool " + kernel + "x" + kernel + "/" + stride + " pad " + padding);
        }
        this.kernel = kernel;
        this.stride = stride;
        this.padding = padding;
        this.ceilMode = ceilMode;
    }

    /** Whether output sizes round up (Caffe's pools, the paper's) rather than down. */
    public boolean ceilMode() {
        return ceilMode;
    }

    /** The pooled map of {@code x} (N, C, H, W). */
    public NDArray forward(NDArray x) {
        if (kernel > 1 && needsGradient() && ScriptedOps.hasTrainedMaxPool(kernel, stride, padding)) {
            return ScriptedOps.maxPoolTrained(x, kernel, stride, padding, ceilMode);
        }
        if (kernel == 1 || needsGradient()) {
            return Pool.maxPool2d(x, new Shape(kernel, kernel), new Shape(stride, stride), new Shape(padding, padding),
                    ceilMode);
        }
        return byMaxima(x);
    }

    /** The output length along an axis of {@code length}, as PyTorch's pooling computes it. */
    long outputSize(long length) {
        long span = length + 2L * padding - kernel;
        long out = (ceilMode ? Math.floorDiv(span + stride - 1, stride) : Math.floorDiv(span, stride)) + 1;
        // in ceil mode the last window must start inside the input or its left padding
        if (ceilMode && (out - 1) * stride >= length + padding) {
            out--;
        }
        return out;
    }

    NDArray byMaxima(NDArray x) {
        Shape s = x.getShape();
        long h = s.get(2);
        long w = s.get(3);
        long oh = outputSize(h);
        long ow = outputSize(w);
        // the windows of the last outputs may reach past the padding in ceil mode: more -inf there, which no maximum takes
        long extraH = Math.max(0, (oh - 1) * stride + kernel - (h + 2L * padding));
        long extraW = Math.max(0, (ow - 1) * stride + kernel - (w + 2L * padding));
        NDArray padded = padding == 0 && extraH == 0 && extraW == 0 ? x
                : x.pad(new Shape(padding, padding + extraW, padding, padding + extraH), Float.NEGATIVE_INFINITY);
        NDArray rows = null;
        for (int j = 0; j < kernel; j++) {
            NDArray v = padded.get(new NDIndex(":, :, :, {}:{}:{}", j, j + (ow - 1) * stride + 1, stride));
            rows = rows == null ? v : rows.maximum(v);
        }
        NDArray out = null;
        for (int i = 0; i < kernel; i++) {
            NDArray v = rows.get(new NDIndex(":, :, {}:{}:{}, :", i, i + (oh - 1) * stride + 1, stride));
            out = out == null ? v : out.maximum(v);
        }
        return out;
    }

    /**
     * Whether autograd is on for this thread: then libtorch's pool runs, whatever the input. The input's own flag
     * cannot decide it: DJL's {@code requiresGrad} is false for every array computed from parameters (it is true for
     * leaves only), which sent training's pools down the maxima path, with their tie-splitting gradient, 15% slower.
     */
    private static boolean needsGradient() {
        return JniUtils.isGradMode();
    }
}
