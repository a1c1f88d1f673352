package org.frcnn4j.backbone;

import ai.djl.ndarray.NDArray;
import org.frcnn4j.nn.FeatureMaps;

/**
 * The shared convolutional layers (paper, section 3): images (N, 3, H, W) in, feature maps out: one (N, C, H/s, W/s)
 * for the paper's ZF and VGG-16, one per pyramid level for a backbone with an FPN (Lin et al., 2017). The RPN and the
 * Fast R-CNN head both read them.
 */
public interface Backbone {
    /** The feature maps of a batch of normalised images. */
    FeatureMaps forward(NDArray images, boolean training);

    /** C, the feature maps' channels. */
    int outChannels();

    /** s, input pixels per feature cell of the first level (16 for ZF and VGG-16, 4 for a ResNet FPN). */
    int stride();
}
