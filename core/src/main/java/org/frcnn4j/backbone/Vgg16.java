package org.frcnn4j.backbone;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Activation;
import java.util.ArrayList;
import java.util.List;
import org.frcnn4j.nn.BlockedChain;
import org.frcnn4j.nn.ChainTape;
import org.frcnn4j.nn.FeatureMaps;
import org.frcnn4j.nn.Layers;
import org.frcnn4j.nn.Layers.Conv;
import org.frcnn4j.nn.Layers.GroupNorm;
import org.frcnn4j.nn.MaxPool;
import org.frcnn4j.nn.Parameters;

/**
 * VGG-16's 13 conv layers, conv1_1 to conv5_3, without the last max pool: stride 16, 512 channels (Simonyan and
 * Zisserman; the paper's "VGG-16"). Parameter names are torchvision's {@code vgg16().features} indices under
 * {@code backbone.}, so {@code backbone.0} is conv1_1 and {@code backbone.28} is conv5_3.
 */
public final class Vgg16 implements Backbone {
    /** Output channels per conv layer; 0 marks a 2x2 max pool. */
    private static final int[] PLAN = {64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512};

    private final List<Conv> convs = new ArrayList<>();
    private final List<Boolean> poolAfter = new ArrayList<>();
    private final List<GroupNorm> norms = new ArrayList<>();
    private final MaxPool pool;
    private final int outChannels;

    public Vgg16(Parameters params, double widthScale, boolean ceilMode, boolean groupNorm) {
        this.pool = new MaxPool(2, 2, 0, ceilMode);
        int in = 3;
        int index = 0; // torchvision's module index: conv, relu (+ pool)
        for (int i = 0; i < PLAN.length; i++) {
            if (PLAN[i] == 0) {
                continue;
            }
            int out = Backbones.scaled(PLAN[i], widthScale);
            Conv conv = Layers.backboneConv(params, "backbone." + index, in, out, 3, 1, 1);
            convs.add(convs.isEmpty() ? conv.onImage() : conv);
            if (groupNorm) {
                norms.add(GroupNorm.create(params, "backbone." + index + ".norm", out));
            }
            boolean pool = i + 1 < PLAN.length && PLAN[i + 1] == 0;
            poolAfter.add(pool);
            index += pool ? 3 : 2;
            in = out;
        }
        this.outChannels = in;
    }

    @Override
    public FeatureMaps forward(NDArray x, boolean training) {
        return FeatureMaps.single(features(x, training));
    }

    /** The single feature map, stride 16. */
    public NDArray features(NDArray x, boolean training) {
        if (!training && norms.isEmpty()) {
            // at inference, all 13 layers in one call whose maps stay in oneDNN's layout, where the engine is right
            NDArray chained = BlockedChain.forward(x, convs, poolAfter, 2, pool.ceilMode());
            if (chained != null) {
                return chained;
            }
        }
        if (training && norms.isEmpty()) {
            // in training, the forward pass and input gradients by the faster routes autograd cannot differentiate,
            // where the trainer runs hand-written backward passes
            NDArray taped = ChainTape.forward(x, convs, poolAfter, 2, pool.ceilMode());
            if (taped != null) {
                return taped;
            }
        }
        for (int i = 0; i < convs.size(); i++) {
            x = convs.get(i).forward(x);
            x = Activation.relu(norms.isEmpty() ? x : norms.get(i).forward(x));
            if (poolAfter.get(i)) {
                x = pool.forward(x);
            }
        }
        return x;
    }

    @Override
    public int outChannels() {
        return outChannels;
    }

    @Override
    public int stride() {
        return 16;
    }
}
