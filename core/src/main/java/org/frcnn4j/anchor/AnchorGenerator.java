package org.frcnn4j.anchor;

import java.util.Arrays;

/**
 * The k reference boxes ("anchors") at every sliding-window position of the RPN (paper, section 3.1.1), and their
 * copies shifted over a feature map.
 *
 * <p>Two styles are offered because the paper's code and torchvision place anchors differently:
 * <ul>
 *   <li>{@link Style#PAPER}: py-faster-rcnn's {@code generate_anchors}: a base box [0, 0, base-1, base-1], one box of
 *       (roughly) the base area per ratio with widths and heights rounded, then each scaled; corners use the +1
 *       pixel convention. Base 16, ratios {0.5, 1, 2} and scales {8, 16, 32} give the paper's 9 anchors
 *       [-84, -40, 99, 55] ... [-168, -344, 183, 359] (areas 128^2, 256^2, 512^2).</li>
 *   <li>{@link Style#TORCHVISION}: torchvision's {@code AnchorGenerator}: boxes of the given sizes centred on 0,
 *       width = size / sqrt(ratio), height = size * sqrt(ratio), corners rounded, computed in float32.</li>
 * </ul>
 * Both order the k anchors ratio-major, scale-minor, and a shifted set position-major (row y, then column x), then
 * anchor: anchor {@code a} at feature cell (y, x) is row {@code (y * width + x) * k + a}. That is the order the RPN head's
 * outputs take after the permute (N, k*c, H, W) -&gt; (N, H, W, k, c).
 */
public final class AnchorGenerator {
    /** How the base anchors are computed. */
    public enum Style { PAPER, TORCHVISION }

    private final Style style;
    private final float[] baseAnchors;

    private AnchorGenerator(Style style, float[] baseAnchors) {
        this.style = style;
        this.baseAnchors = baseAnchors;
    }

    /**
     * py-faster-rcnn's anchors: {@code baseSize} (the feature stride, 16), aspect ratios h/w, and scales as multiples
     * of the base size (the paper's {8, 16, 32} give areas 128^2, 256^2, 512^2).
     */
    public static AnchorGenerator paper(int baseSize, double[] ratios, double[] scales) {
        check(ratios, scales);
        double[] base = {0, 0, baseSize - 1, baseSize - 1};
        float[] out = new float[ratios.length * scales.length * 4];
        int k = 0;
        double w = base[2] - base[0] + 1;
        double h = base[3] - base[1] + 1;
        double cx = base[0] + 0.5 * (w - 1);
        double cy = base[1] + 0.5 * (h - 1);
        double area = w * h;
        for (double ratio : ratios) {
            // numpy's round is round-half-to-even, as Math.rint.
            double rw = Math.rint(Math.sqrt(area / ratio));
            double rh = Math.rint(rw * ratio);
            for (double scale : scales) {
                double sw = rw * scale;
                double sh = rh * scale;
                out[k++] = (float) (cx - 0.5 * (sw - 1));
                out[k++] = (float) (cy - 0.5 * (sh - 1));
                out[k++] = (float) (cx + 0.5 * (sw - 1));
                out[k++] = (float) (cy + 0.5 * (sh - 1));
            }
        }
        return new AnchorGenerator(Style.PAPER, out);
    }

    /** The paper's default: base 16, ratios {0.5, 1, 2}, scales {8, 16, 32}. */
    public static AnchorGenerator paperDefault() {
        return paper(16, new double[] {0.5, 1, 2}, new double[] {8, 16, 32});
    }

    /**
     * torchvision's anchors for one feature level: {@code sizes} in pixels (e.g. 128, 256, 512) and aspect ratios h/w.
     */
    public static AnchorGenerator torchvision(double[] sizes, double[] ratios) {
        check(ratios, sizes);
        float[] out = new float[ratios.length * sizes.length * 4];
        int k = 0;
        for (double ratio : ratios) {
            float hRatio = (float) Math.sqrt((float) ratio);
            float wRatio = 1f / hRatio;
            for (double size : sizes) {
                float ws = wRatio * (float) size;
                float hs = hRatio * (float) size;
                out[k++] = (float) Math.rint(-ws / 2f);
                out[k++] = (float) Math.rint(-hs / 2f);
                out[k++] = (float) Math.rint(ws / 2f);
                out[k++] = (float) Math.rint(hs / 2f);
            }
        }
        return new AnchorGenerator(Style.TORCHVISION, out);
    }

    private static void check(double[] ratios, double[] scales) {
        if (ratios.length == 0 || scales.length == 0) {
            throw new IllegalArgumentException("anchors need at least one ratio and one scale");
        }
        for (double v : ratios) {
            if (!(v > 0)) {
                throw new IllegalArgumentException("anchor ratio must be positive: " + v);
            }
        }
        for (double v : scales) {
            if (!(v > 0)) {
                throw new IllegalArgumentException("anchor scale must be positive: " + v);
            }
        }
    }

    public Style style() {
        return style;
    }

    /** k, the number of anchors per position. */
    public int anchorsPerPosition() {
        return baseAnchors.length / 4;
    }

    /** The k anchors centred on the first position (k x 4, flat; a copy). */
    public float[] baseAnchors() {
        return baseAnchors.clone();
    }

    /**
     * All anchors over a feature map of {@code height x width} cells with the given stride in input pixels
     * ((height * width * k) x 4, flat, in the order described in the class comment).
     */
    public float[] grid(int height, int width, int stride) {
        return grid(height, width, stride, stride);
    }

    /** As {@link #grid(int, int, int)} with separate strides along y and x (torchvision derives them per axis). */
    public float[] grid(int height, int width, int strideY, int strideX) {
        int k = anchorsPerPosition();
        float[] out = new float[height * width * k * 4];
        int o = 0;
        for (int y = 0; y < height; y++) {
            float sy = y * strideY;
            for (int x = 0; x < width; x++) {
                float sx = x * strideX;
                for (int a = 0; a < k; a++) {
                    out[o++] = baseAnchors[4 * a] + sx;
                    out[o++] = baseAnchors[4 * a + 1] + sy;
                    out[o++] = baseAnchors[4 * a + 2] + sx;
                    out[o++] = baseAnchors[4 * a + 3] + sy;
                }
            }
        }
        return out;
    }

    /**
     * Indices of the anchors that lie wholly inside an image of the given size, allowing {@code border} pixels
     * outside (py-faster-rcnn's {@code _allowed_border}, 0). Training ignores the others (paper, section 3.3).
     */
    public static int[] insideImage(float[] anchors, int imageHeight, int imageWidth, float border) {
        int n = anchors.length / 4;
        int[] keep = new int[n];
        int k = 0;
        for (int i = 0; i < n; i++) {
            if (anchors[4 * i] >= -border && anchors[4 * i + 1] >= -border
                    && anchors[4 * i + 2] < imageWidth + border && anchors[4 * i + 3] < imageHeight + border) {
                keep[k++] = i;
            }
        }
        return Arrays.copyOf(keep, k);
    }
}
