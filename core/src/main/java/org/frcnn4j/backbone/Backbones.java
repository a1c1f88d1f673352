package org.frcnn4j.backbone;

import org.frcnn4j.model.FasterRcnnConfig;
import org.frcnn4j.nn.Parameters;

/** Builds the backbone a configuration names. */
public final class Backbones {
    private Backbones() {}

    public static Backbone create(FasterRcnnConfig.BackboneConfig config, Parameters params) {
        return switch (config.architecture()) {
            case VGG16 -> new Vgg16(params, config.widthScale(), config.ceilMode(), config.groupNorm());
            case ZF -> new ZfNet(params, config.widthScale(), config.ceilMode(), config.groupNorm());
        };
    }

    /** A channel count times the width scale, at least 1. */
    static int scaled(int channels, double widthScale) {
        return Math.max(1, (int) Math.round(channels * widthScale));
    }

    /** Output size of a pooling or convolution window along one axis (PyTorch's rule, which equals Caffe's in ceil mode). */
    static int pooledSize(int in, int kernel, int stride, int padding, boolean ceil) {
        int num = in + 2 * padding - kernel;
        int out = (ceil ? Math.floorDiv(num + stride - 1, stride) : Math.floorDiv(num, stride)) + 1;
        if (ceil && (out - 1) * stride >= in + padding) {
            out--; // the last window must start inside the input
        }
        return out;
    }
}
