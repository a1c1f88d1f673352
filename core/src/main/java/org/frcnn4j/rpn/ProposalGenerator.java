package org.frcnn4j.rpn;

import java.util.Arrays;
import org.frcnn4j.box.BoxCoder;
import org.frcnn4j.box.Boxes;
import org.frcnn4j.box.Nms;
import org.frcnn4j.box.TorchSort;
import org.frcnn4j.rpn.RpnConfig.ProposalOrder;

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

    /** A single level's proposals, without a score threshold (the paper's RPN). */
    public Proposals generate(float[] ranking, float[] scores, float[] deltas, float[] anchors, int imageHeight, int imageWidth,
                              int preNmsTopN, int postNmsTopN, float minSize) {
        return generate(ranking, scores, deltas, anchors, new int[] {scores.length}, imageHeight, imageWidth, preNmsTopN,
                postNmsTopN, minSize, 0f);
    }

    /**
     * @param ranking        per anchor, what the top-N steps rank by: torchvision ranks raw logits (probabilities
     *                       saturate at 1 and would tie), py-faster-rcnn the probabilities
     * @param scores         objectness probability per anchor: the proposals' scores, and NMS's order
     * @param deltas         per anchor, 4 values
     * @param anchors        per anchor, 4 values
     * @param levelCounts    anchors of each pyramid level, in order (one level: all of them). torchvision takes the
     *                       top N of each level, and runs NMS within each level
     * @param minSize        minimum width and height, in input-image pixels (already multiplied by the image's scale)
     * @param scoreThreshold proposals with a lower objectness probability are dropped before NMS
     */
    public Proposals generate(float[] ranking, float[] scores, float[] deltas, float[] anchors, int[] levelCounts,
                              int imageHeight, int imageWidth, int preNmsTopN, int postNmsTopN, float minSize,
                              float scoreThreshold) {
        return generateTraced(ranking, scores, deltas, anchors, levelCounts, imageHeight, imageWidth, preNmsTopN,
                postNmsTopN, minSize, scoreThreshold).proposals();
    }

    /**
     * The boxes that went into NMS (decoded, clipped, big enough, the top N of their level) in the order NMS saw
     * them, not sorted.
     *
     * @param anchors per box, the index of the anchor it was regressed from
     * @param levels  per box, its pyramid level (NMS runs within a level)
     */
    public record Candidates(float[] boxes, float[] scores, int[] anchors, int[] levels) {
        public int count() {
            return scores.length;
        }
    }

    /** The proposals, and the candidates they were chosen from: what a picture of the RPN's last step shows. */
    public record Traced(Candidates beforeNms, Proposals proposals) {}

    /** As {@link #generate(float[], float[], float[], float[], int[], int, int, int, int, float, float)}, traced. */
    public Traced generateTraced(float[] ranking, float[] scores, float[] deltas, float[] anchors, int[] levelCounts,
                                 int imageHeight, int imageWidth, int preNmsTopN, int postNmsTopN, float minSize,
                                 float scoreThreshold) {
        boolean plusOne = coder.plusOne();
        int[] candidates;
        float[] boxes;
        if (order == ProposalOrder.TORCHVISION) {
            candidates = topPerLevel(ranking, levelCounts, preNmsTopN);
            boxes = coder.decode(Boxes.select(deltas, candidates), Boxes.select(anchors, candidates));
            Boxes.clipInPlace(boxes, imageHeight, imageWidth, plusOne);
            int[] kept = Boxes.keepAtLeast(boxes, minSize, plusOne);
            if (scoreThreshold > 0) {
                kept = atLeast(kept, candidates, scores, scoreThreshold);
            }
            boxes = Boxes.select(boxes, kept);
            candidates = Boxes.select1(candidates, kept);
        } else {
            if (levelCounts.length > 1) {
                throw new IllegalArgumentException("the paper's proposal order has one feature level");
            }
            boxes = coder.decode(deltas, anchors);
            Boxes.clipInPlace(boxes, imageHeight, imageWidth, plusOne);
            int[] big = Boxes.keepAtLeast(boxes, minSize, plusOne);
            int[] ranked = Nms.argsortDescending(Boxes.select1(ranking, big));
            int[] top = Arrays.copyOf(ranked, Math.min(preNmsTopN, ranked.length));
            candidates = Boxes.select1(big, top);
            boxes = Boxes.select(boxes, candidates);
        }
        float[] candidateScores = Boxes.select1(scores, candidates);
        int[] levels = levelOf(candidates, levelCounts);
        int[] keep;
        if (order != ProposalOrder.TORCHVISION) {
            keep = Nms.apply(boxes, candidateScores, nmsThreshold, plusOne, postNmsTopN);
        } else {
            // torchvision's batched_nms (one level too): levels never suppress each other; then the best postNmsTopN
            keep = Nms.batched(boxes, candidateScores, levels, nmsThreshold, plusOne);
            keep = Arrays.copyOf(keep, Math.min(postNmsTopN, keep.length));
        }
        return new Traced(new Candidates(boxes, candidateScores, candidates, levels),
                new Proposals(Boxes.select(boxes, keep), Boxes.select1(candidateScores, keep)));
    }

    /**
     * The indices of each level's top {@code n} anchors by {@code ranking}, level by level (torchvision's
     * _get_top_n_idx), equal scores chosen as torch's topk chooses them.
     */
    static int[] topPerLevel(float[] ranking, int[] levelCounts, int n) {
        int total = 0;
        for (int c : levelCounts) {
            total += Math.min(n, c);
        }
        int[] out = new int[total];
        int at = 0;
        int offset = 0;
        for (int c : levelCounts) {
            float[] level = Arrays.copyOfRange(ranking, offset, offset + c);
            for (int i : TorchSort.topk(level, Math.min(n, c))) {
                out[at++] = i + offset;
            }
            offset += c;
        }
        return out;
    }

    private static int[] atLeast(int[] kept, int[] candidates, float[] scores, float threshold) {
        int[] out = new int[kept.length];
        int k = 0;
        for (int i : kept) {
            if (scores[candidates[i]] >= threshold) {
                out[k++] = i;
            }
        }
        return Arrays.copyOf(out, k);
    }

    private static int[] levelOf(int[] anchorIndices, int[] levelCounts) {
        int[] out = new int[anchorIndices.length];
        for (int i = 0; i < anchorIndices.length; i++) {
            int a = anchorIndices[i];
            int level = 0;
            while (a >= levelCounts[level]) {
                a -= levelCounts[level++];
            }
            out[i] = level;
        }
        return out;
    }
}
