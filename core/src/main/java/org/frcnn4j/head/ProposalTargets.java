package org.frcnn4j.head;

import java.util.Random;
import org.frcnn4j.assign.BalancedSampler;
import org.frcnn4j.assign.Matcher;
import org.frcnn4j.box.BoxCoder;
import org.frcnn4j.box.Boxes;
import org.frcnn4j.box.Iou;

/**
 * The Fast R-CNN head's training RoIs for one image (Fast R-CNN, section 2.3; py-faster-rcnn's
 * {@code proposal_target_layer}): the ground-truth boxes join the proposals; a RoI is foreground when its best IoU
 * with a ground-truth box is at least 0.5 (it takes that box's class), background when the IoU is in
 * [low, 0.5), ignored below low; 128 RoIs are sampled with up to 25% foreground. Foreground RoIs regress to their box
 * with the head's box-coder weights (10, 10, 5, 5), i.e. targets normalised by (0.1, 0.1, 0.2, 0.2).
 */
public final class ProposalTargets {
    private final HeadTraining config;
    private final BoxCoder coder;
    private final boolean plusOne;

    public ProposalTargets(HeadTraining config, float[] boxWeights, boolean plusOne) {
        this.config = config;
        this.plusOne = plusOne;
        this.coder = new BoxCoder(boxWeights, plusOne);
    }

    /**
     * The sampled RoIs, foreground first.
     *
     * @param rois       (n x 4) in input-image pixels
     * @param labels     per RoI: 1..K for foreground, 0 for background
     * @param regression per foreground RoI, 4 deltas toward its box (foreground count x 4)
     */
    public record Sample(float[] rois, int[] labels, float[] regression, int foreground) {}

    /**
     * @param proposals the RPN's proposals (p x 4)
     * @param gt        ground-truth boxes (m x 4)
     * @param gtLabels  their classes, 1..K
     */
    public Sample sample(float[] proposals, float[] gt, int[] gtLabels, Random random) {
        float[] rois = new float[proposals.length + gt.length];
        System.arraycopy(proposals, 0, rois, 0, proposals.length);
        System.arraycopy(gt, 0, rois, proposals.length, gt.length);
        int n = rois.length / 4;
        int numGt = gt.length / 4;
        int[] matches;
        if (numGt == 0) {
            matches = new int[n];
            java.util.Arrays.fill(matches, Matcher.NEGATIVE);
        } else {
            float[] iou = Iou.matrix(gt, rois, plusOne);
            // background IoU in [low, fg): the matcher's NEGATIVE band is [low, fg), below low is ignored
            matches = new Matcher(config.foregroundIou(), config.foregroundIou(), false).match(iou, numGt, n);
            if (config.backgroundIouLow() > 0) {
                for (int j = 0; j < n; j++) {
                    if (matches[j] == Matcher.NEGATIVE && bestIou(iou, numGt, n, j) < config.backgroundIouLow()) {
                        matches[j] = Matcher.IGNORED;
                    }
                }
            }
        }
        BalancedSampler.Sample s = new BalancedSampler(config.batchSize(), config.positiveFraction()).sample(matches, random);
        int fg = s.positives().length;
        int total = fg + s.negatives().length;
        int[] keep = new int[total];
        int[] labels = new int[total];
        int[] gtOfFg = new int[fg];
        for (int i = 0; i < fg; i++) {
            keep[i] = s.positives()[i];
            gtOfFg[i] = matches[keep[i]];
            labels[i] = gtLabels[gtOfFg[i]];
        }
        System.arraycopy(s.negatives(), 0, keep, fg, s.negatives().length);
        float[] sampled = Boxes.select(rois, keep);
        float[] regression = coder.encode(Boxes.select(gt, gtOfFg), Boxes.select(sampled, java.util.Arrays.copyOf(identity(total), fg)));
        return new Sample(sampled, labels, regression, fg);
    }

    private static float bestIou(float[] iou, int numGt, int n, int j) {
        float best = 0;
        for (int g = 0; g < numGt; g++) {
            best = Math.max(best, iou[g * n + j]);
        }
        return best;
    }

    private static int[] identity(int n) {
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            out[i] = i;
        }
        return out;
    }
}
