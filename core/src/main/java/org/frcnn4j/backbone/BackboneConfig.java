package org.frcnn4j.backbone;

import java.util.List;
import org.frcnn4j.io.Ranges;
import org.frcnn4j.nn.Norms;

/**
 * Read by {@link org.frcnn4j.backbone.Backbones}.
 *
 * @param architecture which network
 * @param widthScale   channel multiplier (1 = the published widths; smaller for CPU tests): ZF and VGG-16 scale their
 *                     layers by it, MobileNetV3 is its width multiplier; ResNet takes {@link ResNet#width} instead
 * @param ceilMode     max pooling rounds output sizes up, as Caffe does (paper), or down (torchvision)
 * @param groupNorm    group normalisation after each conv (and no LRN): trains from scratch without ImageNet
 *                     weights (Wu and He, 2018), for the CPU presets
 * @param resnet       the ResNet's depth and widths (ResNet only)
 * @param batchNorm    the backbone body's batch normalisation (ResNet, MobileNetV3)
 * @param fpn          the feature pyramid on top (null: the body's last map alone)
 */
public record BackboneConfig(Architecture architecture, double widthScale, boolean ceilMode, boolean groupNorm,
                             ResNet resnet, BatchNormConfig batchNorm, Fpn fpn) {
    public BackboneConfig {
        Ranges.given("backbone.architecture", architecture);
        Ranges.positive("backbone.widthScale", widthScale);
    }

    /** The convolutional backbones. */
    public enum Architecture {
        /** Zeiler and Fergus's net as py-faster-rcnn defines it (5 conv layers, stride 16). */
        ZF,
        /** VGG-16's 13 conv layers (stride 16). */
        VGG16,
        /** ResNet with bottleneck blocks (He et al., 2016; torchvision's, stride on the 3x3 conv). */
        RESNET,
        /** MobileNetV3-Large (Howard et al., 2019; torchvision's). */
        MOBILENET_V3_LARGE
    }

    /** The same backbone with its batch norms folded at inference (frcnn4j's fast arithmetic). */
    public BackboneConfig folded() {
        return batchNorm == null || batchNorm.inference() == Norms.BatchNorm.Inference.FOLDED ? this
                : new BackboneConfig(architecture, widthScale, ceilMode, groupNorm, resnet,
                        new BatchNormConfig(batchNorm.eps(), batchNorm.frozen()), fpn);
    }

    /** The paper's backbones: no ResNet settings, no batch norm, no pyramid. */
    public BackboneConfig(Architecture architecture, double widthScale, boolean ceilMode, boolean groupNorm) {
        this(architecture, widthScale, ceilMode, groupNorm, null, null, null);
    }

    /**
     * @param blocks bottleneck blocks per stage (ResNet-50: 3, 4, 6, 3)
     * @param width  the first stage's bottleneck width (64); each stage doubles it and outputs 4 times it
     */
    public record ResNet(List<Integer> blocks, int width) {
        public ResNet {
            Ranges.atLeast("backbone.resnet.blocks", blocks, 1);
            Ranges.atLeast("backbone.resnet.width", width, 1);
            blocks = List.copyOf(blocks);
        }

        public static ResNet resnet50() {
            return new ResNet(List.of(3, 4, 6, 3), 64);
        }
    }

    /**
     * @param eps    added to the variance (1e-5 in torchvision's detection backbones; torchvision's builder for the
     *               original ResNet-50-FPN COCO weights sets 0)
     * @param frozen statistics and affine parameters fixed (FrozenBatchNorm2d, used with pretrained weights) rather
     *               than trained (BatchNorm2d)
     * @param inference how inference computes it in torchvision's arithmetic: as the module of the file it came from
     *                  ({@link Norms.BatchNorm.Inference}; import-torchvision records which); frcnn4j's fast
     *                  arithmetic folds it whatever this says. Null means FOLDED
     */
    public record BatchNormConfig(float eps, boolean frozen, Norms.BatchNorm.Inference inference) {
        public BatchNormConfig {
            Ranges.nonNegative("backbone.batchNorm.eps", eps);
            inference = inference == null ? Norms.BatchNorm.Inference.FOLDED : inference;
        }

        /** Folded at inference. */
        public BatchNormConfig(float eps, boolean frozen) {
            this(eps, frozen, Norms.BatchNorm.Inference.FOLDED);
        }
    }

    /**
     * A feature pyramid network (Lin et al., 2017) over some of the body's stages.
     *
     * @param outChannels   channels of every level (256)
     * @param batchNorm     batch norm in its convs (torchvision's v2 model) instead of biases
     * @param returned      the body's stages it reads (ResNet: 1-4; MobileNetV3: the last two of its 6 stages, 4 and 5)
     * @param extraMaxPool  an extra level max-pooled from the last (torchvision's LastLevelMaxPool, named "pool")
     */
    public record Fpn(int outChannels, boolean batchNorm, List<Integer> returned, boolean extraMaxPool) {
        public Fpn {
            Ranges.atLeast("backbone.fpn.outChannels", outChannels, 1);
            Ranges.atLeast("backbone.fpn.returned", returned, 0);
            returned = List.copyOf(returned);
        }
    }
}
