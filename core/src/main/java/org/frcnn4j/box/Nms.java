package org.frcnn4j.box;

import java.util.Arrays;

/**
 * Greedy non-maximum suppression on flat box arrays: visit boxes by descending score and drop every later box whose
 * IoU with a kept one exceeds the threshold (suppression on IoU &gt; threshold, as torchvision's {@code nms} and
 * py-faster-rcnn's {@code py_cpu_nms}). Equal scores keep their input order, as torchvision's {@code nms} (a stable
 * sort) keeps them.
 */
public final class Nms {
    private Nms() {}

    /** Indices of the kept boxes, by descending score. */
    public static int[] apply(float[] boxes, float[] scores, float iouThreshold, boolean plusOne) {
        return apply(boxes, scores, iouThreshold, plusOne, Integer.MAX_VALUE);
    }

    /** As {@link #apply(float[], float[], float, boolean)}, stopping once {@code maxKeep} boxes are kept. */
    public static int[] apply(float[] boxes, float[] scores, float iouThreshold, boolean plusOne, int maxKeep) {
        int n = Boxes.count(boxes);
        if (scores.length != n) {
            throw new IllegalArgumentException("nms: " + scores.length + " scores for " + n + " boxes");
        }
        int[] order = argsortDescending(scores);
        float[] areas = Boxes.areas(boxes, plusOne);
        float one = plusOne ? 1f : 0f;
        float threshold = Math.max(0f, iouThreshold); // below 0 every overlapping pair suppresses, as at 0
        // the boxes copied in score order, one array per coordinate: the inner loop then reads memory in sequence
        // (the RPN's 2,000-12,000 proposals per image made the gathers through the order the slow part of training's
        // Java time); the arithmetic is the same, so is every decision
        float[] x1s = new float[n], y1s = new float[n], x2s = new float[n], y2s = new float[n], as = new float[n];
        for (int o = 0; o < n; o++) {
            int i = order[o];
            x1s[o] = boxes[4 * i];
            y1s[o] = boxes[4 * i + 1];
            x2s[o] = boxes[4 * i + 2];
            y2s[o] = boxes[4 * i + 3];
            as[o] = areas[i];
        }
        boolean[] suppressed = new boolean[n]; // by position in the order
        int[] keep = new int[Math.min(n, Math.max(0, maxKeep))];
        int k = 0;
        for (int oi = 0; oi < n && k < keep.length; oi++) {
            if (suppressed[oi]) {
                continue;
            }
            keep[k++] = order[oi];
            float x1 = x1s[oi], y1 = y1s[oi], x2 = x2s[oi], y2 = y2s[oi], area = as[oi];
            // without branches, so that the JIT can vectorise it: a pair that does not overlap gets intersection 0
            // and IoU 0 (or 0/0 for two empty boxes), which no threshold >= 0 exceeds, as when it was skipped
            for (int oj = oi + 1; oj < n; oj++) {
                float iw = Math.max(0f, Math.min(x2, x2s[oj]) - Math.max(x1, x1s[oj]) + one);
                float ih = Math.max(0f, Math.min(y2, y2s[oj]) - Math.max(y1, y1s[oj]) + one);
                float inter = iw * ih;
                suppressed[oj] |= inter / (area + as[oj] - inter) > threshold;
            }
        }
        return Arrays.copyOf(keep, k);
    }

    /**
     * NMS run independently within each class ({@code classes[i]} is box i's class): boxes of different classes
     * never suppress each other. Indices of the kept boxes, by descending score across all classes, exactly as
     * torchvision's {@code batched_nms} on the CPU orders them, equal scores included: above 1000 boxes it runs NMS
     * class by class and sorts the kept ones with torch's unstable sort ({@link TorchSort}); up to 1000 it shifts each
     * class's boxes by class x (largest coordinate + 1), in float32 as it does, and runs one NMS over all.
     */
    public static int[] batched(float[] boxes, float[] scores, int[] classes, float iouThreshold, boolean plusOne) {
        int n = Boxes.count(boxes);
        if (classes.length != n || scores.length != n) {
            throw new IllegalArgumentException("batched nms: sizes differ");
        }
        if (n == 0) {
            return new int[0];
        }
        if (4L * n <= 4000) {
            float max = Float.NEGATIVE_INFINITY;
            for (float v : boxes) {
                max = Math.max(max, v);
            }
            float[] shifted = boxes.clone();
            for (int i = 0; i < n; i++) {
                float offset = (float) classes[i] * (max + 1f);
                for (int j = 0; j < 4; j++) {
                    shifted[4 * i + j] += offset;
                }
            }
            return apply(shifted, scores, iouThreshold, plusOne);
        }
        int maxClass = -1;
        for (int c : classes) {
            maxClass = Math.max(maxClass, c);
        }
        boolean[] kept = new boolean[n];
        int total = 0;
        for (int c = 0; c <= maxClass; c++) {
            int[] members = indicesOf(classes, c);
            if (members.length == 0) {
                continue;
            }
            for (int k : apply(Boxes.select(boxes, members), Boxes.select1(scores, members), iouThreshold, plusOne)) {
                kept[members[k]] = true;
                total++;
            }
        }
        int[] result = new int[total];
        int at = 0;
        for (int i = 0; i < n; i++) {
            if (kept[i]) {
                result[at++] = i;
            }
        }
        int[] order = TorchSort.sortDescending(Boxes.select1(scores, result));
        int[] out = new int[total];
        for (int i = 0; i < total; i++) {
            out[i] = result[order[i]];
        }
        return out;
    }

    private static int[] indicesOf(int[] classes, int c) {
        int count = 0;
        for (int v : classes) {
            if (v == c) {
                count++;
            }
        }
        int[] out = new int[count];
        int k = 0;
        for (int i = 0; i < classes.length; i++) {
            if (classes[i] == c) {
                out[k++] = i;
            }
        }
        return out;
    }

    /**
     * Indices that sort {@code values} in descending order; equal values keep their order (stable). Sorts packed
     * (value, index) longs, which is several times faster than boxed comparators on the RPN's 20,000 scores.
     */
    public static int[] argsortDescending(float[] values) {
        long[] keys = new long[values.length];
        for (int i = 0; i < values.length; i++) {
            int bits = Float.floatToIntBits(values[i]);
            int ordered = bits ^ ((bits >> 31) & 0x7fffffff); // ascending int order = ascending float order
            keys[i] = ((long) ~ordered << 32) | i;            // ~: descending; the index breaks ties
        }
        java.util.Arrays.sort(keys);
        int[] out = new int[values.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = (int) keys[i];
        }
        return out;
    }
}
