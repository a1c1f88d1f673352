package org.frcnn4j.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.List;

/**
 * A backbone's plain stretch, convolution and ReLU (and a max pool here and there) again and again, as VGG-16's 13
 * layers are, run at inference in one native call whose maps stay in oneDNN's blocked layout from the first
 * convolution to the last. Layer by layer, libtorch reorders each row-major map into that layout before every
 * convolution and back after it (at 1000x600, two passes over up to 150 MB per layer), writes each ReLU to a new
 * map, and the pools run on row-major maps; kept blocked, the convolutions run the same oneDNN kernels (the same
 * values: to the last bit for VGG-16 at 1000x600 here, within rounding on small maps, whose blocking oneDNN may choose
 * otherwise) with nothing between them but in-place ReLUs and oneDNN's own pools.
 *
 * <p>In bfloat16 ({@link Precision#BF16}) the chain's maps, weights and biases are bfloat16 from the first layer to the
 * last: layer by layer, each convolution's input, weight and bias are rounded to bfloat16 and its output is bfloat16
 * widened to float32, and ReLU and max pooling commute with that rounding, so the values are the same (to the last
 * bit for VGG-16 at 1000x600 here), without a cast into and out of every layer.
 *
 * <p>A layer whose checked route is Winograd's F(4x4, 3x3) from oneDNN's products ({@link ConvRoute.WinogradProducts}:
 * VGG-16's layers of 256 and 512 channels on AVX-512 CPUs) runs so inside the same call, on a row-major map: the map
 * leaves the blocked layout once, before the first such layer (VGG-16's conv3_2), and the ReLUs and pools after it
 * are row-major too.
 *
 * <p>Taken only where every layer would run that way anyway ({@link ConvGuard}'s verdict for an inference call in the
 * thread's precision is {@link ConvRoute.Direct} or {@link ConvRoute.WinogradProducts} in float32,
 * {@link ConvRoute.Bfloat16} in bfloat16): where oneDNN computes one of the shapes wrong on this CPU, on NNPACK's
 * Winograd route, with gradients, on a strided view or on channels-last maps, the caller runs the layers one by one as
 * before.
 * {@code -Dfrcnn.conv.blocked=off} turns it off (for comparisons).
 *
 * <p>Only plain chains: a residual sum of two blocked maps is oneDNN's sum primitive, whose set-up divided by zero on
 * the AMD EPYC of family 26 (SIGFPE in {@code simple_sum_t::pd_t::init}, a reduced ResNet-50's first block), which
 * ends the JVM; so ResNet runs layer by layer.
 */
public final class BlockedChain {
    private static final boolean ENABLED = !"off".equals(System.getProperty("frcnn.conv.blocked"));

    private BlockedChain() {}

    /**
     * The chain's output for {@code x}: {@code relu(convs[i](.))}, each followed by a {@code pool} x {@code pool} max
     * pool of stride {@code pool} where {@code poolAfter[i]}; or null where the chain does not apply (see above).
     */
    public static NDArray forward(NDArray x, List<Layers.Conv> convs, List<Boolean> poolAfter, int pool, boolean ceilMode) {
        if (!ENABLED || ai.djl.pytorch.jni.JniUtils.isGradMode() || x.getShape().dimension() != 4
                || MemoryLayout.of(x) != MemoryLayout.NCHW || convs.isEmpty()) {
            return null;
        }
        List<Shape> inputs = new ArrayList<>();
        List<NDArray> weights = new ArrayList<>();
        List<NDArray> biases = new ArrayList<>();
        List<NDArray> kernels = new ArrayList<>();
        long[] paddings = new long[convs.size()];
        boolean[] pools = new boolean[convs.size()];
        long n = x.getShape().get(0);
        int h = (int) x.getShape().get(2);
        int w = (int) x.getShape().get(3);
        for (int i = 0; i < convs.size(); i++) {
            Layers.Conv c = convs.get(i);
            ConvShape s = c.shape();
            if (s.stride() != 1 || s.dilation() != 1 || s.groups() != 1 || c.bias() == null) {
                return null;
            }
            ConvRoute route = ConvGuard.shared().inferenceRoute(s, h, w);
            boolean bf16 = Precision.current() == Precision.BF16;
            if (route instanceof ConvRoute.WinogradProducts) {
                kernels.add(WinogradKernels.of(c.weight()));
            } else if (bf16 ? route instanceof ConvRoute.Bfloat16 : route instanceof ConvRoute.Direct) {
                kernels.add(none());
            } else {
                return null;
            }
            inputs.add(new Shape(n, s.inChannels(), h, w));
            weights.add(c.weight());
            biases.add(c.bias());
            paddings[i] = s.padding();
            pools[i] = poolAfter.get(i);
            h = s.outputSize(h);
            w = s.outputSize(w);
            if (pools[i]) {
                h = pooledSize(h, pool, ceilMode);
                w = pooledSize(w, pool, ceilMode);
            }
        }
        // counted once the chain is sure to run, as ConvGuard counts the calls it runs
        for (int i = 0; i < convs.size(); i++) {
            ConvGuard.countInference(inputs.get(i), convs.get(i).shape());
        }
        return ScriptedOps.blockedChain(x, weights, biases, kernels, paddings, pools, pool, ceilMode,
                Precision.current() == Precision.BF16);
    }

    /** An empty array: "this layer runs blocked, by the engine's kernel". */
    private static NDArray none() {
        return None.ARRAY;
    }

    /** Made on first use, for the life of the process. */
    private static final class None {
        static final NDArray ARRAY = ai.djl.ndarray.NDManager.newBaseManager().create(new float[0]);
    }

    /** A max pool's output size, as PyTorch computes it without padding. */
    static int pooledSize(int size, int pool, boolean ceilMode) {
        int steps = size - pool;
        int out = (ceilMode ? Math.floorDiv(steps + pool - 1, pool) : Math.floorDiv(steps, pool)) + 1;
        // PyTorch's rule: in ceil mode the last window must start inside the input
        return ceilMode && (long) (out - 1) * pool >= size ? out - 1 : out;
    }
}
