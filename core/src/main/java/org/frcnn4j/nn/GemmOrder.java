package org.frcnn4j.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/**
 * A 1x1 convolution of one image's 1x1 map (squeeze-and-excitation's two layers on the pooled channels) summed in the
 * order the peer sums it, so that its float32 result is torchvision's to the bit.
 *
 * <p>torch 1.13 sends such a small 1x1 convolution of one image past oneDNN to its own slow_conv2d: the output starts
 * as the bias, and BLAS's sgemm adds weight x input to it (beta 1). OpenBLAS's level-3 driver cuts the reduction into
 * blocks of at most {@link #BLOCK} input channels (a remainder between one and two blocks into two halves, rounded up
 * to {@link #UNROLL}), each block a chain of fused multiply-adds in channel order added to the output in turn. Found
 * by matching the peer's (Debian's torch 1.13 with OpenBLAS 0.3.21) outputs for 72 to 960 input channels on an AMD
 * EPYC with AVX-512; the engine's own product (MKL) rounds differently in 60-90% of the channels. A few hundred
 * thousand multiply-adds: nothing beside the convolutions around it.
 */
public final class GemmOrder {
    /** OpenBLAS's GEMM_Q for single precision on the peer's kernels. */
    static final int BLOCK = 320;
    /** OpenBLAS's GEMM_UNROLL_M there. */
    static final int UNROLL = 16;

    private GemmOrder() {}

    /**
     * {@code conv} applied to {@code pooled} (1, C, 1, 1) in the peer's order, as (1, out, 1, 1) in pooled's manager;
     * the engine's convolution for a batch of several images (oneDNN then runs it in both) or under autograd.
     */
    public static NDArray onPooled(Layers.Conv conv, NDArray pooled) {
        Shape s = pooled.getShape();
        if (s.get(0) != 1 || s.get(2) != 1 || s.get(3) != 1 || conv.shape().groups() != 1
                || ai.djl.pytorch.jni.JniUtils.isGradMode()) {
            return conv.forward(pooled);
        }
        float[] x = pooled.toFloatArray();
        float[] w = conv.weight().toFloatArray();
        float[] b = conv.bias() == null ? null : conv.bias().toFloatArray();
        return pooled.getManager().create(product(w, b, x), new Shape(1, w.length / x.length, 1, 1));
    }

    /** weight (out x in, row-major) times x plus bias, summed block by block as described above. */
    static float[] product(float[] weight, float[] bias, float[] x) {
        int in = x.length;
        int out = weight.length / in;
        int[] blocks = blocks(in);
        float[] y = new float[out];
        for (int o = 0; o < out; o++) {
            float c = bias == null ? 0f : bias[o];
            int k0 = 0;
            for (int len : blocks) {
                float acc = 0f;
                for (int k = k0; k < k0 + len; k++) {
                    acc = Math.fma(weight[o * in + k], x[k], acc);
                }
                c += acc;
                k0 += len;
            }
            y[o] = c;
        }
        return y;
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
