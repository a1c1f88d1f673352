package org.frcnn4j.model;

import java.util.List;
import org.frcnn4j.anchor.AnchorConfig;
import org.frcnn4j.backbone.BackboneConfig;
import org.frcnn4j.head.HeadConfig;
import org.frcnn4j.roi.RoiConfig;
import org.frcnn4j.rpn.RpnConfig;
import org.frcnn4j.transform.TransformConfig;

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
 * @param arithmetic  how inference rounds: frcnn4j's fastest routes, or torchvision's float32 values to the bit
 *                    ({@link Arithmetic}); null means FAST
 */
public record FasterRcnnConfig(String preset, boolean plusOne, TransformConfig transform, BackboneConfig backbone,
                               AnchorConfig anchors, RpnConfig rpn, RoiConfig roi, HeadConfig head,
                               List<String> classNames, List<Integer> categoryIds, Proposals proposals,
                               Arithmetic arithmetic) {

    /** Where a model's regions of interest come from. */
    public enum Proposals { RPN, SELECTIVE_SEARCH }

    /**
     * The rounding of inference. Both compute the same function; they differ in the last bits of the float32 values,
     * which matter only where a network gives many boxes scores within a few units in the last place of each other
     * (then rounding alone decides which of them NMS keeps: a full-size MobileNetV3 with random weights does this).
     */
    public enum Arithmetic {
        /**
         * frcnn4j's fastest routes: batch norm folded into the convolution before it, Winograd's algorithm for the
         * 3x3 convolutions where this machine gains by it.
         */
        FAST,
        /**
         * torchvision's (Debian's torch 1.13 on the CPU) float32 values to the bit, proposals and detections
         * ({@link org.frcnn4j.nn.PeerArithmetic}): batch norm after each convolution as the file's module computes it,
         * the engine's direct convolutions (the same oneDNN kernels), RoIAlign as torchvision's CPU loop, and the
         * products torch 1.13 hands to BLAS (the fully connected layers, squeeze-and-excitation and the small maps it
         * keeps from oneDNN) by the system's BLAS ({@link org.frcnn4j.nn.PeerBlas}: bit-equal where it is the peer's
         * library with its thread count); without that library the convolutions are summed in Java in OpenBLAS's order
         * (exact for one output position, {@link org.frcnn4j.nn.GemmOrder}) and the fully connected layers by the
         * engine, within float rounding. Softmax, exp and sigmoid as torch's in every arithmetic. Batches of several
         * images and bfloat16 stay within float rounding of torchvision's. import-torchvision's default; a model
         * trained by {@code frcnn train} is saved FAST.
         */
        TORCHVISION
    }

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
        arithmetic = arithmetic == null ? Arithmetic.FAST : arithmetic;
    }

    /** With frcnn4j's fastest arithmetic. */
    public FasterRcnnConfig(String preset, boolean plusOne, TransformConfig transform, BackboneConfig backbone,
                            AnchorConfig anchors, RpnConfig rpn, RoiConfig roi, HeadConfig head,
                            List<String> classNames, List<Integer> categoryIds, Proposals proposals) {
        this(preset, plusOne, transform, backbone, anchors, rpn, roi, head, classNames, categoryIds, proposals, null);
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

    /** The name of a label 1..K, or "class N" for a model without names. */
    public String className(int label) {
        return label >= 1 && label <= classNames.size() ? classNames.get(label - 1) : "class " + label;
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
                head.withNumClasses(names.size() + 1), names, ids, proposals, arithmetic);
    }

    public FasterRcnnConfig with(Arithmetic a) {
        return new FasterRcnnConfig(preset, plusOne, transform, backbone, anchors, rpn, roi, head, classNames, categoryIds,
                proposals, a);
    }

    public FasterRcnnConfig with(Proposals p) {
        return new FasterRcnnConfig(preset, plusOne, transform, backbone, anchors, rpn, roi, head, classNames, categoryIds, p, arithmetic);
    }

    public FasterRcnnConfig with(TransformConfig t) {
        return new FasterRcnnConfig(preset, plusOne, t, backbone, anchors, rpn, roi, head, classNames, categoryIds, proposals, arithmetic);
    }

    public FasterRcnnConfig with(BackboneConfig b) {
        return new FasterRcnnConfig(preset, plusOne, transform, b, anchors, rpn, roi, head, classNames, categoryIds, proposals, arithmetic);
    }

    public FasterRcnnConfig with(AnchorConfig a) {
        return new FasterRcnnConfig(preset, plusOne, transform, backbone, a, rpn, roi, head, classNames, categoryIds, proposals, arithmetic);
    }

    public FasterRcnnConfig with(RpnConfig r) {
        return new FasterRcnnConfig(preset, plusOne, transform, backbone, anchors, r, roi, head, classNames, categoryIds, proposals, arithmetic);
    }

    public FasterRcnnConfig with(RoiConfig r) {
        return new FasterRcnnConfig(preset, plusOne, transform, backbone, anchors, rpn, r, head, classNames, categoryIds, proposals, arithmetic);
    }

    public FasterRcnnConfig with(HeadConfig h) {
        return new FasterRcnnConfig(preset, plusOne, transform, backbone, anchors, rpn, roi, h, classNames, categoryIds, proposals, arithmetic);
    }

}
