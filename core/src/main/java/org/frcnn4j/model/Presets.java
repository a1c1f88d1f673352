package org.frcnn4j.model;

import java.util.List;
import org.frcnn4j.anchor.AnchorConfig;
import org.frcnn4j.anchor.AnchorGenerator;
import org.frcnn4j.backbone.BackboneConfig;
import org.frcnn4j.backbone.BackboneConfig.Architecture;
import org.frcnn4j.head.HeadConfig;
import org.frcnn4j.roi.RoiConfig;
import org.frcnn4j.roi.RoiConfig.RoiOp;
import org.frcnn4j.rpn.RpnConfig;
import org.frcnn4j.rpn.RpnConfig.Objectness;
import org.frcnn4j.rpn.RpnConfig.ProposalOrder;
import org.frcnn4j.transform.TransformConfig;
import org.frcnn4j.transform.TransformConfig.Normalization;

/**
 * The named starting points. {@code paper-*} follow py-faster-rcnn's test settings (experiments/cfgs and
 * lib/fast_rcnn/config.py); {@code torchvision} follows torchvision 0.14's {@code FasterRCNN} defaults, under which
 * the same weights give torchvision's outputs; {@code small} and {@code tiny} are CPU-sized.
 */
public enum Presets {
    PAPER_ZF("paper-zf"),
    PAPER_VGG16("paper-vgg16"),
    TORCHVISION("torchvision"),
    SMALL("small"),
    TINY("tiny"),
    RESNET50_FPN("fasterrcnn_resnet50_fpn"),
    RESNET50_FPN_V2("fasterrcnn_resnet50_fpn_v2"),
    MOBILENET_V3_LARGE_FPN("fasterrcnn_mobilenet_v3_large_fpn"),
    MOBILENET_V3_LARGE_320_FPN("fasterrcnn_mobilenet_v3_large_320_fpn");

    private final String id;

    Presets(String id) {
        this.id = id;
    }

    /** Whether this preset is one of torchvision's published architectures (weights importable from .pth). */
    public boolean torchvisionFamily() {
        return ordinal() >= RESNET50_FPN.ordinal();
    }

    /** The name users type ({@code paper-vgg16}). */
    public String id() {
        return id;
    }

    /** The preset named {@code id}, or an error listing the names. */
    public static Presets byId(String id) {
        for (Presets p : values()) {
            if (p.id.equals(id)) {
                return p;
            }
        }
        throw new org.frcnn4j.io.BadInputException("unknown preset '" + id + "' (presets: "
                + String.join(", ", java.util.Arrays.stream(values()).map(Presets::id).toList()) + ")");
    }

    /** The preset's configuration for the given object classes (K names; background is added). */
    public FasterRcnnConfig config(List<String> classNames) {
        int numClasses = classNames.size() + 1;
        return switch (this) {
            case PAPER_ZF -> paper(Architecture.ZF, 256, numClasses, classNames);
            case PAPER_VGG16 -> paper(Architecture.VGG16, 512, numClasses, classNames);
            case TORCHVISION -> torchvision(numClasses, classNames);
            case SMALL -> cpu(id, 0.5, 320, 640, 256, 512, numClasses, classNames);
            case TINY -> cpu(id, 0.125, 128, 192, 32, 64, numClasses, classNames);
            case RESNET50_FPN -> resnetFpn(id, false, numClasses, classNames);
            case RESNET50_FPN_V2 -> resnetFpn(id, true, numClasses, classNames);
            case MOBILENET_V3_LARGE_FPN -> mobileNetFpn(id, 800, 1333, 1000, 1000, 0f, numClasses, classNames);
            case MOBILENET_V3_LARGE_320_FPN -> mobileNetFpn(id, 320, 640, 150, 150, 0.05f, numClasses, classNames);
        };
    }

    /** torchvision's five FPN levels' anchor sizes, one per level. */
    static final double[][] FPN_LEVEL_SIZES = {{32}, {64}, {128}, {256}, {512}};
    /** torchvision's MobileNetV3 FPN: all five sizes on each of its three levels. */
    static final double[][] MOBILENET_LEVEL_SIZES = {{32, 64, 128, 256, 512}, {32, 64, 128, 256, 512}, {32, 64, 128, 256, 512}};
    private static final double[] RATIOS = {0.5, 1, 2};

    /**
     * torchvision 0.14's fasterrcnn_resnet50_fpn (or _v2): ResNet-50 with frozen batch norm (v2: trained batch norm),
     * FPN over layers 1-4 with the extra max-pooled level (v2: batch norm in the FPN), anchors 32-512 one size per
     * level, RPN 1000 -> NMS 0.7 -> 1000 at test with per-level top N (v2: two 3x3 convs in the RPN head),
     * MultiScaleRoIAlign, TwoMLPHead of 1024 (v2: four 3x3 convs with batch norm, one fc of 1024), 800/1333 input.
     */
    private static FasterRcnnConfig resnetFpn(String id, boolean v2, int numClasses, List<String> names) {
        return new FasterRcnnConfig(id, false,
                new TransformConfig(800, 1333, false, Normalization.RGB_MEAN_STD, TORCHVISION_MEAN, TORCHVISION_STD, 32),
                new BackboneConfig(Architecture.RESNET, 1.0, false, false, BackboneConfig.ResNet.resnet50(),
                        new BackboneConfig.BatchNormConfig(1e-5f, !v2),
                        new BackboneConfig.Fpn(256, v2, List.of(1, 2, 3, 4), true)),
                new AnchorConfig(AnchorGenerator.Style.TORCHVISION, 4, new double[] {32}, RATIOS, FPN_LEVEL_SIZES),
                new RpnConfig(Objectness.SIGMOID, 256, ProposalOrder.TORCHVISION, 1000, 1000, 2000, 2000, 0.7f, 1e-3f,
                        v2 ? 2 : 1, 0f),
                new RoiConfig(RoiOp.ALIGN, 7, 2, false),
                new HeadConfig(numClasses, 1024, false, HEAD_BOX_WEIGHTS, 0.05f, 0.5f, 100, 1e-2f,
                        v2 ? List.of(256, 256, 256, 256) : null),
                names);
    }

    /**
     * torchvision 0.14's fasterrcnn_mobilenet_v3_large_fpn (and its 320 variant): MobileNetV3-Large with frozen batch
     * norm, FPN on its last two stages (both stride 32) plus the max-pooled level, anchors 32-512 on each of the three
     * levels, TwoMLPHead of 1024; the 320 variant takes 320/640 inputs, 150 proposals and an RPN score threshold 0.05.
     */
    private static FasterRcnnConfig mobileNetFpn(String id, int min, int max, int pre, int post, float rpnScore,
                                                 int numClasses, List<String> names) {
        return new FasterRcnnConfig(id, false,
                new TransformConfig(min, max, false, Normalization.RGB_MEAN_STD, TORCHVISION_MEAN, TORCHVISION_STD, 32),
                new BackboneConfig(Architecture.MOBILENET_V3_LARGE, 1.0, false, false, null,
                        new BackboneConfig.BatchNormConfig(1e-5f, true), new BackboneConfig.Fpn(256, false, List.of(4, 5), true)),
                new AnchorConfig(AnchorGenerator.Style.TORCHVISION, 32, new double[] {32, 64, 128, 256, 512}, RATIOS,
                        MOBILENET_LEVEL_SIZES),
                new RpnConfig(Objectness.SIGMOID, 256, ProposalOrder.TORCHVISION, pre, post, 2000, 2000, 0.7f, 1e-3f, 1,
                        rpnScore),
                new RoiConfig(RoiOp.ALIGN, 7, 2, false),
                new HeadConfig(numClasses, 1024, false, HEAD_BOX_WEIGHTS, 0.05f, 0.5f, 100, 1e-2f),
                names);
    }

    private static final float[] PAPER_PIXEL_MEANS = {102.9801f, 115.9465f, 122.7717f}; // BGR, py-faster-rcnn
    private static final float[] TORCHVISION_MEAN = {0.485f, 0.456f, 0.406f};
    private static final float[] TORCHVISION_STD = {0.229f, 0.224f, 0.225f};
    private static final float[] HEAD_BOX_WEIGHTS = {10, 10, 5, 5}; // 1 / (0.1, 0.1, 0.2, 0.2)

    private static FasterRcnnConfig paper(Architecture arch, int rpnChannels, int numClasses, List<String> names) {
        return new FasterRcnnConfig("paper-" + arch.name().toLowerCase(), true,
                new TransformConfig(600, 1000, true, Normalization.BGR_MEAN, PAPER_PIXEL_MEANS, new float[] {1, 1, 1}, 0),
                new BackboneConfig(arch, 1.0, true, false),
                new AnchorConfig(AnchorGenerator.Style.PAPER, 16, new double[] {128, 256, 512}, new double[] {0.5, 1, 2}),
                new RpnConfig(Objectness.SOFTMAX, rpnChannels, ProposalOrder.PAPER, 6000, 300, 12000, 2000, 0.7f, 16f),
                new RoiConfig(RoiOp.POOL, 7, 0, false),
                new HeadConfig(numClasses, 4096, true, HEAD_BOX_WEIGHTS, 0.05f, 0.3f, 100, 0f),
                names);
    }

    private static FasterRcnnConfig torchvision(int numClasses, List<String> names) {
        return new FasterRcnnConfig("torchvision", false,
                new TransformConfig(800, 1333, false, Normalization.RGB_MEAN_STD, TORCHVISION_MEAN, TORCHVISION_STD, 32),
                new BackboneConfig(Architecture.VGG16, 1.0, false, false),
                new AnchorConfig(AnchorGenerator.Style.TORCHVISION, 16, new double[] {128, 256, 512}, new double[] {0.5, 1, 2}),
                new RpnConfig(Objectness.SIGMOID, 512, ProposalOrder.TORCHVISION, 1000, 1000, 2000, 2000, 0.7f, 1e-3f),
                new RoiConfig(RoiOp.ALIGN, 7, 2, false),
                new HeadConfig(numClasses, 1024, false, HEAD_BOX_WEIGHTS, 0.05f, 0.5f, 100, 1e-2f),
                names);
    }

    private static FasterRcnnConfig cpu(String id, double width, int minSize, int maxSize, int rpnChannels, int fc,
                                        int numClasses, List<String> names) {
        return new FasterRcnnConfig(id, false,
                new TransformConfig(minSize, maxSize, false, Normalization.RGB_MEAN_STD, TORCHVISION_MEAN, TORCHVISION_STD, 32),
                new BackboneConfig(Architecture.ZF, width, true, true),
                new AnchorConfig(AnchorGenerator.Style.TORCHVISION, 16, new double[] {32, 64, 128, 256, 512},
                        new double[] {0.5, 1, 2}),
                new RpnConfig(Objectness.SIGMOID, rpnChannels, ProposalOrder.TORCHVISION, 1000, 300, 2000, 1000, 0.7f, 1e-3f),
                new RoiConfig(RoiOp.ALIGN, 7, 2, false),
                new HeadConfig(numClasses, fc, false, HEAD_BOX_WEIGHTS, 0.05f, 0.5f, 100, 1e-2f),
                names);
    }
}
