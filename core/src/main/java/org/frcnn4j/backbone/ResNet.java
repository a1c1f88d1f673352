package org.frcnn4j.backbone;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.List;
import org.frcnn4j.nn.ConvShape;
import org.frcnn4j.nn.Layers.Conv;
import org.frcnn4j.nn.MaxPool;
import org.frcnn4j.nn.Norms;
import org.frcnn4j.nn.Norms.BatchNorm;
import org.frcnn4j.nn.Norms.ConvBn;
import org.frcnn4j.nn.Parameters;

/**
 * ResNet with bottleneck blocks (He et al., 2016) as torchvision builds it (the stride on the 3x3 conv, "ResNet v1.5"):
 * a 7x7/2 stem and a 3x3/2 max pool, then four stages of blocks 1x1 -> 3x3 -> 1x1 (x4 channels) with an identity or
 * projected shortcut. Stage s (1-4) has width 64 * 2^(s-1) and stride 4 * 2^(s-1); ResNet-50 has 3, 4, 6, 3 blocks.
 * Parameter names are torchvision's {@code resnet50()} keys under {@code backbone.body.} (conv1, bn1, layer1.0.conv1,
 * ..., layer1.0.downsample.0/.1), so its checkpoints load as they are.
 */
final class ResNet implements Body {
    /** The stem's 3x3/2 max pool (torchvision's ResNet). */
    private static final MaxPool STEM_POOL = new MaxPool(3, 2, 1, false);

    private final ConvBn stem;
    private final List<List<Bottleneck>> layers = new ArrayList<>();
    private final int width;

    ResNet(Parameters p, String prefix, BackboneConfig.ResNet config, BackboneConfig.BatchNormConfig bn) {
        this.width = config.width();
        stem = convBn(p, prefix + "conv1", prefix + "bn1", ConvShape.of(3, width, 7, 2, 3), bn, true);
        int in = width;
        for (int s = 1; s <= config.blocks().size(); s++) {
            int planes = width << (s - 1);
            List<Bottleneck> stage = new ArrayList<>();
            for (int b = 0; b < config.blocks().get(s - 1); b++) {
                int stride = b == 0 && s > 1 ? 2 : 1;
                stage.add(new Bottleneck(p, prefix + "layer" + s + "." + b + ".", in, planes, stride, bn));
                in = planes * 4;
            }
            layers.add(stage);
        }
    }

    /** A convolution without bias and its batch norm; He initialisation (fan-out, ReLU), as torchvision's ResNet. */
    static ConvBn convBn(Parameters p, String conv, String norm, ConvShape shape, BackboneConfig.BatchNormConfig bn,
                         boolean onImage) {
        Conv c = Conv.create(p, conv, shape,
                new Parameters.Normal(Math.sqrt(2.0 / (shape.outChannels() * shape.kernel() * shape.kernel()))), null);
        return new ConvBn(onImage ? c.onImage() : c, BatchNorm.create(p, norm, shape.outChannels(), bn.eps(), bn.frozen(),
                bn.inference()));
    }

    @Override
    public List<NDArray> stages(NDArray x, boolean training, List<Integer> wanted) {
        x = Norms.relu(stem.forward(x, training));
        x = STEM_POOL.forward(x);
        List<NDArray> out = new ArrayList<>();
        int last = wanted.stream().mapToInt(Integer::intValue).max().orElse(0);
        for (int s = 1; s <= last; s++) {
            for (Bottleneck b : layers.get(s - 1)) {
                x = b.forward(x, training);
            }
            if (wanted.contains(s)) {
                out.add(x);
            }
        }
        return out;
    }

    @Override
    public int channels(int stage) {
        return (width << (stage - 1)) * 4;
    }

    @Override
    public int stride(int stage) {
        return 4 << (stage - 1);
    }

    /** 1x1 (reduce) -> 3x3 (stride) -> 1x1 (expand x4), plus the shortcut; ReLU after the sum. */
    private static final class Bottleneck {
        private final ConvBn reduce;
        private final ConvBn spatial;
        private final ConvBn expand;
        private final ConvBn downsample;

        Bottleneck(Parameters p, String name, int in, int planes, int stride, BackboneConfig.BatchNormConfig bn) {
            reduce = convBn(p, name + "conv1", name + "bn1", ConvShape.of(in, planes, 1, 1, 0), bn, false);
            spatial = convBn(p, name + "conv2", name + "bn2", ConvShape.of(planes, planes, 3, stride, 1), bn, false);
            expand = convBn(p, name + "conv3", name + "bn3", ConvShape.of(planes, planes * 4, 1, 1, 0), bn, false);
            downsample = stride != 1 || in != planes * 4
                    ? convBn(p, name + "downsample.0", name + "downsample.1", ConvShape.of(in, planes * 4, 1, stride, 0), bn, false)
                    : null;
        }

        NDArray forward(NDArray x, boolean training) {
            NDArray y = Norms.relu(reduce.forward(x, training));
            y = Norms.relu(spatial.forward(y, training));
            y = expand.forward(y, training);
            NDArray shortcut = downsample == null ? x : downsample.forward(x, training);
            return Norms.relu(y.add(shortcut));
        }
    }
}
