package org.frcnn4j.head;

/**
 * How the Fast R-CNN head learns: the RoIs sampled from the proposals plus ground truth (Fast R-CNN, section 2.3) and
 * the weight of its box loss. Read by {@link ProposalTargets} and {@link FastRcnnHead#losses}.
 *
 * @param batchSize        RoIs per image (128 in py-faster-rcnn, 512 in torchvision)
 * @param positiveFraction at most this share foreground (0.25)
 * @param foregroundIou    IoU from which a RoI is foreground (0.5)
 * @param backgroundIouLow background RoIs have IoU in [this, foregroundIou); lower ones are ignored
 * @param lambda           the box loss's weight (1)
 * @param beta             smooth L1 transition point (1 in py-faster-rcnn; 1/9 in torchvision)
 */
public record HeadTraining(int batchSize, float positiveFraction, float foregroundIou, float backgroundIouLow,
                           float lambda, float beta) {
    public HeadTraining withSampling(int batch, float fraction) {
        return new HeadTraining(batch, fraction, foregroundIou, backgroundIouLow, lambda, beta);
    }
}
