package org.frcnn4j.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/**
 * Convolutions that torch 1.13 computes with its own im2col and BLAS instead of oneDNN, summed as the peer sums them:
 * a 1x1 convolution of one image's 1x1 map (squeeze-and-excitation's two layers on the pooled channels) and, in
 * torchvision's arithmetic, every convolution of a small map that torch 1.13 keeps from oneDNN ({@link #peerRunsNative}).
 * In torchvision's arithmetic, with the system's BLAS ({@link PeerBlas#active}), they are torch's own sgemm call: the
 * peer's values to the bit where that library is the peer's, with its kernels and thread count. Otherwise (the fast
 * arithmetic's squeeze-and-excitation layers, or no such library) the same sums in Java in the order OpenBLAS's
 * Haswell kernels take for one output position.
 *
 * <p>torch 1.13 sends such a small convolution of one image past oneDNN to its own slow_conv2d: the output starts as
 * the bias, and BLAS's sgemm adds weight x columns to it (beta 1). OpenBLAS's level-3 driver cuts the reduction into
 * blocks of at most {@link #BLOCK} input channels (a remainder between one and two blocks into two halves, rounded up
 * to {@link #UNROLL}), each block a chain of fused multiply-adds in channel order added to the output in turn. Found
 * by matching the peer's (Debian's torch 1.13 with OpenBLAS 0.3.21) outputs for 72 to 960 input channels on an AMD
 * EPYC with AVX-512; the engine's own product (MKL) rounds differently in 60-90% of the channels. Over several output
 * positions the library's threaded edge tiles take two interleaved chains instead (found on the box head's fc7), which
 * only the library itself reproduces.
 */
public final class GemmOrder {
    /** OpenBLAS's GEMM_Q for single precision on the peer's kernels. */
    static final int BLOCK = 320;
    /** OpenBLAS's GEMM_UNROLL_M there. */
    static final int UNROLL = 16;

    private GemmOrder() {}

    /**
     * {@code conv} applied to {@code pooled} (1, C, 1, 1) in the peer's order, as (1, out, 1, 1) in pooled's manager;
     * the engine's convolution for a batch of several images (oneDNN then runs it in both), under autograd and in
     * bfloat16.
     */
    public static NDArray onPooled(Layers.Conv conv, NDArray pooled) {
        Shape s = pooled.getShape();
        if (s.get(0) != 1 || s.get(2) != 1 || s.get(3) != 1 || conv.shape().groups() != 1
                || ai.djl.pytorch.jni.JniUtils.isGradMode() || Precision.current() != Precision.FP32) {
            return conv.forward(pooled);
        }
        return convolution(pooled, conv.weight(), conv.bias(), conv.shape());
    }

    /**
     * Whether torch 1.13 runs this float32 convolution through its own im2col and BLAS (slow_conv2d) rather than
     * oneDNN, on more than one thread: one image, one group, a kernel not larger than 3x3 and an input of at most
     * 20,480 values (its use_mkldnn rule: "for some case, native is faster"). Dilated ones go elsewhere in torch and
     * are left to the engine here.
     */
    public static boolean peerRunsNative(Shape input, ConvShape shape) {
        return input.dimension() == 4 && input.get(0) == 1 && shape.groups() == 1 && shape.dilation() == 1
                && shape.kernel() <= 3 && input.size() <= 20480;
    }

    /**
     * The convolution of one image as torch 1.13's slow_conv2d computes it: the output starts as the bias; the columns
     * of im2col (input channel, kernel row, kernel column; zeros where the kernel overhangs) times the flattened
     * weights, by the system's BLAS in torchvision's arithmetic ({@link PeerBlas#active}), else summed in {@link #blocks}, a
     * fused multiply-add chain each: OpenBLAS's order for a single output position; over several its two threads' edge
     * tiles sum some values otherwise (the 320 model's 5x8 pyramid level: 81-86% of the values bit-equal, against
     * 18-57% by the engine's oneDNN kernels).
     */
    public static NDArray convolution(NDArray x, NDArray weight, NDArray bias, ConvShape shape) {
        Shape s = x.getShape();
        int c = (int) s.get(1), h = (int) s.get(2), w = (int) s.get(3);
        int k = shape.kernel(), st = shape.stride(), pad = shape.padding();
        int oh = shape.outputSize(h), ow = shape.outputSize(w);
        int out = shape.outChannels();
        int depth = c * k * k;
        float[] in = x.toFloatArray();
        float[] wt = weight.toFloatArray();
        float[] b = bias == null ? null : bias.toFloatArray();
        int positions = oh * ow;
        // im2col, one row per (channel, kernel row, kernel column), as torch unfolds it
        float[] cols = new float[depth * positions];
        for (int ch = 0; ch < c; ch++) {
            for (int ky = 0; ky < k; ky++) {
                for (int kx = 0; kx < k; kx++) {
                    int row = (ch * k + ky) * k + kx;
                    for (int y = 0; y < oh; y++) {
                        int iy = y * st - pad + ky;
                        for (int xx = 0; xx < ow; xx++) {
                            int ix = xx * st - pad + kx;
                            cols[row * positions + y * ow + xx] = iy < 0 || iy >= h || ix < 0 || ix >= w ? 0f
                                    : in[(ch * h + iy) * w + ix];
                        }
                    }
                }
            }
        }
        float[] y = new float[out * positions];
        if (b != null) { // the output starts as the bias, which the sums are added to
            for (int o = 0; o < out; o++) {
                java.util.Arrays.fill(y, o * positions, (o + 1) * positions, b[o]);
            }
        }
        if (PeerBlas.active()) {
            // slow_conv2d's call: column-major, the columns (positions x depth) times the weights (depth x out)
            PeerBlas.gemm(false, false, positions, out, depth, java.nio.FloatBuffer.wrap(cols), positions,
                    java.nio.FloatBuffer.wrap(wt), depth, b == null ? 0f : 1f, java.nio.FloatBuffer.wrap(y), positions);
            return x.getManager().create(y, new Shape(1, out, oh, ow));
        }
        int[] blocks = blocks(depth);
        float[] acc = new float[positions];
        for (int o = 0; o < out; o++) {
            int k0 = 0;
            for (int len : blocks) {
                java.util.Arrays.fill(acc, 0f);
                for (int r = k0; r < k0 + len; r++) {
                    float wr = wt[o * depth + r];
                    int base = r * positions;
                    for (int p = 0; p < positions; p++) {
                        acc[p] = Math.fma(wr, cols[base + p], acc[p]);
                    }
                }
                for (int p = 0; p < positions; p++) {
                    y[o * positions + p] += acc[p];
                }
                k0 += len;
            }
        }
        return x.getManager().create(y, new Shape(1, out, oh, ow));
    }

    /** The lengths of the reduction's blocks: whole blocks while two or more remain, then two near-halves. */
    static int[] blocks(int k) {
        java.util.List<Integer> out = new java.util.ArrayList<>();
        for (int done = 0; done < k;) {
            int len = k - done;
            if (len >= 2 * BLOCK) {
                len = BLOCK;
            } else if (len > BLOCK) {
                len = (len / 2 + UNROLL - 1) / UNROLL * UNROLL;
            }
            out.add(len);
            done += len;
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }
}
