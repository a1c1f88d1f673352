package org.frcnn4j.box;

/**
 * Intersection over union of axis-aligned boxes given as corners (x1, y1, x2, y2).
 *
 * <p>Two conventions exist. With {@code plusOne} a box covers the pixels x1..x2 inclusive, so its width is
 * x2 - x1 + 1: the convention of the VOC devkit and py-faster-rcnn. Without it the coordinates are continuous
 * and the width is x2 - x1, as in torchvision and pycocotools.
 */
public final class Iou {
    private Iou() {}

    /** IoU of two boxes in double precision (used by the evaluators, where thresholds are compared exactly). */
    public static double of(double ax1, double ay1, double ax2, double ay2,
                            double bx1, double by1, double bx2, double by2, boolean plusOne) {
        double one = plusOne ? 1.0 : 0.0;
        double iw = Math.min(ax2, bx2) - Math.max(ax1, bx1) + one;
        double ih = Math.min(ay2, by2) - Math.max(ay1, by1) + one;
        if (iw <= 0 || ih <= 0) {
            return 0.0;
        }
        double inter = iw * ih;
        double union = (ax2 - ax1 + one) * (ay2 - ay1 + one) + (bx2 - bx1 + one) * (by2 - by1 + one) - inter;
        return inter / union;
    }

    /**
     * The n x m IoU matrix of boxes {@code a} (n x 4, flat) against boxes {@code b} (m x 4, flat), row-major:
     * entry [i * m + j] is IoU(a_i, b_j).
     */
    public static float[] matrix(float[] a, float[] b, boolean plusOne) {
        int n = a.length / 4;
        int m = b.length / 4;
        float one = plusOne ? 1f : 0f;
        float[] areaB = Boxes.areas(b, plusOne);
        float[] out = new float[n * m];
        for (int i = 0; i < n; i++) {
            float ax1 = a[4 * i], ay1 = a[4 * i + 1], ax2 = a[4 * i + 2], ay2 = a[4 * i + 3];
            float areaA = (ax2 - ax1 + one) * (ay2 - ay1 + one);
            int row = i * m;
            for (int j = 0; j < m; j++) {
                float iw = Math.min(ax2, b[4 * j + 2]) - Math.max(ax1, b[4 * j]) + one;
                if (iw <= 0) {
                    continue;
                }
                float ih = Math.min(ay2, b[4 * j + 3]) - Math.max(ay1, b[4 * j + 1]) + one;
                if (ih <= 0) {
                    continue;
                }
                float inter = iw * ih;
                out[row + j] = inter / (areaA + areaB[j] - inter);
            }
        }
        return out;
    }
}
