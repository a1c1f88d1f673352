package org.frcnn4j.backbone;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import org.frcnn4j.nn.ConvGuard;
import org.frcnn4j.nn.ConvShape;
import org.frcnn4j.nn.FeatureMaps;
import org.frcnn4j.nn.Layers;
import org.frcnn4j.nn.Layers.Conv;
import org.frcnn4j.nn.Layers.GroupNorm;
import org.frcnn4j.nn.MaxPool;
import org.frcnn4j.nn.Parameters;
import org.frcnn4j.nn.Scalars;

/**
 * The "fast" ZF model of Zeiler and Fergus as py-faster-rcnn defines it: conv1 7x7/2 (96), LRN, max pool 3x3/2,
 * conv2 5x5/2 (256), LRN, max pool 3x3/2, then conv3-conv5 3x3 (384, 384, 256): stride 16, 256 channels.
 * The LRN is Caffe's WITHIN_CHANNEL kind (local size 3, alpha 5e-5, beta 0.75): x / (1 + alpha * mean of x^2 over
 * the 3x3 neighbourhood)^beta. With group normalisation (the CPU presets) each conv is followed by a GroupNorm
 * instead and there is no LRN. Parameter names follow a torch {@code nn.Sequential} of these modules:
 * {@code backbone.0} (conv1), {@code .4} (conv2), {@code .8}, {@code .10}, {@code .12} (conv3-5).
 */
public final class ZfNet implements Backbone {
    static final float LRN_ALPHA = 5e-5f;
    static final float LRN_BETA = 0.75f;

    private final Conv conv1;
    private final Conv conv2;
    private final Conv conv3;
    private final Conv conv4;
    private final Conv conv5;
    private final MaxPool pool;
    private final GroupNorm[] norms;

    public ZfNet(Parameters p, double widthScale, boolean ceilMode, boolean groupNorm) {
        this.pool = new MaxPool(3, 2, 1, ceilMode);
        int c1 = Backbones.scaled(96, widthScale);
        int c2 = Backbones.scaled(256, widthScale);
        int c3 = Backbones.scaled(384, widthScale);
        int c5 = Backbones.scaled(256, widthScale);
        conv1 = Layers.backboneConv(p, "backbone.0", 3, c1, 7, 2, 3).onImage();
        conv2 = Layers.backboneConv(p, "backbone.4", c1, c2, 5, 2, 2);
        conv3 = Layers.backboneConv(p, "backbone.8", c2, c3, 3, 1, 1);
        conv4 = Layers.backboneConv(p, "backbone.10", c3, c3, 3, 1, 1);
        conv5 = Layers.backboneConv(p, "backbone.12", c3, c5, 3, 1, 1);
        if (!groupNorm) {
            p.declareConvolution(lrnShape(c1));
            p.declareConvolution(lrnShape(c2));
        }
        norms = !groupNorm ? null : new GroupNorm[] {
            GroupNorm.create(p, "backbone.0.norm", c1), GroupNorm.create(p, "backbone.4.norm", c2),
            GroupNorm.create(p, "backbone.8.norm", c3), GroupNorm.create(p, "backbone.10.norm", c3),
            GroupNorm.create(p, "backbone.12.norm", c5)};
    }

    /** conv, then group norm when configured, then ReLU. */
    private NDArray block(int i, Conv conv, NDArray x) {
        NDArray y = conv.forward(x);
        return Activation.relu(norms == null ? y : norms[i].forward(y));
    }

    @Override
    public FeatureMaps forward(NDArray x, boolean training) {
        return FeatureMaps.single(features(x, training));
    }

    /** The single feature map, stride 16. */
    public NDArray features(NDArray x, boolean training) {
        x = block(0, conv1, x);
        x = pool(norms == null ? lrn(x, training) : x);
        x = block(1, conv2, x);
        x = pool(norms == null ? lrn(x, training) : x);
        x = block(2, conv3, x);
        x = block(3, conv4, x);
        return block(4, conv5, x);
    }

    private NDArray pool(NDArray x) {
        return pool.forward(x);
    }

    /**
     * Caffe's within-channel LRN; the mean counts the zero padding, as Caffe's AVE pooling does here. The scaled 3x3
     * mean plus one is a depthwise convolution with kernel alpha/9 and bias 1: one pass instead of the four of average
     * pooling, scaling and shifting (PyTorch's avg_pool2d is the slowest of those), the same value up to rounding.
     * The power is taken as exp(-beta log s) in training, whose backward costs a third of pow's, and from square roots
     * otherwise (beta is 3/4).
     */
    static NDArray lrn(NDArray x, boolean training) {
        long channels = x.getShape().get(1);
        NDManager manager = x.getManager();
        NDArray kernel = manager.full(new Shape(channels, 1, 3, 3), LRN_ALPHA / 9f);
        NDArray one = manager.ones(new Shape(channels));
        NDArray denominator = ConvGuard.shared().forward(x.mul(x), kernel, one, lrnShape((int) channels),
                ConvGuard.gradientsNeeded(false, kernel));
        if (training) {
            return x.mul(Scalars.mul(denominator.log(), -LRN_BETA).exp());
        }
        // s^-0.75 = 1 / (sqrt(s) * sqrt(sqrt(s))): two square roots are cheaper than one pow (ZF's first LRN at
        // 1000x600: 28 vs 35 ms on the family-26 EPYC), equal up to rounding
        NDArray root = denominator.sqrt();
        return x.div(root.mul(root.sqrt()));
    }

    /** The LRN's 3x3 mean as a depthwise convolution over {@code channels}. */
    static ConvShape lrnShape(int channels) {
        return new ConvShape(channels, channels, 3, 1, 1, 1, channels, 0);
    }

    @Override
    public int outChannels() {
        return conv5.outChannels();
    }

    @Override
    public int stride() {
        return 16;
    }
}
