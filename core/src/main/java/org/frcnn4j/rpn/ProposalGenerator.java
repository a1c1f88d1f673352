package org.frcnn4j.rpn;

import java.util.Arrays;
import org.frcnn4j.box.BoxCoder;
import org.frcnn4j.box.Boxes;
import org.frcnn4j.box.Nms;
import org.frcnn4j.model.FasterRcnnConfig.ProposalOrder;

/**
 * Turns the RPN's scores and deltas into region proposals (paper, section 3.3): decode every anchor's box, clip it to
 * the image, drop boxes under the minimum size, keep the top N by score, NMS at IoU 0.7, keep the top N again.
 * {@link ProposalOrder#TORCHVISION} takes the first top N before decoding, as torchvision's RPN does (the result is
 * the same set whenever no box in the top N is dropped as small).
 */
public final class ProposalGenerator {
    private final BoxCoder coder;
    private final ProposalOrder order;
    private final float nmsThreshold;

    public ProposalGenerator(boolean plusOne, ProposalOrder order, float nmsThreshold) {
        this.coder = new BoxCoder(new float[] {1, 1, 1, 1}, plusOne);
        this.order = order;
        this.nmsThreshold = nmsThreshold;
    }

    /** Proposals of one image: boxes (n x 4, flat) in input-image pixels and their objectness, best first. */
    public record Proposals(float[] boxes, float[] scores) {
        public int count() {
            return scores.length;
        }

        /** The first {@code n} proposals. */
        public Proposals top(int n) {
            int k = Math.min(n, count());
            return new Proposals(Arrays.copyOf(boxes, 4 * k), Arrays.copyOf(scores, k));
        }
    }

    /**
     * @param ranking     per anchor, what the top-N steps rank by: torchvision ranks raw logits (probabilities
     *                    saturate at 1 and would tie), py-faster-rcnn the probabilities
     * @param scores      objectness probability per anchor: the proposals' scores, and NMS's order
     * @param deltas      per anchor, 4 values
     * @param anchors     per anchor, 4 values
     * @param minSize     minimum width and height, in input-image pixels (already multiplied by the image's scale)
     */
    public Proposals generate(float[] ranking, float[] scores, float[] deltas, float[] anchors, int imageHeight, int imageWidth,
                              int preNmsTopN, int postNmsTopN, float minSize) {
        boolean plusOne = coder.plusOne();
        int[] candidates;
        float[] boxes;
        if (order == ProposalOrder.TORCHVISION) {
            candidates = Arrays.copyOf(Nms.argsortDescending(ranking), Math.min(preNmsTopN, ranking.length));
            boxes = coder.decode(Boxes.select(deltas, candidates), Boxes.select(anchors, candidates));
            Boxes.clipInPlace(boxes, imageHeight, imageWidth, plusOne);
            int[] big = Boxes.keepAtLeast(boxes, minSize, plusOne);
            boxes = Boxes.select(boxes, big);
            candidates = Boxes.select1(candidates, big);
        } else {
            boxes = coder.decode(deltas, anchors);
            Boxes.clipInPlace(boxes, imageHeight, imageWidth, plusOne);
            int[] big = Boxes.keepAtLeast(boxes, minSize, plusOne);
            int[] ranked = Nms.argsortDescending(Boxes.select1(ranking, big));
            int[] top = Arrays.copyOf(ranked, Math.min(preNmsTopN, ranked.length));
            candidates = Boxes.select1(big, top);
            boxes = Boxes.select(boxes, candidates);
        }
        float[] candidateScores = Boxes.select1(scores, candidates);
        int[] keep = Nms.apply(boxes, candidateScores, nmsThreshold, plusOne, postNmsTopN);
        return new Proposals(Boxes.select(boxes, keep), Boxes.select1(candidateScores, keep));
    }
}
