package org.frcnn4j.backbone;

import org.frcnn4j.nn.Norms;
import org.frcnn4j.nn.Parameters;

/** Builds the backbone a configuration names. */
public final class Backbones {
    private Backbones() {}

    public static Backbone create(BackboneConfig config, Parameters params) {
        return switch (config.architecture()) {
            case VGG16 -> new Vgg16(params, config.widthScale(), config.ceilMode(), config.groupNorm());
            case ZF -> new ZfNet(params, config.widthScale(), config.ceilMode(), config.groupNorm());
            case RESNET -> withFpn(params, config, new ResNet(params, "backbone.body.",
                    config.resnet() != null ? config.resnet() : BackboneConfig.ResNet.resnet50(), batchNorm(config)));
            case MOBILENET_V3_LARGE -> withFpn(params, config,
                    new MobileNetV3(params, "backbone.body.", config.widthScale(), batchNorm(config)));
        };
    }

    private static Backbone withFpn(Parameters params, BackboneConfig config, Body body) {
        if (config.fpn() == null) {
            throw new IllegalArgumentException(config.architecture() + " is built with a feature pyramid here: give fpn");
        }
        // torchvision's v2 pyramid always normalises with BatchNorm2d: computed as that module does whenever the body's
        // normalisations are computed as their module does (torchvision's arithmetic), folded otherwise
        boolean asModule = config.batchNorm() != null && config.batchNorm().inference() != Norms.BatchNorm.Inference.FOLDED;
        return new BackboneWithFpn(params, body, config.fpn(),
                asModule ? Norms.BatchNorm.Inference.BATCH_NORM_2D : Norms.BatchNorm.Inference.FOLDED);
    }

    private static BackboneConfig.BatchNormConfig batchNorm(BackboneConfig config) {
        return config.batchNorm() != null ? config.batchNorm() : new BackboneConfig.BatchNormConfig(1e-5f, true);
    }

    /** A channel count times the width scale, at least 1. */
    static int scaled(int channels, double widthScale) {
        return Math.max(1, (int) Math.round(channels * widthScale));
    }
}
