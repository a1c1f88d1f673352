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
    TINY("tiny");

    private final String id;

    Presets(String id) {
        this.id = id;
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
            case SMALL -> cpu(id, 0.75, 320, 640, 256, 512, numClasses, classNames);
            case TINY -> cpu(id, 0.125, 128, 192, 32, 64, numClasses, classNames);
        };
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
