package org.frcnn4j.head;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.norm.Dropout;
import org.frcnn4j.nn.HandBackward;
import org.frcnn4j.nn.Layers.Dense;
import org.frcnn4j.nn.Parameters;

/**
 * The Fast R-CNN head (Fast R-CNN, section 2; this paper's detector): pooled RoI features pass fc6 and fc7 (ReLU,
 * dropout in training when configured), then two sibling layers give K + 1 class scores and per-class box deltas.
 * Names are torchvision's TwoMLPHead and FastRCNNPredictor keys. The predictors start from N(0, 0.01) and
 * N(0, 0.001) (py-faster-rcnn's initialisation of the new layers). torchvision's v2 model replaces fc6 and fc7 by
 * four 3x3 convs with batch norm and one fc layer (FastRCNNConvFCHead, {@code roi_heads.box_head.0} to {@code .5}).
 */
public final class FastRcnnHead {
    private final Dense fc6;
    private final Dense fc7;
    private final org.frcnn4j.nn.Norms.ConvBn[] convs;
    private final Dense fc;
    private final Dense clsScore;
    private final Dense bboxPred;
    private final boolean dropout;

    /**
     * @param channels   the feature map's channels
     * @param pooledSize the RoI grid's side (7)
     */
    public FastRcnnHead(Parameters p, int channels, int pooledSize, int fcSize, int numClasses, boolean dropout) {
        this(p, channels, pooledSize, fcSize, numClasses, dropout, java.util.List.of());
    }

    /** @param convLayers the conv head's channels (empty: fc6 and fc7) */
    public FastRcnnHead(Parameters p, int channels, int pooledSize, int fcSize, int numClasses, boolean dropout,
                        java.util.List<Integer> convLayers) {
        Parameters.Init zero = new Parameters.Constant(0f);
        if (convLayers.isEmpty()) {
            int inFeatures = channels * pooledSize * pooledSize;
            this.fc6 = Dense.create(p, "roi_heads.box_head.fc6", inFeatures, fcSize,
                    new Parameters.KaimingUniform(inFeatures), new Parameters.KaimingUniform(inFeatures));
            this.fc7 = Dense.create(p, "roi_heads.box_head.fc7", fcSize, fcSize,
                    new Parameters.KaimingUniform(fcSize), new Parameters.KaimingUniform(fcSize));
            this.convs = null;
            this.fc = null;
            if (Dense.flattenedAsConvolution()) { // only then is fc6 a convolution to check
                p.declareConvolution(fc6.flattenedShape(channels, pooledSize));
            }
        } else {
            this.fc6 = null;
            this.fc7 = null;
            this.convs = new org.frcnn4j.nn.Norms.ConvBn[convLayers.size()];
            int in = channels;
            for (int i = 0; i < convs.length; i++) {
                String name = "roi_heads.box_head." + i;
                int out = convLayers.get(i);
                // kaiming normal, fan-out, ReLU (FastRCNNConvFCHead's initialisation); no conv bias under batch norm
                org.frcnn4j.nn.Layers.Conv conv = org.frcnn4j.nn.Layers.Conv.create(p, name + ".0",
                        org.frcnn4j.nn.ConvShape.of(in, out, 3, 1, 1), new Parameters.Normal(Math.sqrt(2.0 / (out * 9))), null);
                convs[i] = new org.frcnn4j.nn.Norms.ConvBn(conv,
                        org.frcnn4j.nn.Norms.BatchNorm.create(p, name + ".1", out, 1e-5f, false));
                in = out;
            }
            int inFeatures = in * pooledSize * pooledSize;
            // the Flatten module holds index convs.length; the fc layer follows it
            this.fc = Dense.create(p, "roi_heads.box_head." + (convs.length + 1), inFeatures, fcSize,
                    new Parameters.KaimingUniform(inFeatures), new Parameters.KaimingUniform(inFeatures));
        }
        this.clsScore = Dense.create(p, "roi_heads.box_predictor.cls_score", fcSize, numClasses,
                new Parameters.Normal(0.01), zero);
        this.bboxPred = Dense.create(p, "roi_heads.box_predictor.bbox_pred", fcSize, 4 * numClasses,
                new Parameters.Normal(0.001), zero);
        this.dropout = dropout;
    }

    /**
     * @param classLogits (R, K + 1)
     * @param boxDeltas   (R, 4 (K + 1)), class c's deltas at columns 4c..4c+3
     */
    public record Output(NDArray classLogits, NDArray boxDeltas) {}

    /** @param pooled (R, C, 7, 7) */
    public Output forward(NDArray pooled, boolean training) {
        return forward(pooled, training, HandBackward.Below.RECORDED);
    }

    /**
     * @param pooled (R, C, 7, 7)
     * @param below  in training, what lies below the pooled features (whether fc6's gradients may be written out by
     *               hand, {@link Dense#forwardFlattened(NDArray, HandBackward.Below)})
     */
    public Output forward(NDArray pooled, boolean training, HandBackward.Below below) {
        if (convs != null) {
            NDArray x = pooled;
            for (org.frcnn4j.nn.Norms.ConvBn c : convs) {
                x = Activation.relu(c.forward(x, training));
            }
            Shape s = x.getShape();
            x = Activation.relu(fc.forward(x.reshape(s.get(0), s.get(1) * s.get(2) * s.get(3))));
            return new Output(clsScore.forward(x), bboxPred.forward(x));
        }
        NDArray x = Activation.relu(fc6.forwardFlattened(pooled, below));
        if (dropout && training) {
            x = Dropout.dropout(x, 0.5f, true).singletonOrThrow();
        }
        x = Activation.relu(fc7.forward(x));
        if (dropout && training) {
            x = Dropout.dropout(x, 0.5f, true).singletonOrThrow();
        }
        return new Output(clsScore.forward(x), bboxPred.forward(x));
    }

    /**
     * The head's two training losses for one image's sampled RoIs: softmax log loss over all of them, and lambda times
     * smooth L1 of the foreground RoIs' deltas for their own class, divided by the number of RoIs (Fast R-CNN,
     * equation 1, as torchvision normalises it).
     */
    public record Losses(NDArray classifier, NDArray box) {}

    public Losses losses(Output out, ProposalTargets.Sample s, HeadTraining training) {
        if (s.labels().length == 0) {
            // nothing sampled (no proposal and no ground truth): nothing to learn, rather than the NaN mean of nothing
            return new Losses(org.frcnn4j.nn.Losses.zero(out.classLogits()), org.frcnn4j.nn.Losses.zero(out.boxDeltas()));
        }
        NDArray cls = org.frcnn4j.nn.Losses.softmaxLogLoss(out.classLogits(), s.labels());
        if (s.foreground() == 0) {
            return new Losses(cls, org.frcnn4j.nn.Losses.zero(out.boxDeltas()));
        }
        long cols = out.boxDeltas().getShape().get(1);
        long[] idx = new long[4 * s.foreground()];
        for (int i = 0; i < s.foreground(); i++) {
            for (int j = 0; j < 4; j++) {
                idx[4 * i + j] = i * cols + 4L * s.labels()[i] + j;
            }
        }
        NDArray pred = org.frcnn4j.nn.Losses.gather(out.boxDeltas(), idx);
        NDArray target = pred.getManager().create(s.regression());
        NDArray box = org.frcnn4j.nn.Scalars.mul(org.frcnn4j.nn.Losses.smoothL1Sum(pred, target, training.beta()),
                training.lambda() / s.labels().length);
        return new Losses(cls, box);
    }
}
