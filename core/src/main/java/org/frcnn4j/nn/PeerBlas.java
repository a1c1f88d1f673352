package org.frcnn4j.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.sun.jna.Library;
import com.sun.jna.Native;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The system's BLAS (libblas.so.3), which Debian's torch 1.13 (the peer) calls for its matrix products: torchvision's
 * fully connected layers ({@code addmm}) and the convolutions it keeps from oneDNN (slow_conv2d) sum in that library's
 * order, which depends on its kernels for this CPU and its thread count. Calling the same library with the same
 * arguments gives the same floats. Measured on the MobileNetV3-FPN box head: the engine's own products (MKL) left 3.5%
 * of the class scores bit-equal, OpenBLAS's Haswell block rule summed in Java 97% of fc7's values, the library all.
 * Absent (no such library, or no {@code sgemm_} in it), {@link #available} is false and callers keep their own order.
 * {@code -Dfrcnn.blas=PATH} names another library; {@code -Dfrcnn.blas=none} turns it off.
 */
public final class PeerBlas {
    private static final Logger LOG = LoggerFactory.getLogger(PeerBlas.class);

    /**
     * Fortran's sgemm: column-major C = alpha op(A) op(B) + beta C, every argument by reference; the matrices as
     * buffers, direct (a tensor's own memory) or wrapping a Java array (JNA copies it in and back).
     */
    interface Sgemm extends Library {
        void sgemm_(byte[] transA, byte[] transB, int[] m, int[] n, int[] k, float[] alpha, java.nio.FloatBuffer a,
                    int[] lda, java.nio.FloatBuffer b, int[] ldb, float[] beta, java.nio.FloatBuffer c, int[] ldc);
    }

    private static final String NAME = System.getProperty("frcnn.blas", "libblas.so.3");
    private static final Sgemm BLAS = load(NAME);

    private PeerBlas() {}

    private static Sgemm load(String name) {
        if (name.equals("none") || !System.getProperty("os.name", "").toLowerCase(java.util.Locale.ROOT).contains("linux")) {
            return null;
        }
        try {
            Sgemm lib = Native.load(name, Sgemm.class);
            com.sun.jna.NativeLibrary.getInstance(name).getFunction("sgemm_"); // throws when absent
            return lib;
        } catch (UnsatisfiedLinkError | RuntimeException e) {
            LOG.debug("no system BLAS ({}): torchvision's arithmetic sums the head's products in the engine's order", name);
            return null;
        }
    }

    /** Whether the system's BLAS was found. */
    public static boolean available() {
        return BLAS != null;
    }

    /** Whether a product now should be the system BLAS's: found, and this call in torchvision's arithmetic. */
    public static boolean active() {
        return BLAS != null && PeerArithmetic.active();
    }

    /**
     * The library's kernels, thread count and build as OpenBLAS names them ("Haswell 2 (OpenBLAS 0.3.21 ...)"), on
     * which its order of summation depends; "none" without a library, the library's name where it is not OpenBLAS.
     * OpenBLAS takes its thread count from OPENBLAS_NUM_THREADS, else OMP_NUM_THREADS, else the processors.
     */
    public static String describe() {
        if (BLAS == null) {
            return "none";
        }
        try {
            com.sun.jna.NativeLibrary lib = com.sun.jna.NativeLibrary.getInstance(NAME);
            String core = (String) lib.getFunction("openblas_get_corename").invoke(String.class, new Object[0]);
            int threads = lib.getFunction("openblas_get_num_threads").invokeInt(new Object[0]);
            String config = (String) lib.getFunction("openblas_get_config").invoke(String.class, new Object[0]);
            return core + " " + threads + " (" + config.strip() + ")";
        } catch (UnsatisfiedLinkError e) {
            return NAME;
        }
    }

    /**
     * x (N, K) times weight (O, K) transposed plus bias (O), as torch 1.13's addmm computes a Linear layer: the output
     * starts as the bias in each row and sgemm adds the product to it (beta 1), with the weight as the transposed first
     * operand of the column-major view. In x's manager.
     */
    public static NDArray linear(NDArray x, NDArray weight, NDArray bias) {
        Shape xs = x.getShape();
        Shape ws = weight.getShape();
        if (xs.dimension() != 2 || ws.dimension() != 2 || xs.get(1) != ws.get(1)
                || bias != null && (bias.getShape().dimension() != 1 || bias.getShape().get(0) != ws.get(0))
                || x.getDataType() != DataType.FLOAT32 || weight.getDataType() != DataType.FLOAT32
                || bias != null && bias.getDataType() != DataType.FLOAT32) {
            // not a float32 layer's shapes: the engine's product, which names the problem
            return ai.djl.nn.core.Linear.linear(x, weight, bias).singletonOrThrow();
        }
        int n = (int) xs.get(0);
        int k = (int) xs.get(1);
        int o = (int) ws.get(0);
        if (n == 0) {
            return x.getManager().zeros(new Shape(0, o));
        }
        // the output's memory, started as the bias in every row (torch copies it there, then sgemm adds with beta 1)
        java.nio.ByteBuffer start = java.nio.ByteBuffer.allocateDirect(4 * n * o).order(java.nio.ByteOrder.nativeOrder());
        java.nio.FloatBuffer c = start.asFloatBuffer();
        if (bias != null) {
            float[] b = bias.toFloatArray();
            for (int r = 0; r < n; r++) {
                c.put(r * o, b);
            }
        }
        if (k > 0) {
            // the inputs' own memory (row-major parameters and activations: fc6's weight is 51 MB), kept reachable
            // until sgemm returns
            java.nio.FloatBuffer w = floats(weight);
            java.nio.FloatBuffer a = floats(x);
            gemm(true, false, o, n, k, w, k, a, k, bias != null ? 1f : 0f, c, o);
            java.lang.ref.Reference.reachabilityFence(w);
            java.lang.ref.Reference.reachabilityFence(a);
            java.lang.ref.Reference.reachabilityFence(weight);
            java.lang.ref.Reference.reachabilityFence(x);
        }
        return x.getManager().create(start, new Shape(n, o), DataType.FLOAT32);
    }

    /** A float32 array's memory, row-major, as a direct buffer (the array's own where it is row-major already). */
    private static java.nio.FloatBuffer floats(NDArray a) {
        return a.toByteBuffer(true).order(java.nio.ByteOrder.nativeOrder()).asFloatBuffer();
    }

    /** sgemm with alpha 1 (column-major, Fortran's conventions). */
    static void gemm(boolean transA, boolean transB, int m, int n, int k, java.nio.FloatBuffer a, int lda,
                     java.nio.FloatBuffer b, int ldb, float beta, java.nio.FloatBuffer c, int ldc) {
        BLAS.sgemm_(new byte[] {(byte) (transA ? 'T' : 'N')}, new byte[] {(byte) (transB ? 'T' : 'N')}, new int[] {m},
                new int[] {n}, new int[] {k}, new float[] {1f}, a, new int[] {lda}, b, new int[] {ldb}, new float[] {beta},
                c, new int[] {ldc});
    }
}
