package org.frcnn4j.backbone;

import ai.djl.ndarray.NDArray;

/**
 * The shared convolutional layers (paper, section 3): images (N, 3, H, W) in, one feature map (N, C, H/s, W/s) out.
 * The RPN and the Fast R-CNN head both read this map.
 */
public interface Backbone {
    /** The feature map of a batch of normalised images. */
    NDArray forward(NDArray images, boolean training);

    /** C, the feature map's channels. */
    int outChannels();

    /** s, input pixels per feature cell (16 for ZF and VGG-16). */
    int stride();

    /** Feature map size (height, width) for an input of the given size, as the layers compute it. */
    int[] featureSize(int height, int width);
}
