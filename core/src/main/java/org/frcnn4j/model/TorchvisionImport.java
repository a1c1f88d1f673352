package org.frcnn4j.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.frcnn4j.backbone.BackboneConfig;
import org.frcnn4j.backbone.BackboneConfig.Architecture;
import org.frcnn4j.head.HeadConfig;
import org.frcnn4j.model.ModelFiles.ModelException;
import org.frcnn4j.roi.RoiConfig;
import org.frcnn4j.roi.RoiConfig.RoiOp;
import org.frcnn4j.rpn.RpnConfig;

/**
 * Imports a torchvision {@code FasterRCNN} state dict saved as .npz (one array per key, e.g. by
 * {@code np.savez(path, **{k: v.numpy() for k, v in model.state_dict().items()})}) for the model
 * {@code FasterRCNN(backbone=vgg16().features[:-1] or frcnn4j's ZF, rpn_anchor_generator=AnchorGenerator(((128, 256,
 * 512),), ((0.5, 1.0, 2.0),)), box_roi_pool=MultiScaleRoIAlign(['0'], 7, 2) or RoIPool 7x7 at 1/16)} with a
 * TwoMLPHead and a FastRCNNPredictor. The result uses the {@code torchvision} preset, under which it gives
 * torchvision's proposals and detections. Widths (backbone channels, fc size) are read from the weights.
 */
public final class TorchvisionImport {
    private TorchvisionImport() {}

    /** The settings torchvision's FasterRCNN takes as arguments, with its defaults. */
    public record Options(Architecture backbone, RoiOp roiOp, int numClasses, int minSize, int maxSize,
                          int rpnPreNmsTopNTest, int rpnPostNmsTopNTest, float rpnNmsThresh, float boxScoreThresh,
                          float boxNmsThresh, int boxDetectionsPerImg) {
        public static Options defaults(Architecture backbone, RoiOp roiOp, int numClasses) {
            return new Options(backbone, roiOp, numClasses, 800, 1333, 1000, 1000, 0.7f, 0.05f, 0.5f, 100);
        }
    }

    public static FasterRcnn importNpz(Path npz, Options options, NDManager manager) {
        if (!Files.isRegularFile(npz)) {
            throw new ModelException(npz, "no such state dict file");
        }
        try (InputStream in = Files.newInputStream(npz); NDManager tmp = manager.newSubManager()) {
            Map<String, NDArray> raw = ModelFiles.named(NDList.decode(tmp, in), npz);
            Map<String, NDArray> weights = new LinkedHashMap<>();
            for (Map.Entry<String, NDArray> e : raw.entrySet()) {
                weights.put(rename(e.getKey()), e.getValue());
            }
            FasterRcnnConfig config = configFor(weights, options, npz);
            return ModelFiles.build(config, weights, manager, npz);
        } catch (IOException e) {
            throw new ModelException(npz, "cannot read: " + e.getMessage(), e);
        } catch (ModelException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new ModelException(npz, "not a readable .npz state dict: " + e.getMessage(), e);
        }
    }

    /** torchvision 0.13+ names the RPN conv {@code rpn.head.conv.0.0}; older versions {@code rpn.head.conv}. */
    static String rename(String key) {
        return key.replace("rpn.head.conv.0.0.", "rpn.head.conv.");
    }

    static FasterRcnnConfig configFor(Map<String, NDArray> w, Options o, Path source) {
        NDArray first = require(w, "backbone.0.weight", source);
        NDArray cls = require(w, "roi_heads.box_predictor.cls_score.weight", source);
        NDArray fc6 = require(w, "roi_heads.box_head.fc6.weight", source);
        NDArray rpnConv = require(w, "rpn.head.conv.weight", source);
        double width = first.getShape().get(0) / (o.backbone() == Architecture.VGG16 ? 64.0 : 96.0);
        if (cls.getShape().get(0) != o.numClasses()) {
            throw new ModelException(source, "roi_heads.box_predictor.cls_score.weight has " + cls.getShape().get(0)
                    + " classes, --num-classes says " + o.numClasses());
        }
        FasterRcnnConfig base = Presets.TORCHVISION.config(List.of());
        // ZF's pooling rounds up as Caffe's does (frcnn4j's ZfNet and the tools/torchvision ZF); VGG-16's down.
        boolean ceil = o.backbone() == Architecture.ZF;
        RoiConfig roi = o.roiOp() == RoiOp.ALIGN ? new RoiConfig(RoiOp.ALIGN, 7, 2, false) : new RoiConfig(RoiOp.POOL, 7, 0, false);
        return new FasterRcnnConfig("torchvision", false,
                base.transform().withSizes(o.minSize(), o.maxSize()),
                new BackboneConfig(o.backbone(), width, ceil, false),
                base.anchors(),
                new RpnConfig(base.rpn().objectness(), (int) rpnConv.getShape().get(0), base.rpn().order(),
                        o.rpnPreNmsTopNTest(), o.rpnPostNmsTopNTest(), base.rpn().preNmsTopNTrain(),
                        base.rpn().postNmsTopNTrain(), o.rpnNmsThresh(), base.rpn().minSize()),
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
