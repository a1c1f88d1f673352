package org.frcnn4j.backbone;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.pooling.Pool;
import java.util.ArrayList;
import java.util.List;
import org.frcnn4j.nn.ConvShape;
import org.frcnn4j.nn.Layers.Conv;
import org.frcnn4j.nn.Norms;
import org.frcnn4j.nn.Parameters;

/**
 * A feature pyramid network (Lin et al., 2017) as torchvision's FeaturePyramidNetwork: a 1x1 lateral conv per input
 * level ({@code inner_blocks.i}), a top-down path adding each coarser result, upsampled by nearest neighbour, to the
 * next finer lateral, and a 3x3 conv on each sum ({@code layer_blocks.i}); optionally an extra level max-pooled from
 * the coarsest (LastLevelMaxPool, kernel 1, stride 2). With batch norm (the v2 model) the convs lose their biases.
 */
final class Fpn {
    private final List<Object> inner = new ArrayList<>();
    private final List<Object> layer = new ArrayList<>();
    private final boolean extraMaxPool;

    /** @param norm how inference applies its batch norms (the v2 model's), {@link Norms.BatchNorm.Inference} */
    Fpn(Parameters p, String prefix, List<Integer> inChannels, int out, boolean batchNorm, boolean extraMaxPool,
        Norms.BatchNorm.Inference norm) {
        this.extraMaxPool = extraMaxPool;
        for (int i = 0; i < inChannels.size(); i++) {
            inner.add(conv(p, prefix + "inner_blocks." + i, ConvShape.of(inChannels.get(i), out, 1, 1, 0), batchNorm, norm));
            layer.add(conv(p, prefix + "layer_blocks." + i, ConvShape.of(out, out, 3, 1, 1), batchNorm, norm));
        }
    }

    /** kaiming_uniform(a = 1) weights and zero biases, torchvision's FPN initialisation. */
    private static Object conv(Parameters p, String name, ConvShape shape, boolean batchNorm,
                               Norms.BatchNorm.Inference norm) {
        int fanIn = shape.inChannels() * shape.kernel() * shape.kernel();
        Parameters.Init w = new Parameters.Uniform(Math.sqrt(3.0 / fanIn));
        if (!batchNorm) {
            return Conv.create(p, name + ".0", shape, w, new Parameters.Constant(0f));
        }
        return new Norms.ConvBn(Conv.create(p, name + ".0", shape, w, null),
                Norms.BatchNorm.create(p, name + ".1", shape.outChannels(), 1e-5f, false, norm));
    }

    private static NDArray apply(Object conv, NDArray x, boolean training) {
        return conv instanceof Norms.ConvBn cb ? cb.forward(x, training) : ((Conv) conv).forward(x);
    }

    /** The pyramid's levels, finest first (one per input, plus the pooled one). */
    List<NDArray> forward(List<NDArray> inputs, boolean training) {
        int n = inputs.size();
        NDArray[] results = new NDArray[n];
        NDArray lastInner = apply(inner.get(n - 1), inputs.get(n - 1), training);
        results[n - 1] = apply(layer.get(n - 1), lastInner, training);
        for (int i = n - 2; i >= 0; i--) {
            NDArray lateral = apply(inner.get(i), inputs.get(i), training);
            Shape s = lateral.getShape();
            lastInner = lateral.add(nearest(lastInner, s.get(2), s.get(3)));
            results[i] = apply(layer.get(i), lastInner, training);
        }
        List<NDArray> out = new ArrayList<>(List.of(results));
        if (extraMaxPool) {
            out.add(Pool.maxPool2d(results[n - 1], new Shape(1, 1), new Shape(2, 2), new Shape(0, 0), false));
        }
        return out;
    }

    /**
     * PyTorch's nearest-neighbour resize to (h, w): output row r reads input row floor(r * in / out). Exact doublings
     * (every level of an input padded to 32) repeat each element; other sizes gather.
     */
    static NDArray nearest(NDArray x, long h, long w) {
        long inH = x.getShape().get(2);
        long inW = x.getShape().get(3);
        if (inH == h && inW == w) {
            return x;
        }
        if (h == 2 * inH && w == 2 * inW) {
            return x.repeat(2, 2).repeat(3, 2);
        }
        return gather(gather(x, 2, inH, h), 3, inW, w);
    }

    private static NDArray gather(NDArray x, int axis, long in, long out) {
        if (in == out) {
            return x;
        }
        long[] index = new long[(int) out];
        float scale = (float) in / out;
        for (int i = 0; i < out; i++) {
            index[i] = Math.min((long) Math.floor(i * scale), in - 1);
        }
        NDArray moved = x.swapAxes(0, axis);
        NDArray picked = moved.get(x.getManager().create(index));
        return picked.swapAxes(0, axis);
    }
}
