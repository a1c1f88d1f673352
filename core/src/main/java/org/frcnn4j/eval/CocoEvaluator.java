package org.frcnn4j.eval;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.frcnn4j.data.Annotation;
import org.frcnn4j.data.Dataset;
import org.frcnn4j.data.Detection;
import org.frcnn4j.data.GroundTruthBox;

/**
 * COCO box AP and AR with the semantics of pycocotools' {@code COCOeval} ({@code iouType='bbox'}):
 * IoU thresholds .50:.05:.95, 101 recall points, at most 1/10/100 detections per image and category, area ranges
 * all / small (&lt; 32^2) / medium / large (&gt; 96^2) taken from the ground truth's {@code area} field and the
 * detection's w * h, crowd boxes ignored and matched with IoU = intersection / detection area, stable sorts
 * throughout, images in ascending id order, and categories without ground truth left out of the means.
 * VOC difficult boxes are treated as ignored (but not crowd) boxes.
 */
public final class CocoEvaluator {
    /** The twelve summary figures, in COCOeval's {@code stats} order. */
    public static final List<String> STAT_NAMES = List.of(
            "AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl");

    private static final double[] IOU_THRESHOLDS = linspace(0.5, 0.95, 10);
    private static final double[] RECALL_THRESHOLDS = linspace(0.0, 1.0, 101);
    private static final int[] MAX_DETS = {1, 10, 100};
    private static final double[][] AREA_RANGES = {{0, 1e10}, {0, 32 * 32}, {32 * 32, 96 * 96}, {96 * 96, 1e10}};
    private static final double EPS = Math.ulp(1.0); // np.spacing(1)

    /** The summary figures by name ({@link #STAT_NAMES}); -1 where nothing was there to measure, as COCOeval. */
    public record Result(Map<String, Double> stats) {
        public double get(String name) {
            return stats.get(name);
        }
    }

    private CocoEvaluator() {}

    /** numpy's linspace: i * step + start, with the last point set to stop. */
    static double[] linspace(double start, double stop, int num) {
        double step = (stop - start) / (num - 1);
        double[] out = new double[num];
        for (int i = 0; i < num; i++) {
            out[i] = i * step + start;
        }
        out[num - 1] = stop;
        return out;
    }

    /** What one image contributes for one category and area range ({@code evaluateImg}'s record). */
    private record ImageEval(double[] dtScores, boolean[][] dtMatched, boolean[][] dtIgnored, boolean[] gtIgnored) {}

    public static Result evaluate(Dataset groundTruth, List<Detection> detections) {
        List<Annotation> images = new ArrayList<>(groundTruth.images());
        images.sort(imageOrder(images));
        int numClasses = groundTruth.classes().size();
        Map<String, Integer> imageIndex = new HashMap<>();
        for (int i = 0; i < images.size(); i++) {
            imageIndex.put(images.get(i).imageId(), i);
        }
        // detections per (image, class), in the order given (COCOeval's _prepare)
        Map<Long, List<Detection>> dts = new LinkedHashMap<>();
        for (Detection d : detections) {
            Integer img = imageIndex.get(d.imageId());
            if (img == null) {
                throw new org.frcnn4j.io.BadInputException("detection for image '" + d.imageId() + "', which the ground truth lacks");
            }
            dts.computeIfAbsent(key(img, d.label()), k -> new ArrayList<>()).add(d);
        }
        int numT = IOU_THRESHOLDS.length, numR = RECALL_THRESHOLDS.length, numA = AREA_RANGES.length, numM = MAX_DETS.length;
        // precision[t][r][k][a][m] flattened per (k, a, m): -1 where the category has no ground truth
        double[][][][][] precision = new double[numT][numR][numClasses][numA][numM];
        double[][][][] recall = new double[numT][numClasses][numA][numM];
        for (double[][][][] p : precision) {
            for (double[][][] q : p) {
                for (double[][] r : q) {
                    for (double[] s : r) {
                        Arrays.fill(s, -1);
                    }
                }
            }
        }
        for (double[][][] r : recall) {
            for (double[][] q : r) {
                for (double[] s : q) {
                    Arrays.fill(s, -1);
                }
            }
        }
        int maxDet = MAX_DETS[MAX_DETS.length - 1];
        for (int k = 0; k < numClasses; k++) {
            for (int a = 0; a < numA; a++) {
                List<ImageEval> evals = new ArrayList<>();
                for (int i = 0; i < images.size(); i++) {
                    List<GroundTruthBox> g = new ArrayList<>();
                    for (GroundTruthBox b : images.get(i).objects()) {
                        if (b.label() == k) {
                            g.add(b);
                        }
                    }
                    List<Detection> d = dts.getOrDefault(key(i, k), List.of());
                    if (g.isEmpty() && d.isEmpty()) {
                        continue;
                    }
                    evals.add(evaluateImage(g, d, AREA_RANGES[a], maxDet));
                }
                for (int m = 0; m < numM; m++) {
                    accumulate(evals, MAX_DETS[m], precision, recall, k, a, m);
                }
            }
        }
        Map<String, Double> stats = new LinkedHashMap<>();
        stats.put("AP", summarizePrecision(precision, -1, 0, 2));
        stats.put("AP50", summarizePrecision(precision, 0, 0, 2));
        stats.put("AP75", summarizePrecision(precision, 5, 0, 2));
        stats.put("APs", summarizePrecision(precision, -1, 1, 2));
        stats.put("APm", summarizePrecision(precision, -1, 2, 2));
        stats.put("APl", summarizePrecision(precision, -1, 3, 2));
        stats.put("AR1", summarizeRecall(recall, 0, 0));
        stats.put("AR10", summarizeRecall(recall, 0, 1));
        stats.put("AR100", summarizeRecall(recall, 0, 2));
        stats.put("ARs", summarizeRecall(recall, 1, 2));
        stats.put("ARm", summarizeRecall(recall, 2, 2));
        stats.put("ARl", summarizeRecall(recall, 3, 2));
        return new Result(stats);
    }

    private static long key(int image, int label) {
        return ((long) image << 32) | (label & 0xffffffffL);
    }

    /** Ascending numeric id when every id is a number (COCO), else ascending text. */
    private static Comparator<Annotation> imageOrder(List<Annotation> images) {
        boolean numeric = images.stream().allMatch(a -> a.imageId().matches("-?\\d{1,18}"));
        return numeric ? Comparator.comparingLong(a -> Long.parseLong(a.imageId()))
                : Comparator.comparing(Annotation::imageId);
    }

    private static ImageEval evaluateImage(List<GroundTruthBox> gtIn, List<Detection> dtIn, double[] areaRange, int maxDet) {
        // ground truth: ignored ones last (stable); detections: by descending score (stable), at most maxDet
        List<GroundTruthBox> gt = new ArrayList<>(gtIn);
        gt.sort(Comparator.comparingInt(b -> ignored(b, areaRange) ? 1 : 0));
        List<Detection> dt = new ArrayList<>(dtIn);
        dt.sort(Comparator.comparingDouble(Detection::score).reversed());
        if (dt.size() > maxDet) {
            dt = dt.subList(0, maxDet);
        }
        int numG = gt.size(), numD = dt.size(), numT = IOU_THRESHOLDS.length;
        boolean[] gtIg = new boolean[numG];
        boolean[] crowd = new boolean[numG];
        for (int g = 0; g < numG; g++) {
            gtIg[g] = ignored(gt.get(g), areaRange);
            crowd[g] = gt.get(g).crowd();
        }
        double[][] ious = new double[numD][numG];
        for (int d = 0; d < numD; d++) {
            for (int g = 0; g < numG; g++) {
                ious[d][g] = iou(dt.get(d), gt.get(g));
            }
        }
        boolean[][] gtm = new boolean[numT][numG];
        boolean[][] dtm = new boolean[numT][numD];
        boolean[][] dtIg = new boolean[numT][numD];
        for (int t = 0; t < numT; t++) {
            for (int d = 0; d < numD; d++) {
                double best = Math.min(IOU_THRESHOLDS[t], 1 - 1e-10);
                int m = -1;
                for (int g = 0; g < numG; g++) {
                    if (gtm[t][g] && !crowd[g]) {
                        continue; // taken, and not a crowd
                    }
                    if (m > -1 && !gtIg[m] && gtIg[g]) {
                        break; // matched a real box already; the rest are ignored ones
                    }
                    if (ious[d][g] < best) {
                        continue;
                    }
                    best = ious[d][g];
                    m = g;
                }
                if (m == -1) {
                    continue;
                }
                dtIg[t][d] = gtIg[m];
                dtm[t][d] = true;
                gtm[t][m] = true;
            }
        }
        double[] scores = new double[numD];
        for (int d = 0; d < numD; d++) {
            Detection x = dt.get(d);
            double area = (x.x2() - x.x1()) * (x.y2() - x.y1());
            boolean outside = area < areaRange[0] || area > areaRange[1];
            for (int t = 0; t < numT; t++) {
                dtIg[t][d] |= !dtm[t][d] && outside;
            }
            scores[d] = x.score();
        }
        return new ImageEval(scores, dtm, dtIg, gtIg);
    }

    private static boolean ignored(GroundTruthBox b, double[] areaRange) {
        return b.crowd() || b.difficult() || b.area() < areaRange[0] || b.area() > areaRange[1];
    }

    /** pycocotools' box IoU: continuous coordinates; for a crowd box the union is the detection's area. */
    private static double iou(Detection d, GroundTruthBox g) {
        double dw = d.x2() - d.x1(), dh = d.y2() - d.y1();
        double gw = g.x2() - g.x1(), gh = g.y2() - g.y1();
        double w = Math.min(d.x1() + dw, g.x1() + gw) - Math.max(d.x1(), g.x1());
        double h = Math.min(d.y1() + dh, g.y1() + gh) - Math.max(d.y1(), g.y1());
        if (w <= 0 || h <= 0) {
            return 0;
        }
        double inter = w * h;
        double union = g.crowd() ? dw * dh : dw * dh + gw * gh - inter;
        return inter / union;
    }

    private static void accumulate(List<ImageEval> evals, int maxDet, double[][][][][] precision,
                                   double[][][][] recall, int k, int a, int m) {
        if (evals.isEmpty()) {
            return;
        }
        int total = 0;
        int npig = 0;
        for (ImageEval e : evals) {
            total += Math.min(maxDet, e.dtScores().length);
            for (boolean ig : e.gtIgnored()) {
                npig += ig ? 0 : 1;
            }
        }
        if (npig == 0) {
            return;
        }
        double[] scores = new double[total];
        int[] owner = new int[total];
        int[] index = new int[total];
        int o = 0;
        for (int i = 0; i < evals.size(); i++) {
            int n = Math.min(maxDet, evals.get(i).dtScores().length);
            for (int d = 0; d < n; d++) {
                scores[o] = evals.get(i).dtScores()[d];
                owner[o] = i;
                index[o++] = d;
            }
        }
        Integer[] order = new Integer[total];
        for (int i = 0; i < total; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (x, y) -> Double.compare(scores[y], scores[x])); // stable, as mergesort
        for (int t = 0; t < IOU_THRESHOLDS.length; t++) {
            double[] rc = new double[total];
            double[] pr = new double[total];
            double tp = 0;
            double fp = 0;
            int nd = 0;
            for (int s = 0; s < total; s++) {
                ImageEval e = evals.get(owner[order[s]]);
                int d = index[order[s]];
                boolean ig = e.dtIgnored()[t][d];
                boolean matched = e.dtMatched()[t][d];
                if (!ig) {
                    tp += matched ? 1 : 0;
                    fp += matched ? 0 : 1;
                }
                rc[nd] = tp / npig;
                pr[nd] = tp / (fp + tp + EPS);
                nd++;
            }
            recall[t][k][a][m] = nd > 0 ? rc[nd - 1] : 0;
            for (int i = nd - 1; i > 0; i--) {
                if (pr[i] > pr[i - 1]) {
                    pr[i - 1] = pr[i];
                }
            }
            int pi = 0;
            for (int r = 0; r < RECALL_THRESHOLDS.length; r++) {
                while (pi < nd && rc[pi] < RECALL_THRESHOLDS[r]) {
                    pi++; // searchsorted(rc, r, side='left')
                }
                precision[t][r][k][a][m] = pi < nd ? pr[pi] : 0;
            }
        }
    }

    private static double summarizePrecision(double[][][][][] precision, int t, int a, int m) {
        double sum = 0;
        int n = 0;
        for (int ti = 0; ti < precision.length; ti++) {
            if (t >= 0 && ti != t) {
                continue;
            }
            for (double[][][] byK : precision[ti]) {
                for (double[][] byA : byK) {
                    double v = byA[a][m];
                    if (v > -1) {
                        sum += v;
                        n++;
                    }
                }
            }
        }
        return n == 0 ? -1 : sum / n;
    }

    private static double summarizeRecall(double[][][][] recall, int a, int m) {
        double sum = 0;
        int n = 0;
        for (double[][][] byK : recall) {
            for (double[][] byA : byK) {
                double v = byA[a][m];
                if (v > -1) {
                    sum += v;
                    n++;
                }
            }
        }
        return n == 0 ? -1 : sum / n;
    }
}
