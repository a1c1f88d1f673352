package org.frcnn4j.nn;

import ai.djl.ndarray.NDArray;

/**
 * How a feature map lies in memory. oneDNN's convolutions compute in a channel-blocked layout and reorder row-major
 * (NCHW) inputs and outputs on every call; channels-last (NHWC) ones they read and write as they are. DJL has no call
 * for it, but libtorch keeps a layout through convolutions, activations and pooling, so an image made channels-last
 * once stays so through a backbone. The layout also decides which oneDNN kernels run, and so what must be checked:
 * {@link ConvGuard} checks each shape in the layout it is called with.
 */
public enum MemoryLayout {
    /** Row-major (N, C, H, W): DJL's arrays and float32 training passes. */
    NCHW,
    /** Channels-last: (N, C, H, W) in shape, (N, H, W, C) in memory. */
    NHWC;

    /**
     * The layout inference runs in at {@code precision} unless told otherwise: channels-last for bfloat16 on AMX, where
     * oneDNN's AMX kernels read and write channels-last maps as they are and would spend more time reordering row-major
     * ones than computing (VGG-16's backbone at 1000x600 on an Intel Xeon with AMX: 498 ms channels-last against
     * 1237-2088 ms row-major; float32 1865 ms); row-major otherwise, where channels-last was no faster (float32 on that
     * Xeon: 1994 ms; on an AMD EPYC of family 26 ResNet-50-FPN's backbone was 13% slower).
     */
    public static MemoryLayout preferred(Precision precision) {
        return precision == Precision.BF16 && Precision.amxKernels() ? NHWC : NCHW;
    }

    /**
     * The layout of a 4-D array, or null for a strided view dense in neither layout (a subsampled map), which
     * convolutions would copy anyway.
     */
    public static MemoryLayout of(NDArray x) {
        int code = ScriptedOps.layoutCode(x);
        return code == 0 ? NCHW : code == 2 ? NHWC : null;
    }

    /** {@code x} in this layout: itself when it already is, else a copy in {@code x}'s manager. */
    public NDArray apply(NDArray x) {
        if (this == NHWC) {
            // a row-major copy of the (N, H, W, C) view, viewed back as (N, C, H, W) (a duplicate would keep the
            // view's strides, i.e. row-major): DJL's own operators, so the result is an ordinary array that autograd
            // may save for a backward pass (bfloat16 training); the scripted module's results may not be saved
            return of(x) == NHWC ? x : rowMajorCopy(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2);
        }
        return ScriptedOps.layoutCode(x) == 0 ? x : rowMajorCopy(x);
    }

    /** A row-major copy of any 4-D array (flattening a view that is not row-major copies it in index order). */
    static NDArray rowMajorCopy(NDArray x) {
        return x.reshape(-1).reshape(x.getShape());
    }
}
