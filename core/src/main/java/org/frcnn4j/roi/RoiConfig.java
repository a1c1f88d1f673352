package org.frcnn4j.roi;

import org.frcnn4j.io.Ranges;

/**
 * Read by {@link org.frcnn4j.roi.RoiFeatureExtractor}.
 *
 * @param outputSize    7
 * @param samplingRatio RoIAlign samples per bin and axis (torchvision: 2; 0: adaptive)
 * @param aligned       RoIAlign's half-pixel shift (torchvision's Faster R-CNN: false)
 */
public record RoiConfig(RoiOp op, int outputSize, int samplingRatio, boolean aligned) {
    public RoiConfig {
        Ranges.given("roi.op", op);
        Ranges.atLeast("roi.outputSize", outputSize, 1);
        Ranges.atLeast("roi.samplingRatio", samplingRatio, 0);
    }

    /** The RoI feature extractor. */
    public enum RoiOp {
        /** Max pooling over quantised bins (Fast R-CNN, the paper). */
        POOL,
        /** Bilinear sampling (Mask R-CNN; torchvision's default). */
        ALIGN
    }
}
