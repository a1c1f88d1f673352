package org.frcnn4j.proposals;

import java.awt.image.BufferedImage;

/**
 * The colour spaces Selective Search diversifies over (Uijlings et al., section 3.2), each as planes scaled to 0..255.
 */
public enum ColorSpaces {
    /** Hue, saturation, value. */
    HSV,
    /** CIE L*a*b* (D65). */
    LAB,
    /** Normalised r, g and intensity. */
    RGI,
    /** Hue alone. */
    H,
    /** Intensity alone. */
    I;

    /** The image's planes in this colour space. */
    public float[][] convert(BufferedImage img) {
        int w = img.getWidth();
        int h = img.getHeight();
        int[] argb = img.getRGB(0, 0, w, h, null, 0, w);
        int channels = this == H || this == I ? 1 : 3;
        float[][] out = new float[channels][w * h];
        float[] tmp = new float[3];
        for (int i = 0; i < argb.length; i++) {
            float r = (argb[i] >> 16) & 0xff;
            float g = (argb[i] >> 8) & 0xff;
            float b = argb[i] & 0xff;
            switch (this) {
                case HSV -> {
                    hsv(r, g, b, tmp);
                    out[0][i] = tmp[0];
                    out[1][i] = tmp[1];
                    out[2][i] = tmp[2];
                }
                case LAB -> {
                    lab(r, g, b, tmp);
                    out[0][i] = tmp[0];
                    out[1][i] = tmp[1];
                    out[2][i] = tmp[2];
                }
                case RGI -> {
                    float s = r + g + b;
                    out[0][i] = s == 0 ? 0 : 255f * r / s;
                    out[1][i] = s == 0 ? 0 : 255f * g / s;
                    out[2][i] = s / 3f;
                }
                case H -> {
                    hsv(r, g, b, tmp);
                    out[0][i] = tmp[0];
                }
                case I -> out[0][i] = (r + g + b) / 3f;
            }
        }
        return out;
    }

    /** HSV with each component scaled to 0..255. */
    static void hsv(float r, float g, float b, float[] out) {
        float max = Math.max(r, Math.max(g, b));
        float min = Math.min(r, Math.min(g, b));
        float d = max - min;
        float hue;
        if (d == 0) {
            hue = 0;
        } else if (max == r) {
            hue = ((g - b) / d) % 6f;
        } else if (max == g) {
            hue = (b - r) / d + 2;
        } else {
            hue = (r - g) / d + 4;
        }
        hue = hue / 6f;
        if (hue < 0) {
            hue += 1;
        }
        out[0] = hue * 255f;
        out[1] = max == 0 ? 0 : 255f * d / max;
        out[2] = max;
    }

    /** L*a*b* from sRGB, L scaled from 0..100 and a, b shifted from -128..127 to 0..255. */
    static void lab(float r, float g, float b, float[] out) {
        double rl = linear(r / 255.0);
        double gl = linear(g / 255.0);
        double bl = linear(b / 255.0);
        double x = (0.4124 * rl + 0.3576 * gl + 0.1805 * bl) / 0.95047;
        double y = 0.2126 * rl + 0.7152 * gl + 0.0722 * bl;
        double z = (0.0193 * rl + 0.1192 * gl + 0.9505 * bl) / 1.08883;
        double fx = f(x);
        double fy = f(y);
        double fz = f(z);
        out[0] = (float) ((116 * fy - 16) * 2.55);
        out[1] = (float) (500 * (fx - fy) + 128);
        out[2] = (float) (200 * (fy - fz) + 128);
    }

    private static double linear(double c) {
        return c <= 0.04045 ? c / 12.92 : StrictMath.pow((c + 0.055) / 1.055, 2.4);
    }

    private static double f(double t) {
        return t > 216.0 / 24389 ? StrictMath.cbrt(t) : (24389.0 / 27 * t + 16) / 116;
    }
}
