package org.frcnn4j.backbone;

import ai.djl.ndarray.NDArray;
import java.util.List;

/** A classification network's convolutional stages, read by a feature pyramid ({@link BackboneWithFpn}). */
interface Body {
    /** The outputs of the stages asked for, in order (stages numbered as torchvision's extractors number them). */
    List<NDArray> stages(NDArray images, boolean training, List<Integer> stages);

    /** Output channels of a stage. */
    int channels(int stage);

    /** Input pixels per output cell of a stage. */
    int stride(int stage);
}
