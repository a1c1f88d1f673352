package org.frcnn4j.rpn;

import java.util.Arrays;
import java.util.Random;
import org.frcnn4j.anchor.AnchorGenerator;
import org.frcnn4j.assign.BalancedSampler;
import org.frcnn4j.assign.Matcher;
import org.frcnn4j.box.BoxCoder;
import org.frcnn4j.box.Boxes;
import org.frcnn4j.box.Iou;

/**
 * The RPN's training targets for one image (paper, section 3.1.2): anchors that cross the image boundary are ignored
 * (when configured); an anchor is positive when its IoU with a ground-truth box is at least 0.7 or it is the best
 * anchor of some box (ties included), negative when its IoU is below 0.3 for every box; 256 are sampled with at most
 * half positive. An image without ground truth gives only negatives.
 */
public final class AnchorTargets {
    private final RpnTraining config;
    private final BoxCoder coder;
    private final boolean plusOne;

    public AnchorTargets(RpnTraining config, boolean plusOne) {
        this.config = config;
        this.plusOne = plusOne;
        this.coder = new BoxCoder(new float[] {1, 1, 1, 1}, plusOne);
    }

    /**
     * The sampled anchors of one image.
     *
     * @param positives  anchor indices with an object
     * @param negatives  anchor indices of background
     * @param regression (positives x 4) deltas from each positive anchor to its ground-truth box
     */
    public record Sample(int[] positives, int[] negatives, float[] regression) {}

    /**
     * @param anchors every anchor (n x 4), in the head's order
     * @param gt      ground-truth boxes in input-image pixels (m x 4)
     */
    public Sample sample(float[] anchors, float[] gt, int imageHeight, int imageWidth, Random random) {
        int n = anchors.length / 4;
        int[] candidates = config.ignoreCrossBoundary()
                ? AnchorGenerator.insideImage(anchors, imageHeight, imageWidth, 0)
                : identity(n);
        float[] inside = Boxes.select(anchors, candidates);
        int numGt = gt.length / 4;
        Matcher matcher = new Matcher(config.positiveIou(), config.negativeIou(), true);
        int[] matches = matcher.match(Iou.matrix(gt, inside, plusOne), numGt, candidates.length);
        BalancedSampler.Sample s = new BalancedSampler(config.batchSize(), config.positiveFraction()).sample(matches, random);
        int[] pos = new int[s.positives().length];
        int[] gtOfPos = new int[pos.length];
        for (int i = 0; i < pos.length; i++) {
            pos[i] = candidates[s.positives()[i]];
            gtOfPos[i] = matches[s.positives()[i]];
        }
        int[] neg = Arrays.stream(s.negatives()).map(i -> candidates[i]).toArray();
        float[] regression = coder.encode(Boxes.select(gt, gtOfPos), Boxes.select(anchors, pos));
        return new Sample(pos, neg, regression);
    }

    private static int[] identity(int n) {
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            out[i] = i;
        }
        return out;
    }
}
