package org.frcnn4j.eval;

import java.util.List;
import java.util.Map;
import org.frcnn4j.box.Iou;
import org.frcnn4j.data.Annotation;
import org.frcnn4j.data.Dataset;
import org.frcnn4j.data.GroundTruthBox;

/**
 * Recall of region proposals (paper, section 4.1 and Figure 4): the fraction of ground-truth boxes that some
 * proposal among an image's top N covers with IoU at least a threshold, and the average recall over IoU 0.5 to 0.95
 * (Hosang et al.'s summary figure). Difficult and crowd boxes are left out.
 */
public final class ProposalRecall {
    private final double[] bestIou;

    private ProposalRecall(double[] bestIou) {
        this.bestIou = bestIou;
    }

    /**
     * @param proposals per image id, boxes (n x 4, flat) sorted by descending score; an image without an entry has none
     * @param topN      how many of each image's proposals count
     */
    public static ProposalRecall of(Dataset groundTruth, Map<String, float[]> proposals, int topN, boolean plusOne) {
        int count = 0;
        for (Annotation a : groundTruth.images()) {
            count += (int) a.objects().stream().filter(ProposalRecall::counts).count();
        }
        double[] best = new double[count];
        int i = 0;
        for (Annotation a : groundTruth.images()) {
            float[] p = proposals.getOrDefault(a.imageId(), new float[0]);
            int n = Math.min(topN, p.length / 4);
            for (GroundTruthBox g : a.objects()) {
                if (!counts(g)) {
                    continue;
                }
                double m = 0;
                for (int j = 0; j < n; j++) {
                    m = Math.max(m, Iou.of(p[4 * j], p[4 * j + 1], p[4 * j + 2], p[4 * j + 3],
                            g.x1(), g.y1(), g.x2(), g.y2(), plusOne));
                }
                best[i++] = m;
            }
        }
        return new ProposalRecall(best);
    }

    private static boolean counts(GroundTruthBox g) {
        return !g.difficult() && !g.crowd();
    }

    /** Number of ground-truth boxes counted. */
    public int groundTruthBoxes() {
        return bestIou.length;
    }

    /** Fraction of boxes covered at IoU &gt;= threshold (NaN when there are none). */
    public double recall(double iouThreshold) {
        if (bestIou.length == 0) {
            return Double.NaN;
        }
        int hit = 0;
        for (double v : bestIou) {
            hit += v >= iouThreshold ? 1 : 0;
        }
        return (double) hit / bestIou.length;
    }

    /** Mean recall over IoU thresholds 0.50, 0.55, ..., 0.95. */
    public double averageRecall() {
        double sum = 0;
        List<Double> thresholds = thresholds();
        for (double t : thresholds) {
            sum += recall(t);
        }
        return sum / thresholds.size();
    }

    private static List<Double> thresholds() {
        double[] t = CocoEvaluator.linspace(0.5, 0.95, 10);
        return java.util.Arrays.stream(t).boxed().toList();
    }
}
