package org.frcnn4j.transform;

/**
 * Bilinear resizing with half-pixel centres and no antialiasing, as torchvision 0.14's detection transform resizes
 * images ({@code interpolate(mode="bilinear", align_corners=False)} with the scale recomputed from the sizes, which is
 * also OpenCV's INTER_LINEAR), to the last bit of torch 1.13's CPU kernel for arrays of several channels: each output
 * value blends two input rows, each row blended along its width first, and every blend is {@code fma(a, w0, b * w1)}
 * (the kernel's {@code t0 * w0 + t1 * w1}, contracted by the compiler).
 *
 * <p>Why not libtorch's own kernel: libtorch 2.7 computes the source coordinates in float32, which at x = 1000 is up
 * to 6e-5 of a pixel off torch 1.13's double-precision coordinates; network inputs then differed from torchvision's by
 * up to 1e-4 (of a range of 5), and a deep imported network (MobileNetV3-FPN at full size) passed that on to 1.5e-4
 * of its features, ten times float32's own noise. Here the inputs are torchvision's exactly.
 */
final class BilinearResize {
    private BilinearResize() {}

    /** For each output position along one axis, the two source positions it blends and their weights. */
    record Taps(int[] first, int[] second, float[] firstWeight, float[] secondWeight) {}

    /**
     * torch 1.13's taps: scale = in / out in float32; the source coordinate {@code scale * (i + 0.5) - 0.5}, clamped
     * at 0, and its fraction in double precision (the accumulate type of float on the CPU), the weights rounded to
     * float32 from it; at the last pixel both taps are that pixel. An axis that keeps its size copies.
     */
    static Taps taps(int in, int out) {
        int[] first = new int[out];
        int[] second = new int[out];
        float[] firstWeight = new float[out];
        float[] secondWeight = new float[out];
        float scale = (float) in / (float) out;
        for (int i = 0; i < out; i++) {
            double source = in == out ? i : Math.max(scale * (i + 0.5) - 0.5, 0.0);
            int lo = (int) source;
            double fraction = source - lo;
            first[i] = lo;
            second[i] = lo < in - 1 ? lo + 1 : lo;
            firstWeight[i] = (float) (1.0 - fraction);
            secondWeight[i] = (float) fraction;
        }
        return new Taps(first, second, firstWeight, secondWeight);
    }

    /**
     * {@code channels} planes of {@code height x width} (row-major, one after the other) resized to
     * {@code outHeight x outWidth}, written at the top left of {@code out}'s planes of {@code planeHeight x planeWidth}
     * (a padded canvas; the rest of it is left as it is).
     */
    static void resize(float[] in, int channels, int height, int width, float[] out, int outHeight, int outWidth,
                       int planeHeight, int planeWidth) {
        Taps rows = taps(height, outHeight);
        Taps columns = taps(width, outWidth);
        int[] x0 = columns.first();
        int[] x1 = columns.second();
        float[] wx0 = columns.firstWeight();
        float[] wx1 = columns.secondWeight();
        for (int c = 0; c < channels; c++) {
            int inPlane = c * height * width;
            for (int y = 0; y < outHeight; y++) {
                int top = inPlane + rows.first()[y] * width;
                int bottom = inPlane + rows.second()[y] * width;
                float wy0 = rows.firstWeight()[y];
                float wy1 = rows.secondWeight()[y];
                int o = (c * planeHeight + y) * planeWidth;
                for (int x = 0; x < outWidth; x++) {
                    float t0 = Math.fma(in[top + x0[x]], wx0[x], in[top + x1[x]] * wx1[x]);
                    float t1 = Math.fma(in[bottom + x0[x]], wx0[x], in[bottom + x1[x]] * wx1[x]);
                    out[o + x] = Math.fma(t0, wy0, t1 * wy1);
                }
            }
        }
    }
}
