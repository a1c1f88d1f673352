package org.frcnn4j.assign;

/**
 * Assigns each candidate box (an anchor, or a proposal) to at most one ground-truth box by IoU (paper, section 3.1.2).
 *
 * <p>A candidate whose best IoU is at least {@code highThreshold} is matched to that ground truth; below
 * {@code lowThreshold} it is {@link #NEGATIVE}; in between it is {@link #IGNORED}. With {@code keepBestMatch}, each
 * ground-truth box also claims the candidates that overlap it most (ties included), even under the high threshold:
 * the paper's second positive rule, which makes sure every object has an anchor. Both py-faster-rcnn and
 * torchvision compare with {@code >=} at the high threshold; the paper's text says "higher than 0.7".
 *
 * <p>One departure from both: a ground-truth box that overlaps no candidate at all (best IoU 0) claims nothing,
 * instead of claiming every candidate at IoU 0.
 */
public final class Matcher {
    /** Label of a candidate below the low threshold. */
    public static final int NEGATIVE = -1;
    /** Label of a candidate between the thresholds. */
    public static final int IGNORED = -2;

    private final float highThreshold;
    private final float lowThreshold;
    private final boolean keepBestMatch;

    public Matcher(float highThreshold, float lowThreshold, boolean keepBestMatch) {
        if (lowThreshold > highThreshold) {
            throw new IllegalArgumentException("low threshold " + lowThreshold + " > high threshold " + highThreshold);
        }
        this.highThreshold = highThreshold;
        this.lowThreshold = lowThreshold;
        this.keepBestMatch = keepBestMatch;
    }

    /** The RPN's matcher of the paper: 0.7 / 0.3, best match kept. */
    public static Matcher rpnDefault() {
        return new Matcher(0.7f, 0.3f, true);
    }

    /**
     * Matches candidates to ground truth.
     *
     * @param iou the IoU matrix, ground truth x candidates, row-major (numGt rows of numCandidates)
     * @return per candidate: the matched ground-truth index, or {@link #NEGATIVE} / {@link #IGNORED}
     */
    public int[] match(float[] iou, int numGt, int numCandidates) {
        if (iou.length != numGt * numCandidates) {
            throw new IllegalArgumentException("IoU matrix has " + iou.length + " entries, expected "
                    + numGt + " x " + numCandidates);
        }
        int[] matches = new int[numCandidates];
        if (numGt == 0) {
            java.util.Arrays.fill(matches, NEGATIVE);
            return matches;
        }
        int[] bestGt = new int[numCandidates];
        for (int j = 0; j < numCandidates; j++) {
            float best = -1f;
            int arg = 0;
            for (int g = 0; g < numGt; g++) {
                float v = iou[g * numCandidates + j];
                if (v > best) {
                    best = v;
                    arg = g;
                }
            }
            bestGt[j] = arg;
            if (best >= highThreshold) {
                matches[j] = arg;
            } else if (best < lowThreshold) {
                matches[j] = NEGATIVE;
            } else {
                matches[j] = IGNORED;
            }
        }
        if (keepBestMatch) {
            for (int g = 0; g < numGt; g++) {
                int row = g * numCandidates;
                float best = 0f;
                for (int j = 0; j < numCandidates; j++) {
                    best = Math.max(best, iou[row + j]);
                }
                if (best <= 0f) {
                    continue;
                }
                for (int j = 0; j < numCandidates; j++) {
                    if (iou[row + j] == best) {
                        // As torchvision: the candidate goes to its own best ground truth, which may be another box.
                        matches[j] = bestGt[j];
                    }
                }
            }
        }
        return matches;
    }
}
