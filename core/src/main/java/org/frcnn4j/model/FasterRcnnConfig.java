package org.frcnn4j.model;

import java.util.List;
import org.frcnn4j.anchor.AnchorGenerator;

/**
 * Every setting of a Faster R-CNN model, as typed values with the paper's (or torchvision's) numbers; saved as
 * {@code config.json} beside the weights. Each nested record belongs to one part of the network, and each value is
 * read by exactly one class, named in its comment.
 *
 * @param preset      the preset these values started from (informational)
 * @param plusOne     box convention: widths x2 - x1 + 1 (py-faster-rcnn) or x2 - x1 (torchvision); used by the box
 *                    coders, clipping, size filters and NMS
 * @param classNames  the K object classes in label order (label 0 is background); may be empty for imported models
 * @param categoryIds the dataset's category id of each class (COCO's gapped ids; 1..K for VOC), written by
 *                    {@code detect} so that its results evaluate against the same annotations; null means 1..K
 * @param proposals   where the head's regions come from: the RPN, or Selective Search for a Fast R-CNN trained on its
 *                    boxes (the model is then run with them by default); null means the RPN
 */
public record FasterRcnnConfig(String preset, boolean plusOne, TransformConfig transform, BackboneConfig backbone,
                               AnchorConfig anchors, RpnConfig rpn, RoiConfig roi, HeadConfig head,
                               List<String> classNames, List<Integer> categoryIds, Proposals proposals) {

    /** Where a model's regions of interest come from. */
    public enum Proposals { RPN, SELECTIVE_SEARCH }

    public FasterRcnnConfig {
        classNames = classNames == null ? List.of() : List.copyOf(classNames);
        if (categoryIds == null || categoryIds.isEmpty()) {
            categoryIds = java.util.stream.IntStream.rangeClosed(1, classNames.size()).boxed().toList();
        } else {
            categoryIds = List.copyOf(categoryIds);
        }
        if (categoryIds.size() != classNames.size()) {
            throw new org.frcnn4j.io.BadInputException("the model configuration has " + classNames.size()
                    + " class names but " + categoryIds.size() + " category ids");
        }
        proposals = proposals == null ? Proposals.RPN : proposals;
    }

    /** With the classes numbered 1..K and the RPN's proposals. */
    public FasterRcnnConfig(String preset, boolean plusOne, TransformConfig transform, BackboneConfig backbone,
                            AnchorConfig anchors, RpnConfig rpn, RoiConfig roi, HeadConfig head, List<String> classNames) {
        this(preset, plusOne, transform, backbone, anchors, rpn, roi, head, classNames, null, null);
    }

    /** Number of outputs of the classifier: K classes + background. */
    public int numClassesWithBackground() {
        return head.numClasses();
    }

    /** The category id that label {@code label} (1..K) stands for in the dataset the model learnt from. */
    public int categoryId(int label) {
        return label >= 1 && label <= categoryIds.size() ? categoryIds.get(label - 1) : label;
    }

    public FasterRcnnConfig withClasses(List<String> names) {
        return withClasses(names, null);
    }

    /** Other classes (and a fresh predictor's size), with their dataset category ids (null: 1..K). */
    public FasterRcnnConfig withClasses(List<String> names, List<Integer> ids) {
        return new FasterRcnnConfig(preset, plusOne, transform, backbone, anchors, rpn, roi,
                head.withNumClasses(names.size() + 1), names, ids, proposals);
    }

    public FasterRcnnConfig with(Proposals p) {
        return new FasterRcnnConfig(preset, plusOne, transform, backbone, anchors, rpn, roi, head, classNames, categoryIds, p);
    }

    public FasterRcnnConfig with(TransformConfig t) {
        return new FasterRcnnConfig(preset, plusOne, t, backbone, anchors, rpn, roi, head, classNames, categoryIds, proposals);
    }

    public FasterRcnnConfig with(BackboneConfig b) {
        return new FasterRcnnConfig(preset, plusOne, transform, b, anchors, rpn, roi, head, classNames, categoryIds, proposals);
    }

    public FasterRcnnConfig with(AnchorConfig a) {
        return new FasterRcnnConfig(preset, plusOne, transform, backbone, a, rpn, roi, head, classNames, categoryIds, proposals);
    }

    public FasterRcnnConfig with(RpnConfig r) {
        return new FasterRcnnConfig(preset, plusOne, transform, backbone, anchors, r, roi, head, classNames, categoryIds, proposals);
    }

    public FasterRcnnConfig with(RoiConfig r) {
        return new FasterRcnnConfig(preset, plusOne, transform, backbone, anchors, rpn, r, head, classNames, categoryIds, proposals);
    }

    public FasterRcnnConfig with(HeadConfig h) {
        return new FasterRcnnConfig(preset, plusOne, transform, backbone, anchors, rpn, roi, h, classNames, categoryIds, proposals);
    }

    /** How pixel values are normalised before the backbone. */
    public enum Normalization {
        /** py-faster-rcnn: BGR order, 0..255, minus the pixel means (102.98, 115.95, 122.77), no scaling. */
        BGR_MEAN,
        /** torchvision: RGB order, 0..1, minus mean, divided by std. */
        RGB_MEAN_STD
    }

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
        public TransformConfig withSizes(int min, int max) {
            return new TransformConfig(min, max, roundSize, normalization, mean, std, sizeDivisible);
        }
    }

    /** The convolutional backbones. */
    public enum Architecture { ZF, VGG16 }

    /**
     * Read by {@link org.frcnn4j.backbone.Backbones}.
     *
     * @param architecture ZF (Zeiler and Fergus, 5 conv layers) or VGG-16 (13 conv layers)
     * @param widthScale   channel multiplier (1 = the paper's widths; smaller for CPU tests)
     * @param ceilMode     max pooling rounds output sizes up, as Caffe does (paper), or down (torchvision)
     * @param groupNorm    group normalisation after each conv (and no LRN): trains from scratch without ImageNet
     *                     weights (Wu and He, 2018), for the CPU presets
     */
    public record BackboneConfig(Architecture architecture, double widthScale, boolean ceilMode, boolean groupNorm) {}

    /**
     * Read by {@link org.frcnn4j.rpn.RegionProposalNetwork} (through {@link AnchorGenerator}).
     *
     * @param style  py-faster-rcnn's or torchvision's anchor placement
     * @param stride feature stride in input pixels (16)
     * @param sizes  anchor sizes in pixels (paper: 128, 256, 512 = scales 8, 16, 32 of base 16)
     * @param ratios aspect ratios h/w (0.5, 1, 2)
     */
    public record AnchorConfig(AnchorGenerator.Style style, int stride, double[] sizes, double[] ratios) {
        public AnchorGenerator generator() {
            if (style == AnchorGenerator.Style.PAPER) {
                double[] scales = new double[sizes.length];
                for (int i = 0; i < sizes.length; i++) {
                    scales[i] = sizes[i] / stride;
                }
                return AnchorGenerator.paper(stride, ratios, scales);
            }
            return AnchorGenerator.torchvision(sizes, ratios);
        }

        public int anchorsPerPosition() {
            return sizes.length * ratios.length;
        }
    }

    /** How the RPN scores objectness. */
    public enum Objectness {
        /** The paper: 2k scores, a two-class softmax per anchor. */
        SOFTMAX,
        /** torchvision: k logits, a sigmoid per anchor. */
        SIGMOID
    }

    /** The order of the proposal steps. */
    public enum ProposalOrder {
        /** py-faster-rcnn: decode, clip, drop small, top N by score, NMS, top N. */
        PAPER,
        /** torchvision: top N on raw scores, decode, clip, drop small, NMS, top N. */
        TORCHVISION
    }

    /**
     * Read by {@link org.frcnn4j.rpn.RpnHead} and {@link org.frcnn4j.rpn.ProposalGenerator}.
     *
     * @param convChannels  channels of the 3x3 conv (256 for ZF, 512 for VGG-16)
     * @param minSize       proposals smaller than this (input pixels) are dropped (paper: 16; torchvision: 0.001)
     * @param nmsThreshold  0.7
     */
    public record RpnConfig(Objectness objectness, int convChannels, ProposalOrder order, int preNmsTopNTest,
                            int postNmsTopNTest, int preNmsTopNTrain, int postNmsTopNTrain, float nmsThreshold,
                            float minSize) {
        public RpnConfig withTopN(int preTest, int postTest) {
            return new RpnConfig(objectness, convChannels, order, preTest, postTest, preNmsTopNTrain, postNmsTopNTrain,
                    nmsThreshold, minSize);
        }

        public RpnConfig withNmsThreshold(float t) {
            return new RpnConfig(objectness, convChannels, order, preNmsTopNTest, postNmsTopNTest, preNmsTopNTrain,
                    postNmsTopNTrain, t, minSize);
        }
    }

    /** The RoI feature extractor. */
    public enum RoiOp {
        /** Max pooling over quantised bins (Fast R-CNN, the paper). */
        POOL,
        /** Bilinear sampling (Mask R-CNN; torchvision's default). */
        ALIGN
    }

    /**
     * Read by {@link org.frcnn4j.roi.RoiFeatureExtractor}.
     *
     * @param outputSize    7
     * @param samplingRatio RoIAlign samples per bin and axis (torchvision: 2; 0: adaptive)
     * @param aligned       RoIAlign's half-pixel shift (torchvision's Faster R-CNN: false)
     */
    public record RoiConfig(RoiOp op, int outputSize, int samplingRatio, boolean aligned) {}

    /**
     * Read by {@link org.frcnn4j.head.FastRcnnHead} and {@link org.frcnn4j.head.DetectionPostprocessor}.
     *
     * @param numClasses           K + 1 (background is class 0)
     * @param fcSize               width of fc6 and fc7 (4096 in the paper; 1024 in torchvision's TwoMLPHead)
     * @param dropout              dropout after fc6 and fc7 in training (VGG-16 in the paper)
     * @param boxWeights           the head's box-coder weights (10, 10, 5, 5)
     * @param scoreThreshold       detections need a score above this (0.05 in py-faster-rcnn's test_net and torchvision)
     * @param nmsThreshold         per-class NMS (paper: 0.3; torchvision: 0.5)
     * @param detectionsPerImage   at most this many (100)
     * @param minBoxSize           detections smaller than this are dropped (torchvision: 0.01; paper: 0)
     */
    public record HeadConfig(int numClasses, int fcSize, boolean dropout, float[] boxWeights, float scoreThreshold,
                             float nmsThreshold, int detectionsPerImage, float minBoxSize) {
        public HeadConfig withNumClasses(int n) {
            return new HeadConfig(n, fcSize, dropout, boxWeights, scoreThreshold, nmsThreshold, detectionsPerImage, minBoxSize);
        }

        public HeadConfig withPostprocess(float score, float nms, int perImage) {
            return new HeadConfig(numClasses, fcSize, dropout, boxWeights, score, nms, perImage, minBoxSize);
        }
    }
}
