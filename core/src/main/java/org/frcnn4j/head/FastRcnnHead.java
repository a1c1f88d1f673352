package org.frcnn4j.head;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Activation;
import ai.djl.nn.norm.Dropout;
import org.frcnn4j.nn.Layers.Dense;
import org.frcnn4j.nn.Parameters;

/**
 * The Fast R-CNN head (Fast R-CNN, section 2; this paper's detector): pooled RoI features pass fc6 and fc7 (ReLU,
 * dropout in training when configured), then two sibling layers give K + 1 class scores and per-class box deltas.
 * Names are torchvision's TwoMLPHead and FastRCNNPredictor keys. The predictors start from N(0, 0.01) and
 * N(0, 0.001) (py-faster-rcnn's initialisation of the new layers).
 */
public final class FastRcnnHead {
    private final Dense fc6;
    private final Dense fc7;
    private final Dense clsScore;
    private final Dense bboxPred;
    private final boolean dropout;

    /**
     * @param channels   the feature map's channels
     * @param pooledSize the RoI grid's side (7)
     */
    public FastRcnnHead(Parameters p, int channels, int pooledSize, int fcSize, int numClasses, boolean dropout) {
        Parameters.Init zero = new Parameters.Constant(0f);
        int inFeatures = channels * pooledSize * pooledSize;
        this.fc6 = Dense.create(p, "roi_heads.box_head.fc6", inFeatures, fcSize,
                new Parameters.KaimingUniform(inFeatures), new Parameters.KaimingUniform(inFeatures));
        this.fc7 = Dense.create(p, "roi_heads.box_head.fc7", fcSize, fcSize,
                new Parameters.KaimingUniform(fcSize), new Parameters.KaimingUniform(fcSize));
        this.clsScore = Dense.create(p, "roi_heads.box_predictor.cls_score", fcSize, numClasses,
                new Parameters.Normal(0.01), zero);
        this.bboxPred = Dense.create(p, "roi_heads.box_predictor.bbox_pred", fcSize, 4 * numClasses,
                new Parameters.Normal(0.001), zero);
        this.dropout = dropout;
        p.declareConvolution(fc6.flattenedShape(channels, pooledSize));
    }

    /**
     * @param classLogits (R, K + 1)
     * @param boxDeltas   (R, 4 (K + 1)), class c's deltas at columns 4c..4c+3
     */
    public record Output(NDArray classLogits, NDArray boxDeltas) {}

    /** @param pooled (R, C, 7, 7) */
    public Output forward(NDArray pooled, boolean training) {
        NDArray x = Activation.relu(fc6.forwardFlattened(pooled));
        if (dropout && training) {
            x = Dropout.dropout(x, 0.5f, true).singletonOrThrow();
        }
        x = Activation.relu(fc7.forward(x));
        if (dropout && training) {
            x = Dropout.dropout(x, 0.5f, true).singletonOrThrow();
        }
        return new Output(clsScore.forward(x), bboxPred.forward(x));
    }
}
