package org.frcnn4j.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Java data into native (PyTorch) arrays without leaving native memory for the garbage collector.
 *
 * <p>{@code NDManager.create(float[])} copies through a new direct ByteBuffer, which only the garbage collector frees.
 * Per image that is the input tensor (7 MB at 1000x600) and RoIAlign's sparse weights (~5 MB for 300 regions); the
 * Java heap barely grows meanwhile, so collections are rare and the resident set settled ~300 MB above its floor.
 * Here the data passes through one direct buffer per thread, reused; the array views it only until it is cloned
 * into PyTorch's own memory.
 */
public final class NativeArrays {
    private static final ThreadLocal<ByteBuffer> SCRATCH = new ThreadLocal<>();

    private NativeArrays() {}

    public static NDArray of(NDManager manager, float[] data, int length, Shape shape) {
        ByteBuffer b = scratch(4L * length);
        b.asFloatBuffer().put(data, 0, length);
        return copy(manager, b, 4 * length, shape, DataType.FLOAT32);
    }

    public static NDArray of(NDManager manager, long[] data, int length, Shape shape) {
        ByteBuffer b = scratch(8L * length);
        b.asLongBuffer().put(data, 0, length);
        return copy(manager, b, 8 * length, shape, DataType.INT64);
    }

    /**
     * A view of a long-lived array (a parameter) owned by {@code manager}: results of ops on it belong to that manager
     * too, so they close with the caller's step instead of piling up in the parameters' manager.
     */
    public static NDArray viewIn(NDArray a, NDManager manager) {
        NDArray v = a.reshape(a.getShape());
        v.attach(manager);
        return v;
    }

    /** {@code a} itself, moved into {@code manager}: it closes with that manager (a step's, a pass's) from now on. */
    static NDArray attached(NDArray a, NDManager manager) {
        a.attach(manager);
        return a;
    }

    private static ByteBuffer scratch(long bytes) {
        ByteBuffer b = SCRATCH.get();
        if (b == null || b.capacity() < bytes) {
            b = ByteBuffer.allocateDirect(Math.toIntExact(Math.max(bytes, 1 << 20))).order(ByteOrder.nativeOrder());
            SCRATCH.set(b);
        }
        return b.clear();
    }

    private static NDArray copy(NDManager manager, ByteBuffer b, int bytes, Shape shape, DataType type) {
        b.limit(bytes);
        try (NDArray view = manager.create(b, shape, type)) {
            return view.duplicate();
        }
    }
}
