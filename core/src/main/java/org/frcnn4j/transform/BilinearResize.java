package org.frcnn4j.transform;

/**
 * Bilinear resizing of channel-planar floats as PyTorch's {@code interpolate(mode="bilinear", align_corners=False)}
 * computes it without antialiasing, which is what torchvision's detection transform calls (and, up to rounding,
 * OpenCV's {@code INTER_LINEAR} in py-faster-rcnn): output pixel d samples the input at (d + 0.5) * in / out - 0.5,
 * clamped at 0, from its two neighbours per axis. Done in Java because DJL's {@code interpolate} antialiases when it
 * shrinks: a 259 x 194 raccoon shrunk to 170 x 127 then differed from torchvision's input by up to 1.3 (normalised
 * units) and gave other proposals from the same weights.
 */
public final class BilinearResize {
    private BilinearResize() {}

    /**
     * @param src      {@code channels} planes of {@code height x width}
     * @return {@code channels} planes of {@code outHeight x outWidth}
     */
    public static float[] resize(float[] src, int channels, int height, int width, int outHeight, int outWidth) {
        int[] y0 = new int[outHeight];
        int[] y1 = new int[outHeight];
        float[] wy = new float[outHeight];
        axis(height, outHeight, y0, y1, wy);
        int[] x0 = new int[outWidth];
        int[] x1 = new int[outWidth];
        float[] wx = new float[outWidth];
        axis(width, outWidth, x0, x1, wx);
        float[] out = new float[channels * outHeight * outWidth];
        for (int c = 0; c < channels; c++) {
            int in = c * height * width;
            int o = c * outHeight * outWidth;
            for (int y = 0; y < outHeight; y++) {
                int r0 = in + y0[y] * width;
                int r1 = in + y1[y] * width;
                float h1 = wy[y];
                float h0 = 1f - h1;
                for (int x = 0; x < outWidth; x++) {
                    float w1 = wx[x];
                    float w0 = 1f - w1;
                    // PyTorch's order: interpolate along the width within each row, then between the rows
                    float top = src[r0 + x0[x]] * w0 + src[r0 + x1[x]] * w1;
                    float bottom = src[r1 + x0[x]] * w0 + src[r1 + x1[x]] * w1;
                    out[o++] = top * h0 + bottom * h1;
                }
            }
        }
        return out;
    }

    /** Per output index: the two input indices and the second one's weight, in float32 as PyTorch's CPU kernel. */
    private static void axis(int in, int out, int[] first, int[] second, float[] weight) {
        float scale = (float) in / out;
        for (int d = 0; d < out; d++) {
            float source = Math.max(0f, scale * (d + 0.5f) - 0.5f);
            int i = (int) source;
            first[d] = i;
            second[d] = i < in - 1 ? i + 1 : i;
            weight[d] = Math.min(Math.max(source - i, 0f), 1f);
        }
    }
}
