package org.frcnn4j.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.frcnn4j.backbone.BackboneConfig;
import org.frcnn4j.backbone.BackboneConfig.Architecture;
import org.frcnn4j.head.HeadConfig;
import org.frcnn4j.io.BadInputException;
import org.frcnn4j.io.PthReader;
import org.frcnn4j.io.PthTensor;
import org.frcnn4j.model.ModelFiles.ModelException;
import org.frcnn4j.nn.Norms;
import org.frcnn4j.roi.RoiConfig;
import org.frcnn4j.roi.RoiConfig.RoiOp;
import org.frcnn4j.rpn.RpnConfig;

/**
 * Imports a torchvision {@code FasterRCNN} state dict as a model whose outputs are torchvision's: a {@code .pth} file
 * as {@code torch.save} writes it (a state dict, or a training checkpoint holding one under "model"), or an
 * {@code .npz} (one array per key). Architectures: torchvision's fasterrcnn_resnet50_fpn, _v2,
 * fasterrcnn_mobilenet_v3_large_fpn and its 320 variant (their presets), and the paper's backbones as
 * {@code FasterRCNN(backbone=vgg16().features[:-1] or frcnn4j's ZF, AnchorGenerator(((128, 256, 512),), ...),
 * MultiScaleRoIAlign(['0'], 7, 2) or RoIPool)} with a TwoMLPHead. Depths and widths (ResNet blocks, FPN channels,
 * head sizes, RPN convs) are read from the weights, so reduced variants of the same classes import too.
 */
public final class TorchvisionImport {
    private TorchvisionImport() {}

    /** The architectures torchvision publishes Faster R-CNN weights for, and the paper's two backbones. */
    public enum Arch {
        VGG16("vgg16", null), ZF("zf", null),
        RESNET50_FPN("fasterrcnn_resnet50_fpn", Presets.RESNET50_FPN),
        RESNET50_FPN_V2("fasterrcnn_resnet50_fpn_v2", Presets.RESNET50_FPN_V2),
        MOBILENET_V3_LARGE_FPN("fasterrcnn_mobilenet_v3_large_fpn", Presets.MOBILENET_V3_LARGE_FPN),
        MOBILENET_V3_LARGE_320_FPN("fasterrcnn_mobilenet_v3_large_320_fpn", Presets.MOBILENET_V3_LARGE_320_FPN);

        private final String id;
        private final Presets preset;

        Arch(String id, Presets preset) {
            this.id = id;
            this.preset = preset;
        }

        public String id() {
            return id;
        }

        public Presets preset() {
            return preset;
        }

        public static Arch byId(String id) {
            for (Arch a : values()) {
                if (a.id.equals(id)) {
                    return a;
                }
            }
            throw new org.frcnn4j.io.BadInputException("unknown architecture '" + id + "' (architectures: "
                    + String.join(", ", java.util.Arrays.stream(values()).map(Arch::id).toList()) + ")");
        }
    }

    /**
     * The settings torchvision's FasterRCNN takes as arguments.
     *
     * @param widthMult MobileNetV3's width multiplier (1 for the published models)
     * @param bnEps     batch norm's epsilon (torchvision 1e-5; its builder sets 0 for the original ResNet-50-FPN COCO
     *                  weights)
     * @param arithmetic the imported model's rounding ({@link FasterRcnnConfig.Arithmetic}); null means TORCHVISION,
     *                   torchvision's values to the bit
     */
    public record Options(Arch arch, RoiOp roiOp, int numClasses, int minSize, int maxSize, int rpnPreNmsTopNTest,
                          int rpnPostNmsTopNTest, float rpnNmsThresh, float rpnScoreThresh, float boxScoreThresh,
                          float boxNmsThresh, int boxDetectionsPerImg, double widthMult, float bnEps,
                          FasterRcnnConfig.Arithmetic arithmetic) {
        /** Values no model could run with are refused, named as import-torchvision's flags (torchvision's keywords). */
        public Options {
            arithmetic = arithmetic == null ? FasterRcnnConfig.Arithmetic.TORCHVISION : arithmetic;
            if (minSize <= 0 || maxSize < minSize) {
                throw new BadInputException("--min-size and --max-size must satisfy 0 < min <= max");
            }
            org.frcnn4j.io.Ranges.unitInterval("--rpn-nms-thresh", rpnNmsThresh);
            org.frcnn4j.io.Ranges.unitInterval("--rpn-score-thresh", rpnScoreThresh);
            org.frcnn4j.io.Ranges.unitInterval("--box-score-thresh", boxScoreThresh);
            org.frcnn4j.io.Ranges.unitInterval("--box-nms-thresh", boxNmsThresh);
            org.frcnn4j.io.Ranges.atLeast("--box-detections-per-img", boxDetectionsPerImg, 1);
            org.frcnn4j.io.Ranges.atLeast("--rpn-pre-nms-top-n-test", rpnPreNmsTopNTest, 1);
            org.frcnn4j.io.Ranges.atLeast("--rpn-post-nms-top-n-test", rpnPostNmsTopNTest, 1);
            org.frcnn4j.io.Ranges.positive("--bn-eps", bnEps);
            org.frcnn4j.io.Ranges.positive("--width-mult", widthMult);
        }

        /** torchvision's defaults for the architecture. */
        public static Options defaults(Arch arch, RoiOp roiOp, int numClasses) {
            boolean small = arch == Arch.MOBILENET_V3_LARGE_320_FPN;
            return new Options(arch, roiOp, numClasses, small ? 320 : 800, small ? 640 : 1333, small ? 150 : 1000,
                    small ? 150 : 1000, 0.7f, small ? 0.05f : 0f, 0.05f, 0.5f, 100, 1.0, 1e-5f, null);
        }

        /** Torchvision's arithmetic (the 14 settings of earlier versions). */
        public Options(Arch arch, RoiOp roiOp, int numClasses, int minSize, int maxSize, int rpnPreNmsTopNTest,
                       int rpnPostNmsTopNTest, float rpnNmsThresh, float rpnScoreThresh, float boxScoreThresh,
                       float boxNmsThresh, int boxDetectionsPerImg, double widthMult, float bnEps) {
            this(arch, roiOp, numClasses, minSize, maxSize, rpnPreNmsTopNTest, rpnPostNmsTopNTest, rpnNmsThresh,
                    rpnScoreThresh, boxScoreThresh, boxNmsThresh, boxDetectionsPerImg, widthMult, bnEps, null);
        }

        /** The same settings with another arithmetic. */
        public Options with(FasterRcnnConfig.Arithmetic a) {
            return new Options(arch, roiOp, numClasses, minSize, maxSize, rpnPreNmsTopNTest, rpnPostNmsTopNTest,
                    rpnNmsThresh, rpnScoreThresh, boxScoreThresh, boxNmsThresh, boxDetectionsPerImg, widthMult, bnEps, a);
        }

        /** The paper-backbone form of earlier versions. */
        public Options(Architecture backbone, RoiOp roiOp, int numClasses, int minSize, int maxSize, int rpnPreNmsTopNTest,
                       int rpnPostNmsTopNTest, float rpnNmsThresh, float boxScoreThresh, float boxNmsThresh,
                       int boxDetectionsPerImg) {
            this(backbone == Architecture.VGG16 ? Arch.VGG16 : Arch.ZF, roiOp, numClasses, minSize, maxSize,
                    rpnPreNmsTopNTest, rpnPostNmsTopNTest, rpnNmsThresh, 0f, boxScoreThresh, boxNmsThresh,
                    boxDetectionsPerImg, 1.0, 1e-5f, null);
        }
    }

    /**
     * The 90 class names of torchvision's COCO models in label order (label 1 = "person" = COCO category 1; its unused
     * category ids are named "N/A"), so that label i is COCO category id i.
     */
    public static List<String> cocoCategories() {
        try (InputStream in = TorchvisionImport.class.getResourceAsStream("coco-91.txt")) {
            return new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).lines().toList();
        } catch (IOException | NullPointerException e) {
            throw new IllegalStateException("the COCO category names are missing from the jar", e);
        }
    }

    /** Reads {@code file} (.pth or .npz) and builds the model; a missing, unexpected or misshapen key is named. */
    public static FasterRcnn importWeights(Path file, Options options, NDManager manager) {
        if (!Files.isRegularFile(file)) {
            throw new ModelException(file, Files.isDirectory(file) ? "is a folder, not a state dict file" : "no such state dict file");
        }
        try (NDManager tmp = manager.newSubManager()) {
            Map<String, NDArray> raw = isNpz(file) ? readNpz(file, tmp) : readPth(file, tmp);
            // BatchNorm2d keeps a step counter that FrozenBatchNorm2d has not: such a file gets the kernel's arithmetic
            boolean batchNorm2d = raw.keySet().stream()
                    .anyMatch(k -> k.startsWith("backbone.body.") && k.endsWith(".num_batches_tracked"));
            Map<String, NDArray> weights = renamed(raw);
            FasterRcnnConfig config = configFor(weights, options, file, batchNorm2d);
            return ModelFiles.build(config, weights, manager, file, options.arch().id() + " as torchvision 0.14 defines it");
        } catch (IOException e) {
            throw new ModelException(file, "cannot read: " + e.getMessage(), e);
        }
    }

    /** The .npz form (earlier versions' only one). */
    public static FasterRcnn importNpz(Path npz, Options options, NDManager manager) {
        return importWeights(npz, options, manager);
    }

    private static boolean isNpz(Path file) throws IOException {
        if (file.getFileName().toString().endsWith(".npz")) {
            return true;
        }
        // both are zip files: torch.save's holds <archive>/data.pkl
        try (java.util.zip.ZipFile zip = new java.util.zip.ZipFile(file.toFile())) {
            return zip.stream().noneMatch(e -> e.getName().endsWith("data.pkl"));
        } catch (java.util.zip.ZipException e) {
            return false; // not a zip: torch.save's legacy format
        }
    }

    private static Map<String, NDArray> readNpz(Path npz, NDManager tmp) throws IOException {
        try (InputStream in = Files.newInputStream(npz)) {
            return ModelFiles.named(NDList.decode(tmp, in), npz);
        } catch (RuntimeException e) {
            if (e instanceof ModelException m) {
                throw m;
            }
            throw new ModelException(npz, "not a readable .npz state dict: " + e.getMessage(), e);
        }
    }

    private static Map<String, NDArray> readPth(Path pth, NDManager tmp) {
        Map<String, NDArray> raw = new LinkedHashMap<>();
        for (Map.Entry<String, PthTensor> e : PthReader.readStateDict(pth).entrySet()) {
            PthTensor t = e.getValue();
            // num_batches_tracked (int64): BatchNorm2d's step counter, unused in inference and here but for its name
            NDArray a = t.isFloatingPoint() ? tmp.create(t.floats(), new Shape(t.shape())) : tmp.create(new long[] {0});
            a.setName(e.getKey());
            raw.put(e.getKey(), a);
        }
        return raw;
    }

    /**
     * torchvision's keys as this project names them: identical, except the one-conv RPN head, which torchvision 0.13+
     * calls {@code rpn.head.conv.0.0} and earlier versions (and frcnn4j) {@code rpn.head.conv}; batch norm step
     * counters are dropped.
     */
    static Map<String, NDArray> renamed(Map<String, NDArray> raw) {
        boolean deep = raw.containsKey("rpn.head.conv.1.0.weight");
        Map<String, NDArray> out = new LinkedHashMap<>();
        for (Map.Entry<String, NDArray> e : raw.entrySet()) {
            if (e.getKey().endsWith(".num_batches_tracked")) {
                continue;
            }
            out.put(deep ? e.getKey() : rename(e.getKey()), e.getValue());
        }
        return out;
    }

    static String rename(String key) {
        return key.replace("rpn.head.conv.0.0.", "rpn.head.conv.");
    }

    /**
     * @param batchNorm2d the file's backbone normalisations are BatchNorm2d modules (torchvision builds them so without
     *                    pretrained weights), not FrozenBatchNorm2d: in torchvision's arithmetic inference computes
     *                    them as that module does
     */
    static FasterRcnnConfig configFor(Map<String, NDArray> w, Options o, Path source, boolean batchNorm2d) {
        NDArray cls = require(w, "roi_heads.box_predictor.cls_score.weight", source);
        if (cls.getShape().get(0) != o.numClasses()) {
            throw new ModelException(source, "roi_heads.box_predictor.cls_score.weight has " + cls.getShape().get(0)
                    + " classes, --num-classes says " + o.numClasses());
        }
        if (o.arch() == Arch.VGG16 || o.arch() == Arch.ZF) {
            return paperBackbone(w, o, source).with(o.arithmetic());
        }
        // which module wrote the file: torchvision's arithmetic computes the normalisation as that one does
        Norms.BatchNorm.Inference norm = batchNorm2d ? Norms.BatchNorm.Inference.BATCH_NORM_2D
                : Norms.BatchNorm.Inference.FROZEN_BATCH_NORM_2D;
        FasterRcnnConfig base = o.arch().preset().config(List.of()).withClasses(List.of(), null);
        BackboneConfig b = base.backbone();
        int fpnChannels = (int) require(w, "backbone.fpn.inner_blocks.0.0.weight", source).getShape().get(0);
        // the structure is the architecture's (a v2 file given as v1 then fails on its first unexpected key); only
        // depths and widths are read from the file, so that reduced variants of the same classes import too
        boolean fpnNorm = b.fpn().batchNorm();
        BackboneConfig.ResNet resnet = null;
        if (b.architecture() == Architecture.RESNET) {
            List<Integer> blocks = new ArrayList<>();
            for (int s = 1; s <= 4; s++) {
                int n = 0;
                while (w.containsKey("backbone.body.layer" + s + "." + n + ".conv1.weight")) {
                    n++;
                }
                blocks.add(n);
            }
            resnet = new BackboneConfig.ResNet(blocks, (int) require(w, "backbone.body.conv1.weight", source).getShape().get(0));
        }
        BackboneConfig backbone = new BackboneConfig(b.architecture(), o.widthMult(), false, false, resnet,
                new BackboneConfig.BatchNormConfig(o.bnEps(), b.batchNorm().frozen(), norm),
                new BackboneConfig.Fpn(fpnChannels, fpnNorm, b.fpn().returned(), true));
        RpnConfig r = base.rpn();
        int depth = r.convDepth();
        RpnConfig rpn = new RpnConfig(r.objectness(), fpnChannels, r.order(), o.rpnPreNmsTopNTest(), o.rpnPostNmsTopNTest(),
                r.preNmsTopNTrain(), r.postNmsTopNTrain(), o.rpnNmsThresh(), r.minSize(), Math.max(1, depth),
                o.rpnScoreThresh());
        HeadConfig h = base.head();
        List<Integer> convLayers = new ArrayList<>();
        for (int i = 0; i < h.convLayers().size(); i++) {
            convLayers.add((int) require(w, "roi_heads.box_head." + i + ".0.weight", source).getShape().get(0));
        }
        int representation = (int) cls.getShape().get(1);
        HeadConfig head = new HeadConfig(o.numClasses(), representation, false, h.boxWeights(), o.boxScoreThresh(),
                o.boxNmsThresh(), o.boxDetectionsPerImg(), h.minBoxSize(), convLayers);
        return new FasterRcnnConfig(base.preset(), false, base.transform().withSizes(o.minSize(), o.maxSize()), backbone,
                base.anchors(), rpn, base.roi(), head, List.of()).with(o.arithmetic());
    }

    private static FasterRcnnConfig paperBackbone(Map<String, NDArray> w, Options o, Path source) {
        NDArray first = require(w, "backbone.0.weight", source);
        NDArray fc6 = require(w, "roi_heads.box_head.fc6.weight", source);
        NDArray rpnConv = require(w, "rpn.head.conv.weight", source);
        Architecture arch = o.arch() == Arch.VGG16 ? Architecture.VGG16 : Architecture.ZF;
        double width = first.getShape().get(0) / (arch == Architecture.VGG16 ? 64.0 : 96.0);
        FasterRcnnConfig base = Presets.TORCHVISION.config(List.of());
        // ZF's pooling rounds up as Caffe's does (frcnn4j's ZfNet and the tools/torchvision ZF); VGG-16's down.
        boolean ceil = arch == Architecture.ZF;
        RoiConfig roi = o.roiOp() == RoiOp.ALIGN ? new RoiConfig(RoiOp.ALIGN, 7, 2, false) : new RoiConfig(RoiOp.POOL, 7, 0, false);
        return new FasterRcnnConfig("torchvision", false,
                base.transform().withSizes(o.minSize(), o.maxSize()),
                new BackboneConfig(arch, width, ceil, false),
                base.anchors(),
                new RpnConfig(base.rpn().objectness(), (int) rpnConv.getShape().get(0), base.rpn().order(),
                        o.rpnPreNmsTopNTest(), o.rpnPostNmsTopNTest(), base.rpn().preNmsTopNTrain(),
                        base.rpn().postNmsTopNTrain(), o.rpnNmsThresh(), base.rpn().minSize(), 1, o.rpnScoreThresh()),
                roi,
                new HeadConfig(o.numClasses(), (int) fc6.getShape().get(0), false,
                        base.head().boxWeights(), o.boxScoreThresh(), o.boxNmsThresh(), o.boxDetectionsPerImg(),
                        base.head().minBoxSize()),
                List.of());
    }

    private static NDArray require(Map<String, NDArray> w, String key, Path source) {
        NDArray a = w.get(key);
        if (a == null) {
            throw new ModelException(source, "missing key '" + key + "'");
        }
        return a;
    }
}
