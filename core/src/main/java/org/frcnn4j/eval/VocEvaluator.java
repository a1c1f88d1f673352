package org.frcnn4j.eval;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.frcnn4j.box.Iou;
import org.frcnn4j.data.Annotation;
import org.frcnn4j.data.Dataset;
import org.frcnn4j.data.Detection;
import org.frcnn4j.data.GroundTruthBox;

/**
 * PASCAL VOC average precision, with the semantics of the devkit's {@code VOCevaldet.m}:
 * <ul>
 *   <li>detections of a class are visited by descending score; equal scores keep the order they were given in
 *       (a stable sort, as MATLAB's {@code sort}); callers pass result files in ascending name order, lines in order;</li>
 *   <li>a detection is compared with every ground-truth box of its class in its image; if the best IoU is at least
 *       the threshold, it is a true positive when that box is not difficult and not yet taken, a false positive when
 *       it was taken already, and neither when the box is difficult; otherwise it is a false positive;</li>
 *   <li>difficult boxes (and COCO crowd boxes) do not count as positives;</li>
 *   <li>IoU uses the +1 pixel convention by default;</li>
 *   <li>VOC2007 AP is the mean over recall t = 0, 0.1, ..., 1 of the highest precision at recall &gt;= t (0 when
 *       none; t computed as i * 0.1, as numpy's {@code arange}); VOC2010+ AP is the area under the monotone
 *       precision envelope.</li>
 * </ul>
 * A class with no positive box has no AP (NaN) and is left out of the mean.
 */
public final class VocEvaluator {
    /**
     * @param iouThreshold the overlap a true positive needs (0.5 in VOC)
     * @param elevenPoint  VOC2007's 11-point AP, else the VOC2010+ area
     * @param plusOne      IoU with the +1 pixel convention
     */
    public record Options(double iouThreshold, boolean elevenPoint, boolean plusOne) {
        public static Options voc07() {
            return new Options(0.5, true, true);
        }

        public static Options voc() {
            return new Options(0.5, false, true);
        }
    }

    /** AP of one class, with its precision/recall curve (one point per detection, in score order). */
    public record ClassResult(String name, int positives, int detections, double ap, double[] recall, double[] precision) {}

    /** Per-class results and their mean over the classes that have positives. */
    public record Result(Options options, double mAP, List<ClassResult> perClass) {}

    private VocEvaluator() {}

    public static Result evaluate(Dataset groundTruth, List<Detection> detections, Options options) {
        int numClasses = groundTruth.classes().size();
        List<List<Detection>> byClass = new ArrayList<>();
        for (int c = 0; c < numClasses; c++) {
            byClass.add(new ArrayList<>());
        }
        for (Detection d : detections) {
            if (d.label() < 0 || d.label() >= numClasses) {
                throw new org.frcnn4j.io.BadInputException("detection of unknown label " + d.label() + " in image " + d.imageId());
            }
            byClass.get(d.label()).add(d);
        }
        List<ClassResult> results = new ArrayList<>();
        double sum = 0;
        int counted = 0;
        for (int c = 0; c < numClasses; c++) {
            ClassResult r = evaluateClass(groundTruth, c, byClass.get(c), options);
            results.add(r);
            if (r.positives() > 0) {
                sum += r.ap();
                counted++;
            }
        }
        return new Result(options, counted == 0 ? Double.NaN : sum / counted, results);
    }

    private static final class ImageTruth {
        final List<GroundTruthBox> boxes = new ArrayList<>();
        /** Each box's index among all of its image's objects. */
        final List<Integer> objectIndex = new ArrayList<>();
        boolean[] taken;
    }

    /** A detection that matched no ground-truth box, or a second one for a taken box: a false positive. */
    public static final int FALSE_POSITIVE = -1;
    /** A detection that matched a difficult box: neither true nor false positive. */
    public static final int IGNORED = -2;

    /**
     * The VOC matching of every detection, in the order given: the index (into its image's {@code objects()}) of the
     * ground-truth box it is the true positive of, {@link #FALSE_POSITIVE} or {@link #IGNORED}. Detections are matched
     * best score first, within their class, as {@link #evaluate} matches them: a detection's outcome never depends
     * on detections of lower score, so those at or above any threshold keep theirs.
     */
    public static int[] matches(Dataset groundTruth, List<Detection> detections, Options options) {
        for (Detection d : detections) {
            if (d.label() < 0 || d.label() >= groundTruth.classes().size()) {
                throw new org.frcnn4j.io.BadInputException("detection of unknown label " + d.label() + " in image "
                        + d.imageId());
            }
        }
        int[] out = new int[detections.size()];
        for (int c = 0; c < groundTruth.classes().size(); c++) {
            List<Integer> mine = new ArrayList<>();
            for (int i = 0; i < detections.size(); i++) {
                if (detections.get(i).label() == c) {
                    mine.add(i);
                }
            }
            mine.sort(Comparator.comparingDouble((Integer i) -> detections.get(i).score()).reversed());
            Map<String, ImageTruth> truth = truth(groundTruth, c);
            List<Detection> sorted = mine.stream().map(detections::get).toList();
            int[] m = matchClass(truth, sorted, options);
            for (int k = 0; k < m.length; k++) {
                Detection d = sorted.get(k);
                out[mine.get(k)] = m[k] >= 0 ? truth.get(d.imageId()).objectIndex.get(m[k]) : m[k];
            }
        }
        return out;
    }

    private static Map<String, ImageTruth> truth(Dataset gt, int label) {
        Map<String, ImageTruth> truth = new HashMap<>();
        for (Annotation a : gt.images()) {
            ImageTruth t = truth.computeIfAbsent(a.imageId(), k -> new ImageTruth());
            for (int j = 0; j < a.objects().size(); j++) {
                GroundTruthBox b = a.objects().get(j);
                if (b.label() == label) {
                    t.boxes.add(b);
                    t.objectIndex.add(j);
                }
            }
        }
        truth.values().forEach(t -> t.taken = new boolean[t.boxes.size()]);
        return truth;
    }

    /** For each detection (best first), the index of the class's box of its image it took, or -1 / -2. */
    private static int[] matchClass(Map<String, ImageTruth> truth, List<Detection> sorted, Options o) {
        int[] out = new int[sorted.size()];
        for (int i = 0; i < sorted.size(); i++) {
            Detection d = sorted.get(i);
            ImageTruth t = truth.get(d.imageId());
            double best = Double.NEGATIVE_INFINITY;
            int arg = -1;
            if (t != null) {
                for (int j = 0; j < t.boxes.size(); j++) {
                    GroundTruthBox b = t.boxes.get(j);
                    double iou = Iou.of(d.x1(), d.y1(), d.x2(), d.y2(), b.x1(), b.y1(), b.x2(), b.y2(), o.plusOne());
                    if (iou > best) {
                        best = iou;
                        arg = j;
                    }
                }
            }
            if (arg >= 0 && best >= o.iouThreshold()) {
                if (ignored(t.boxes.get(arg))) {
                    out[i] = IGNORED; // matched a difficult box: neither true nor false positive
                } else if (!t.taken[arg]) {
                    t.taken[arg] = true;
                    out[i] = arg;
                } else {
                    out[i] = FALSE_POSITIVE;
                }
            } else {
                out[i] = FALSE_POSITIVE;
            }
        }
        return out;
    }

    private static ClassResult evaluateClass(Dataset gt, int label, List<Detection> dets, Options o) {
        Map<String, ImageTruth> truth = truth(gt, label);
        int positives = 0;
        for (ImageTruth t : truth.values()) {
            for (GroundTruthBox b : t.boxes) {
                if (!ignored(b)) {
                    positives++;
                }
            }
        }
        List<Detection> sorted = new ArrayList<>(dets);
        sorted.sort(Comparator.comparingDouble(Detection::score).reversed()); // List.sort is stable
        int n = sorted.size();
        int[] m = matchClass(truth, sorted, o);
        double[] tp = new double[n];
        double[] fp = new double[n];
        for (int i = 0; i < n; i++) {
            tp[i] = m[i] >= 0 ? 1 : 0;
            fp[i] = m[i] == FALSE_POSITIVE ? 1 : 0;
        }
        double[] recall = new double[n];
        double[] precision = new double[n];
        double ctp = 0;
        double cfp = 0;
        for (int i = 0; i < n; i++) {
            ctp += tp[i];
            cfp += fp[i];
            recall[i] = positives == 0 ? Double.NaN : ctp / positives;
            precision[i] = ctp / Math.max(ctp + cfp, Double.MIN_NORMAL);
        }
        double ap = positives == 0 ? Double.NaN
                : o.elevenPoint() ? elevenPointAp(recall, precision) : areaAp(recall, precision);
        return new ClassResult(gt.classes().name(label), positives, n, ap, recall, precision);
    }

    private static boolean ignored(GroundTruthBox b) {
        return b.difficult() || b.crowd();
    }

    /** VOC2007: mean over t in {0, 0.1, ..., 1} of max(precision[recall &gt;= t]). */
    public static double elevenPointAp(double[] recall, double[] precision) {
        double ap = 0;
        for (int i = 0; i <= 10; i++) {
            double t = i * 0.1;
            double p = 0;
            for (int k = 0; k < recall.length; k++) {
                if (recall[k] >= t) {
                    p = Math.max(p, precision[k]);
                }
            }
            ap += p / 11.0;
        }
        return ap;
    }

    /** VOC2010+: area under the precision envelope, with (0, 0) prepended and (1, 0) appended. */
    public static double areaAp(double[] recall, double[] precision) {
        int n = recall.length;
        double[] mrec = new double[n + 2];
        double[] mpre = new double[n + 2];
        mrec[n + 1] = 1.0;
        for (int i = 0; i < n; i++) {
            mrec[i + 1] = recall[i];
            mpre[i + 1] = precision[i];
        }
        for (int i = n; i >= 0; i--) {
            mpre[i] = Math.max(mpre[i], mpre[i + 1]);
        }
        double ap = 0;
        for (int i = 0; i <= n; i++) {
            if (mrec[i + 1] != mrec[i]) {
                ap += (mrec[i + 1] - mrec[i]) * mpre[i + 1];
            }
        }
        return ap;
    }
}
