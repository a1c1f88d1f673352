package org.frcnn4j.transform;

import org.frcnn4j.io.Ranges;

/**
 * Read by {@link org.frcnn4j.transform.ImageTransform}.
 *
 * @param minSize       the shorter side is scaled to this (600 in the paper)
 * @param maxSize       unless the longer side would then exceed this (1000)
 * @param roundSize     paper: resized size = round(side * scale) (OpenCV); torchvision: floor, scale in float32
 * @param sizeDivisible pad the resized image with zeros to a multiple of this (torchvision: 32; 0: no padding)
 * @param mean          per channel, in the normalisation's channel order and value range
 * @param std           per channel (ones for the paper)
 */
public record TransformConfig(int minSize, int maxSize, boolean roundSize, Normalization normalization,
                              float[] mean, float[] std, int sizeDivisible) {
    public TransformConfig {
        Ranges.atLeast("transform.minSize", minSize, 1);
        Ranges.atLeast("transform.maxSize", maxSize, 1);
        Ranges.given("transform.normalization", normalization);
        Ranges.finite("transform.mean", mean, 3);
        Ranges.positive("transform.std", std, 3);
        Ranges.atLeast("transform.sizeDivisible", sizeDivisible, 0);
    }

    public TransformConfig withSizes(int min, int max) {
        return new TransformConfig(min, max, roundSize, normalization, mean, std, sizeDivisible);
    }

    /** How pixel values are normalised before the backbone. */
    public enum Normalization {
        /** py-faster-rcnn: BGR order, 0..255, minus the pixel means (102.98, 115.95, 122.77), no scaling. */
        BGR_MEAN,
        /** torchvision: RGB order, 0..1, minus mean, divided by std. */
        RGB_MEAN_STD
    }
}
