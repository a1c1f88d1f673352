package org.frcnn4j.io;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * One tensor read from a {@code .pth} file: its dtype (torch's name: {@code float32}, {@code float16},
 * {@code bfloat16}, {@code float64}, {@code int64}, {@code int32}, {@code int16}, {@code int8}, {@code uint8},
 * {@code bool}), its shape, and its values, row-major and contiguous whatever the strides were in the file.
 *
 * <p>A final class rather than a record so that equality compares values (dtype, shape and bytes) instead of array
 * references, and so that the arrays handed out are copies the caller may change.
 */
public final class PthTensor {
    /** The element types {@code torch.save} writes for dense tensors that this reader understands. */
    enum DType {
        FLOAT32("float32", 4, true),
        FLOAT16("float16", 2, true),
        BFLOAT16("bfloat16", 2, true),
        FLOAT64("float64", 8, true),
        INT64("int64", 8, false),
        INT32("int32", 4, false),
        INT16("int16", 2, false),
        INT8("int8", 1, false),
        UINT8("uint8", 1, false),
        BOOL("bool", 1, false);

        final String torchName;
        final int size;
        final boolean floating;

        DType(String torchName, int size, boolean floating) {
            this.torchName = torchName;
            this.size = size;
            this.floating = floating;
        }
    }

    private final DType dtype;
    private final long[] shape;
    private final byte[] data; // little-endian elements in row-major order; never handed out

    PthTensor(DType dtype, long[] shape, byte[] data) {
        this.dtype = dtype;
        this.shape = shape.clone();
        this.data = data;
    }

    /** torch's name for the element type, e.g. {@code "float32"}. */
    public String dtype() {
        return dtype.torchName;
    }

    /** The sizes of the dimensions; empty for a scalar. A copy. */
    public long[] shape() {
        return shape.clone();
    }

    /** The number of elements. */
    public int numel() {
        return data.length / dtype.size;
    }

    public boolean isFloatingPoint() {
        return dtype.floating;
    }

    /**
     * The values as float32, converted from whatever the file holds (float16 and bfloat16 exactly; float64 and
     * integers above 2^24 are rounded; bool is 0 or 1). A new array each call.
     */
    public float[] floats() {
        ByteBuffer b = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        float[] out = new float[numel()];
        switch (dtype) {
            case FLOAT32 -> b.asFloatBuffer().get(out);
            case FLOAT16 -> { for (int i = 0; i < out.length; i++) out[i] = halfToFloat(b.getShort(2 * i)); }
            case BFLOAT16 -> {
                // bfloat16 is the top half of a float32, so widening is a shift
                for (int i = 0; i < out.length; i++) out[i] = Float.intBitsToFloat((b.getShort(2 * i) & 0xffff) << 16);
            }
            case FLOAT64 -> { for (int i = 0; i < out.length; i++) out[i] = (float) b.getDouble(8 * i); }
            default -> {
                long[] ints = longs();
                for (int i = 0; i < out.length; i++) out[i] = ints[i];
            }
        }
        return out;
    }

    /**
     * The values of an integer (or bool) tensor, widened to long. A new array each call.
     *
     * @throws IllegalStateException for a floating-point tensor, whose values {@link #floats()} gives
     */
    public long[] longs() {
        if (dtype.floating) {
            throw new IllegalStateException("a " + dtype.torchName + " tensor has no integer values; use floats()");
        }
        ByteBuffer b = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        long[] out = new long[numel()];
        for (int i = 0; i < out.length; i++) {
            out[i] = switch (dtype) {
                case INT64 -> b.getLong(8 * i);
                case INT32 -> b.getInt(4 * i);
                case INT16 -> b.getShort(2 * i);
                case INT8 -> b.get(i);
                case UINT8 -> b.get(i) & 0xff;
                case BOOL -> b.get(i) != 0 ? 1 : 0;
                default -> throw new AssertionError(dtype);
            };
        }
        return out;
    }

    /** IEEE half to float; Java 17 has no Float.float16ToFloat yet. Every half is exactly a float. */
    static float halfToFloat(short bits) {
        int h = bits & 0xffff;
        int sign = (h & 0x8000) << 16;
        int exponent = (h >>> 10) & 0x1f;
        int mantissa = h & 0x3ff;
        if (exponent == 0x1f) { // infinity or NaN: keep the payload
            return Float.intBitsToFloat(sign | 0x7f800000 | (mantissa << 13));
        }
        if (exponent == 0) { // zero or subnormal: mantissa * 2^-24, exact in float
            float v = mantissa * 0x1p-24f;
            return sign != 0 ? -v : v;
        }
        return Float.intBitsToFloat(sign | ((exponent + 112) << 23) | (mantissa << 13)); // rebias 15 -> 127
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof PthTensor t && t.dtype == dtype && Arrays.equals(t.shape, shape)
                && Arrays.equals(t.data, data);
    }

    @Override
    public int hashCode() {
        return 31 * (31 * dtype.hashCode() + Arrays.hashCode(shape)) + Arrays.hashCode(data);
    }

    @Override
    public String toString() {
        return "PthTensor[" + dtype.torchName + " " + Arrays.toString(shape) + "]";
    }
}
