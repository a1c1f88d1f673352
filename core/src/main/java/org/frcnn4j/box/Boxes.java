package org.frcnn4j.box;

import java.util.Arrays;

/**
 * Small operations on flat box arrays (n x 4 floats: x1, y1, x2, y2 per box). Plain Java on purpose: the
 * bookkeeping around the network is cheaper here than as many small native calls (DESIGN.md).
 */
public final class Boxes {
    private Boxes() {}

    /** Number of boxes in a flat array. */
    public static int count(float[] boxes) {
        if (boxes.length % 4 != 0) {
            throw new IllegalArgumentException("box array length " + boxes.length + " is not a multiple of 4");
        }
        return boxes.length / 4;
    }

    /** Areas, with the +1 pixel convention when {@code plusOne} (see {@link Iou}). */
    public static float[] areas(float[] boxes, boolean plusOne) {
        int n = count(boxes);
        float one = plusOne ? 1f : 0f;
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            out[i] = (boxes[4 * i + 2] - boxes[4 * i] + one) * (boxes[4 * i + 3] - boxes[4 * i + 1] + one);
        }
        return out;
    }

    /**
     * Clips boxes in place to an image of the given size. With {@code plusOne} the last pixel is width - 1
     * (py-faster-rcnn's {@code clip_boxes}); without it the right edge is width (torchvision's {@code clip_boxes_to_image}).
     */
    public static void clipInPlace(float[] boxes, int imageHeight, int imageWidth, boolean plusOne) {
        float maxX = plusOne ? imageWidth - 1 : imageWidth;
        float maxY = plusOne ? imageHeight - 1 : imageHeight;
        for (int i = 0; i < boxes.length; i += 4) {
            boxes[i] = clamp(boxes[i], maxX);
            boxes[i + 1] = clamp(boxes[i + 1], maxY);
            boxes[i + 2] = clamp(boxes[i + 2], maxX);
            boxes[i + 3] = clamp(boxes[i + 3], maxY);
        }
    }

    private static float clamp(float v, float max) {
        return Math.max(0f, Math.min(v, max));
    }

    /**
     * Indices of the boxes whose width and height are both at least {@code minSize}. The paper drops proposals
     * smaller than 16 px at the input scale; with {@code plusOne} the width is x2 - x1 + 1, as py-faster-rcnn's
     * {@code _filter_boxes}.
     */
    public static int[] keepAtLeast(float[] boxes, float minSize, boolean plusOne) {
        int n = count(boxes);
        float one = plusOne ? 1f : 0f;
        int[] keep = new int[n];
        int k = 0;
        for (int i = 0; i < n; i++) {
            float w = boxes[4 * i + 2] - boxes[4 * i] + one;
            float h = boxes[4 * i + 3] - boxes[4 * i + 1] + one;
            if (w >= minSize && h >= minSize) {
                keep[k++] = i;
            }
        }
        return Arrays.copyOf(keep, k);
    }

    /** The rows {@code indices} of a flat box array, in that order. */
    public static float[] select(float[] boxes, int[] indices) {
        float[] out = new float[indices.length * 4];
        for (int i = 0; i < indices.length; i++) {
            System.arraycopy(boxes, 4 * indices[i], out, 4 * i, 4);
        }
        return out;
    }

    /** The entries {@code indices} of a per-box value array, in that order. */
    public static float[] select1(float[] values, int[] indices) {
        float[] out = new float[indices.length];
        for (int i = 0; i < indices.length; i++) {
            out[i] = values[indices[i]];
        }
        return out;
    }

    /** The entries {@code indices} of a per-box int array (labels, indices), in that order. */
    public static int[] select1(int[] values, int[] indices) {
        int[] out = new int[indices.length];
        for (int i = 0; i < indices.length; i++) {
            out[i] = values[indices[i]];
        }
        return out;
    }
}
