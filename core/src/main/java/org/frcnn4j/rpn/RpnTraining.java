package org.frcnn4j.rpn;

/**
 * How the RPN learns (paper, section 3.1.2): which anchors are sampled and how its two losses are weighed. Read by
 * {@link AnchorTargets} and {@link RegionProposalNetwork#losses}.
 *
 * @param batchSize           anchors sampled per image (256)
 * @param positiveFraction    at most this share positive (0.5)
 * @param positiveIou         IoU from which an anchor is positive (0.7; the best anchor of a box is positive too)
 * @param negativeIou         IoU under which an anchor is negative (0.3)
 * @param ignoreCrossBoundary anchors crossing the image edge are ignored (paper; torchvision keeps them)
 * @param normalization       how the box loss is divided
 * @param lambda              the paper's lambda, the box loss's weight (10 with PAPER normalisation; 1 in the code)
 * @param beta                smooth L1 transition point (1 in the paper; 1/9 in py-faster-rcnn's RPN and torchvision)
 */
public record RpnTraining(int batchSize, float positiveFraction, float positiveIou, float negativeIou,
                          boolean ignoreCrossBoundary, Normalization normalization, float lambda, float beta) {

    /** How the RPN's box loss is normalised. */
    public enum Normalization {
        /** The paper's equation 1: N_cls = the sampled anchors (256), N_reg = the number of anchor locations. */
        PAPER,
        /** py-faster-rcnn's and torchvision's code: both terms divided by the number of sampled anchors. */
        SAMPLED
    }

    public RpnTraining withSampling(int batch, float fraction) {
        return new RpnTraining(batch, fraction, positiveIou, negativeIou, ignoreCrossBoundary, normalization, lambda, beta);
    }

    public RpnTraining withLoss(Normalization n, float newLambda, float newBeta) {
        return new RpnTraining(batchSize, positiveFraction, positiveIou, negativeIou, ignoreCrossBoundary, n, newLambda, newBeta);
    }
}
