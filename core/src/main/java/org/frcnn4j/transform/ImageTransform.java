package org.frcnn4j.transform;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.awt.image.BufferedImage;
import org.frcnn4j.data.Images;
import org.frcnn4j.nn.NativeArrays;
import org.frcnn4j.transform.TransformConfig.Normalization;

/**
 * Image to network input: normalise the pixels, rescale so that the shorter side is {@code minSize} unless the
 * longer one would exceed {@code maxSize} (paper, section 3.3: 600 / 1000), and pad to a multiple of
 * {@code sizeDivisible}. Resizing is bilinear with half-pixel centres and no antialiasing ({@link BilinearResize}:
 * torchvision's {@code interpolate(mode="bilinear", align_corners=False)} to the last bit, which is also OpenCV's
 * INTER_LINEAR).
 */
public final class ImageTransform {
    private final TransformConfig config;
    /** For planes 0-2, the normalised value of each byte ({@link #normalisationTable}). */
    private final float[][] normalisation;

    public ImageTransform(TransformConfig config) {
        this.config = config;
        this.normalisation = normalisationTable(config);
    }

    /**
     * A transformed image.
     *
     * @param tensor        (1, 3, paddedHeight, paddedWidth)
     * @param height        resized height before padding: boxes are clipped to this
     * @param width         resized width before padding
     * @param originalHeight the input's height
     * @param originalWidth  the input's width
     */
    public record Transformed(NDArray tensor, int height, int width, int originalHeight, int originalWidth) {
        /** Factor that maps x from the resized image back to the original (float32, as torchvision's resize_boxes). */
        public float ratioX() {
            return (float) originalWidth / (float) width;
        }

        public float ratioY() {
            return (float) originalHeight / (float) height;
        }

        /**
         * Boxes from original pixels to input pixels (ground truth in training): x times resized width / original
         * width, as float32 (torchvision's resize_boxes).
         */
        public float[] toInput(float[] boxes) {
            return scale(boxes, (float) width / (float) originalWidth, (float) height / (float) originalHeight);
        }

        /** Boxes from input pixels back to original pixels (torchvision's resize_boxes: float32 ratios). */
        public float[] toOriginal(float[] boxes) {
            return scale(boxes, ratioX(), ratioY());
        }

        private static float[] scale(float[] boxes, float rx, float ry) {
            float[] out = new float[boxes.length];
            for (int i = 0; i < boxes.length; i += 4) {
                out[i] = boxes[i] * rx;
                out[i + 1] = boxes[i + 1] * ry;
                out[i + 2] = boxes[i + 2] * rx;
                out[i + 3] = boxes[i + 3] * ry;
            }
            return out;
        }

        /** The input's scale factor (resized / original), e.g. for the paper's min proposal size. */
        public float scale() {
            return (float) height / originalHeight;
        }
    }

    /** The resized (height, width) of an image of the given size. */
    public int[] resizedSize(int height, int width) {
        int shorter = Math.min(height, width);
        int longer = Math.max(height, width);
        if (config.roundSize()) {
            // py-faster-rcnn's prep_im_for_blob: scale in double, cv2.resize rounds the size
            double scale = (double) config.minSize() / shorter;
            if (Math.round(scale * longer) > config.maxSize()) {
                scale = (double) config.maxSize() / longer;
            }
            return new int[] {atLeastOne(Math.round(height * scale)), atLeastOne(Math.round(width * scale))};
        }
        // torchvision 0.14's _resize_image_and_masks: scale = min(min_size / shorter, max_size / longer) as float32
        // tensors, where torch evaluates `python_float / tensor` as tensor.reciprocal() * python_float; then the
        // size is floor(side * scale) in double
        float scale = Math.min((1f / shorter) * config.minSize(), (1f / longer) * config.maxSize());
        return new int[] {atLeastOne((long) Math.floor(height * (double) scale)),
            atLeastOne((long) Math.floor(width * (double) scale))};
    }

    /** A side the rules round to nothing (a 4000 x 1 strip) keeps one pixel; torchvision's resize would fail there. */
    private static int atLeastOne(long side) {
        return (int) Math.max(1, side);
    }

    /**
     * The least padded input side: the deepest backbones here halve their maps five times (stride 32, a 1 x 1 map
     * at 32 px), and a map smaller than a layer's kernel is an engine error. Only strips and specks are this small
     * after resizing; they are padded with the mean colour, and their detections clipped to the image as always.
     */
    static final int MIN_INPUT_SIDE = 32;

    /**
     * The network input of an image: an ordinary array (copied from Java memory), which autograd may save, so the
     * same input serves inference and training, on any thread.
     */
    public Transformed apply(BufferedImage image, NDManager manager) {
        org.frcnn4j.io.BadInputException.requireGiven(image, "the detector", "the image");
        BufferedImage rgb = Images.toRgb(image);
        int h = rgb.getHeight();
        int w = rgb.getWidth();
        float[] pixels = normalisedPixels(rgb);
        int[] size = resizedSize(h, w);
        int d = Math.max(1, config.sizeDivisible());
        int ph = Math.max(MIN_INPUT_SIDE, (size[0] + d - 1) / d * d);
        int pw = Math.max(MIN_INPUT_SIDE, (size[1] + d - 1) / d * d);
        boolean resized = size[0] != h || size[1] != w;
        if (!resized && ph == h && pw == w) {
            return new Transformed(NativeArrays.of(manager, pixels, pixels.length, new Shape(1, 3, h, w)), h, w, h, w);
        }
        // resized (or copied) onto the padded canvas in one pass; the canvas is this thread's, reused from image to
        // image (NativeArrays copies it into native memory), so a large input costs no fresh Java array and pages
        int length = 3 * ph * pw;
        float[] canvas = canvas(length);
        if (resized) {
            BilinearResize.resize(pixels, 3, h, w, canvas, size[0], size[1], ph, pw);
        } else {
            for (int c = 0; c < 3; c++) {
                for (int y = 0; y < h; y++) {
                    System.arraycopy(pixels, (c * h + y) * w, canvas, (c * ph + y) * pw, w);
                }
            }
        }
        clearPadding(canvas, size[0], size[1], ph, pw);
        return new Transformed(NativeArrays.of(manager, canvas, length, new Shape(1, 3, ph, pw)), size[0], size[1], h, w);
    }

    private static final ThreadLocal<float[]> CANVAS = new ThreadLocal<>();

    /** Canvases kept per thread up to this many floats (64 MB: 3 x 2000 x 2666); a larger input gets its own. */
    private static final int KEPT_CANVAS = 1 << 24;

    private static float[] canvas(int length) {
        float[] c = CANVAS.get();
        if (c == null || c.length < length) {
            c = new float[length];
            if (length <= KEPT_CANVAS) {
                CANVAS.set(c);
            }
        }
        return c;
    }

    /** Zero (the mean colour after normalisation) right of and below the image on each of the three planes. */
    private static void clearPadding(float[] canvas, int height, int width, int ph, int pw) {
        for (int c = 0; c < 3; c++) {
            int plane = c * ph * pw;
            if (width < pw) {
                for (int y = 0; y < height; y++) {
                    java.util.Arrays.fill(canvas, plane + y * pw + width, plane + (y + 1) * pw, 0f);
                }
            }
            java.util.Arrays.fill(canvas, plane + height * pw, plane + ph * pw, 0f);
        }
    }

    /**
     * Network inputs (each (1, 3, h, w)) as one batch: each at the top left of a zero canvas (zero is the mean
     * colour after normalisation) as large as the largest, rounded up to a multiple of {@code sizeDivisible} when it
     * is positive (torchvision's batch_images; py-faster-rcnn's im_list_to_blob pads to the largest alone). A single
     * input that needs no padding is returned as it is.
     */
    public static NDArray batch(java.util.List<NDArray> inputs, int sizeDivisible) {
        return batch(inputs, canvasSize(inputs, sizeDivisible));
    }

    /** The (height, width) of {@link #batch}'s canvas for these inputs. */
    public static long[] canvasSize(java.util.List<NDArray> inputs, int sizeDivisible) {
        long height = 0;
        long width = 0;
        for (NDArray t : inputs) {
            height = Math.max(height, t.getShape().get(2));
            width = Math.max(width, t.getShape().get(3));
        }
        if (sizeDivisible > 0) {
            height = (height + sizeDivisible - 1) / sizeDivisible * sizeDivisible;
            width = (width + sizeDivisible - 1) / sizeDivisible * sizeDivisible;
        }
        return new long[] {height, width};
    }

    /** The inputs on a zero canvas of the given (height, width), as large as {@link #canvasSize} or larger. */
    public static NDArray batch(java.util.List<NDArray> inputs, long[] canvasSize) {
        long height = canvasSize[0];
        long width = canvasSize[1];
        NDArray first = inputs.get(0);
        if (inputs.size() == 1 && first.getShape().get(2) == height && first.getShape().get(3) == width) {
            return first;
        }
        NDArray canvas = first.getManager().zeros(new Shape(inputs.size(), 3, height, width), first.getDataType());
        for (int i = 0; i < inputs.size(); i++) {
            NDArray t = inputs.get(i);
            canvas.set(new ai.djl.ndarray.index.NDIndex("{}, :, :{}, :{}", i, t.getShape().get(2), t.getShape().get(3)),
                    t.get(0));
        }
        return canvas;
    }

    /** Channel-planar floats in the configured order and range. */
    float[] normalisedPixels(BufferedImage rgb) {
        int h = rgb.getHeight();
        int w = rgb.getWidth();
        // an RGB image's packed ints as they lie (getRGB would convert each pixel through the colour model: most of
        // this stage's 11 ms for 1000x600 on the family-26 EPYC); other types through getRGB
        int[] argb = rgb.getType() == BufferedImage.TYPE_INT_RGB
                ? (int[]) rgb.getRaster().getDataElements(0, 0, w, h, null) : rgb.getRGB(0, 0, w, h, null, 0, w);
        int plane = h * w;
        float[] out = new float[3 * plane];
        boolean bgr = config.normalization() == Normalization.BGR_MEAN;
        float[] t0 = normalisation[0];
        float[] t1 = normalisation[1];
        float[] t2 = normalisation[2];
        int shift0 = bgr ? 0 : 16;
        int shift2 = bgr ? 16 : 0;
        for (int i = 0; i < plane; i++) {
            int p = argb[i];
            out[i] = t0[(p >> shift0) & 0xff];
            out[plane + i] = t1[(p >> 8) & 0xff];
            out[2 * plane + i] = t2[(p >> shift2) & 0xff];
        }
        return out;
    }

    /**
     * For planes 0-2 (the input's channel order), the normalised value of each byte 0-255 by the per-pixel formula
     * ((v / range - mean) / std in float32, as torchvision's to_tensor and normalize compute it), computed once and
     * then looked up (8 -> 5 ms for a 1000x600 image).
     */
    private static float[][] normalisationTable(TransformConfig config) {
        boolean bgr = config.normalization() == Normalization.BGR_MEAN;
        float[] mean = config.mean();
        float[] std = config.std();
        float range = bgr ? 1f : 255f;
        float[][] table = new float[3][256];
        for (int k = 0; k < 3; k++) {
            for (int v = 0; v < 256; v++) {
                table[k][v] = (v / range - mean[k]) / std[k];
            }
        }
        return table;
    }
}
