package org.frcnn4j.backbone;

import ai.djl.ndarray.NDArray;
import java.util.ArrayList;
import java.util.List;
import org.frcnn4j.nn.ConvShape;
import org.frcnn4j.nn.GemmOrder;
import org.frcnn4j.nn.Layers.Conv;
import org.frcnn4j.nn.Norms;
import org.frcnn4j.nn.Norms.ConvBn;
import org.frcnn4j.nn.Parameters;

/**
 * MobileNetV3-Large (Howard et al., 2019) as torchvision builds it: a 3x3/2 stem with hard-swish, 15 inverted residual
 * blocks (1x1 expansion, depthwise k x k, optional squeeze-and-excitation with a hard-sigmoid gate, 1x1 projection,
 * a residual connection where shapes allow), and a 1x1 conv to 6 x 160 channels. Parameter names are torchvision's
 * {@code mobilenet_v3_large().features} indices under {@code backbone.body.} ({@code 0.0} the stem conv,
 * {@code 1.block.0.0}, ..., {@code 16.1} the last norm). Stages as torchvision's detection extractor counts them: 0
 * the stem, 1-4 end at the strided blocks (features 2, 4, 7, 13), 5 the last conv (16); the FPN reads stages 4 and 5,
 * both at stride 32.
 */
final class MobileNetV3 implements Body {
    /** torchvision's table for the large model: in, kernel, expanded, out, SE, hard-swish, stride. */
    private static final int[][] LARGE = {
        {16, 3, 16, 16, 0, 0, 1}, {16, 3, 64, 24, 0, 0, 2}, {24, 3, 72, 24, 0, 0, 1}, {24, 5, 72, 40, 1, 0, 2},
        {40, 5, 120, 40, 1, 0, 1}, {40, 5, 120, 40, 1, 0, 1}, {40, 3, 240, 80, 0, 1, 2}, {80, 3, 200, 80, 0, 1, 1},
        {80, 3, 184, 80, 0, 1, 1}, {80, 3, 184, 80, 0, 1, 1}, {80, 3, 480, 112, 1, 1, 1}, {112, 3, 672, 112, 1, 1, 1},
        {112, 5, 672, 160, 1, 1, 2}, {160, 5, 960, 160, 1, 1, 1}, {160, 5, 960, 160, 1, 1, 1}};

    private final ConvBn stem;
    private final List<InvertedResidual> blocks = new ArrayList<>();
    private final ConvBn last;
    /** features index where each stage ends: the stem, the strided blocks, the last conv. */
    private final List<Integer> stageEnds = new ArrayList<>();
    private final List<Integer> stageChannels = new ArrayList<>();
    private final List<Integer> stageStrides = new ArrayList<>();

    MobileNetV3(Parameters p, String prefix, double widthMult, BackboneConfig.BatchNormConfig bn) {
        int first = adjust(16, widthMult);
        stem = convBn(p, prefix + "0", ConvShape.of(3, first, 3, 2, 1), bn, true);
        stageEnds.add(0);
        stageChannels.add(first);
        stageStrides.add(2);
        int stride = 2;
        for (int i = 0; i < LARGE.length; i++) {
            int[] r = LARGE[i];
            int in = adjust(r[0], widthMult);
            int out = adjust(r[3], widthMult);
            blocks.add(new InvertedResidual(p, prefix + (i + 1) + ".block.", in, r[1], adjust(r[2], widthMult), out,
                    r[4] == 1, r[5] == 1, r[6], bn));
            if (r[6] > 1) {
                stride *= r[6];
                stageEnds.add(i + 1);
                stageChannels.add(out);
                stageStrides.add(stride);
            }
        }
        int lastIn = adjust(LARGE[LARGE.length - 1][3], widthMult);
        last = convBn(p, prefix + (LARGE.length + 1), ConvShape.of(lastIn, 6 * lastIn, 1, 1, 0), bn, false);
        stageEnds.add(LARGE.length + 1);
        stageChannels.add(6 * lastIn);
        stageStrides.add(stride);
    }

    /** torchvision's _make_divisible(channels * width, 8): to a multiple of 8, never more than 10% down. */
    static int adjust(int channels, double widthMult) {
        double v = channels * widthMult;
        int out = Math.max(8, (int) (v + 4) / 8 * 8);
        return out < 0.9 * v ? out + 8 : out;
    }

    private static ConvBn convBn(Parameters p, String name, ConvShape shape, BackboneConfig.BatchNormConfig bn,
                                 boolean onImage) {
        int fanOut = shape.outChannels() / shape.groups() * shape.kernel() * shape.kernel();
        Conv c = Conv.create(p, name + ".0", shape, new Parameters.Normal(Math.sqrt(2.0 / fanOut)), null);
        return new ConvBn(onImage ? c.onImage() : c,
                Norms.BatchNorm.create(p, name + ".1", shape.outChannels(), bn.eps(), bn.frozen(),
                bn.inference()));
    }

    @Override
    public List<NDArray> stages(NDArray x, boolean training, List<Integer> wanted) {
        List<NDArray> out = new ArrayList<>();
        x = Norms.hardSwish(stem.forward(x, training));
        if (wanted.contains(0)) {
            out.add(x);
        }
        int lastWanted = wanted.stream().mapToInt(Integer::intValue).max().orElse(0);
        int lastFeature = stageEnds.get(lastWanted); // features index of the last stage asked for
        for (int i = 0; i < blocks.size() && i + 1 <= lastFeature; i++) {
            x = blocks.get(i).forward(x, training);
            int stage = stageEnds.indexOf(i + 1);
            if (stage >= 0 && wanted.contains(stage)) {
                out.add(x);
            }
        }
        if (wanted.contains(stageEnds.size() - 1)) {
            out.add(Norms.hardSwish(last.forward(x, training)));
        }
        return out;
    }

    @Override
    public int channels(int stage) {
        return stageChannels.get(stage);
    }

    @Override
    public int stride(int stage) {
        return stageStrides.get(stage);
    }

    /** torchvision's InvertedResidual: expand (when wider), depthwise, squeeze-and-excitation, project, residual. */
    private static final class InvertedResidual {
        private final ConvBn expand;
        private final ConvBn depthwise;
        private final Conv seReduce;
        private final Conv seExpand;
        private final ConvBn project;
        private final boolean hardSwish;
        private final boolean residual;

        InvertedResidual(Parameters p, String name, int in, int kernel, int expanded, int out, boolean se,
                         boolean hardSwish, int stride, BackboneConfig.BatchNormConfig bn) {
            this.hardSwish = hardSwish;
            this.residual = stride == 1 && in == out;
            int index = 0;
            expand = expanded != in ? convBn(p, name + index++, ConvShape.of(in, expanded, 1, 1, 0), bn, false) : null;
            depthwise = convBn(p, name + index++, new ConvShape(expanded, expanded, kernel, stride, (kernel - 1) / 2, 1,
                    expanded, 0), bn, false);
            if (se) {
                int squeeze = adjust(expanded / 4, 1.0);
                String seName = name + index++ + ".";
                Parameters.Init zero = new Parameters.Constant(0f);
                seReduce = Conv.create(p, seName + "fc1", expanded, squeeze, 1, 1, 0,
                        new Parameters.Normal(Math.sqrt(2.0 / squeeze)), zero);
                seExpand = Conv.create(p, seName + "fc2", squeeze, expanded, 1, 1, 0,
                        new Parameters.Normal(Math.sqrt(2.0 / expanded)), zero);
            } else {
                seReduce = null;
                seExpand = null;
            }
            project = convBn(p, name + index, ConvShape.of(expanded, out, 1, 1, 0), bn, false);
        }

        NDArray forward(NDArray x, boolean training) {
            NDArray y = x;
            if (expand != null) {
                y = activation(expand.forward(y, training));
            }
            y = activation(depthwise.forward(y, training));
            if (seReduce != null) {
                // torchvision's adaptive_avg_pool2d(y, 1), the very kernel
                NDArray pooled = ai.djl.pytorch.jni.JniUtils.adaptiveAvgPool((ai.djl.pytorch.engine.PtNDArray) y,
                        new ai.djl.ndarray.types.Shape(1, 1));
                // its two layers sum as the peer's BLAS does: the gate scales a whole channel, so a last-place
                // difference here moves every later value of it
                NDArray gate = Norms.hardSigmoid(GemmOrder.onPooled(seExpand, Norms.relu(GemmOrder.onPooled(seReduce, pooled))));
                y = y.mul(gate);
            }
            y = project.forward(y, training);
            return residual ? y.add(x) : y;
        }

        private NDArray activation(NDArray x) {
            return hardSwish ? Norms.hardSwish(x) : Norms.relu(x);
        }
    }
}
