package org.frcnn4j.proposals;

/** Separable Gaussian filtering of single-channel float images (edges replicated). */
final class Filters {
    private Filters() {}

    /** A normalised 1-D Gaussian of the given sigma, radius ceil(4 sigma). */
    static float[] kernel(double sigma) {
        int radius = (int) Math.ceil(4 * sigma);
        float[] k = new float[2 * radius + 1];
        double sum = 0;
        for (int i = -radius; i <= radius; i++) {
            double v = StrictMath.exp(-0.5 * i * i / (sigma * sigma));
            k[i + radius] = (float) v;
            sum += v;
        }
        for (int i = 0; i < k.length; i++) {
            k[i] /= (float) sum;
        }
        return k;
    }

    static float[] gaussian(float[] image, int width, int height, double sigma) {
        return convolveRows(convolveColumns(image, width, height, kernel(sigma)), width, height, kernel(sigma));
    }

    static float[] convolveRows(float[] image, int width, int height, float[] k) {
        int r = k.length / 2;
        float[] out = new float[image.length];
        for (int y = 0; y < height; y++) {
            int row = y * width;
            for (int x = 0; x < width; x++) {
                float s = 0;
                for (int i = -r; i <= r; i++) {
                    int xx = Math.min(width - 1, Math.max(0, x + i));
                    s += k[i + r] * image[row + xx];
                }
                out[row + x] = s;
            }
        }
        return out;
    }

    static float[] convolveColumns(float[] image, int width, int height, float[] k) {
        int r = k.length / 2;
        float[] out = new float[image.length];
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                float s = 0;
                for (int i = -r; i <= r; i++) {
                    int yy = Math.min(height - 1, Math.max(0, y + i));
                    s += k[i + r] * image[yy * width + x];
                }
                out[y * width + x] = s;
            }
        }
        return out;
    }
}
