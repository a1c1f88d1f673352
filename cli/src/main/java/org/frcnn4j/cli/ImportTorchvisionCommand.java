package org.frcnn4j.cli;

import ai.djl.ndarray.NDManager;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.frcnn4j.io.BadInputException;
import org.frcnn4j.model.FasterRcnn;
import org.frcnn4j.model.FasterRcnnConfig;
import org.frcnn4j.model.ModelFiles;
import org.frcnn4j.model.TorchvisionImport;
import org.frcnn4j.model.TorchvisionImport.Arch;
import org.frcnn4j.roi.RoiConfig.RoiOp;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code frcnn import-torchvision}: a torchvision FasterRCNN state dict (.pth or .npz) to a frcnn4j model folder. */
@Command(name = "import-torchvision", mixinStandardHelpOptions = true,
        description = "Import a torchvision FasterRCNN state dict as a model folder: a .pth file as torch.save writes it "
                + "(a state dict, or a training checkpoint with it under \"model\"), or an .npz (one array per key). "
                + "Optional flags carry torchvision's FasterRCNN argument names; their defaults are the architecture's.")
final class ImportTorchvisionCommand implements Callable<Integer> {
    enum BackboneName { vgg16, zf }

    enum RoiOpName { align, pool }

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--weights", required = true, description = "the state dict: .pth or .npz")
    Path weights;

    @Option(names = "--arch", description = "fasterrcnn_resnet50_fpn, fasterrcnn_resnet50_fpn_v2, "
            + "fasterrcnn_mobilenet_v3_large_fpn, fasterrcnn_mobilenet_v3_large_320_fpn (or vgg16, zf)")
    String arch;

    @Option(names = "--backbone", description = "vgg16 (vgg16().features[:-1]) or zf: the paper's backbones (as --arch)")
    BackboneName backbone;

    @Option(names = "--roi-op", defaultValue = "align", description = "vgg16/zf: align (MultiScaleRoIAlign(['0'], 7, 2)) "
            + "or pool (RoIPool 7x7, 1/16)")
    RoiOpName roiOp;

    @Option(names = "--num-classes", required = true, description = "torchvision's num_classes, background included "
            + "(91 for its COCO models)")
    int numClasses;

    @Option(names = "--out", required = true, description = "the model folder to write")
    Path out;

    @Option(names = "--classes", description = "file with the K-1 object class names in label order, one a line "
            + "(default for 91 classes: torchvision's COCO names, with its \"N/A\" slots)")
    Path classes;

    @Option(names = "--min-size") Integer minSize;
    @Option(names = "--max-size") Integer maxSize;
    @Option(names = "--rpn-pre-nms-top-n-test") Integer rpnPreNmsTopNTest;
    @Option(names = "--rpn-post-nms-top-n-test") Integer rpnPostNmsTopNTest;
    @Option(names = "--rpn-nms-thresh") Float rpnNmsThresh;
    @Option(names = "--rpn-score-thresh") Float rpnScoreThresh;
    @Option(names = "--box-score-thresh") Float boxScoreThresh;
    @Option(names = "--box-nms-thresh") Float boxNmsThresh;
    @Option(names = "--box-detections-per-img") Integer boxDetectionsPerImg;

    @Option(names = "--width-mult", description = "MobileNetV3's width multiplier (default 1, the published models)")
    Double widthMult;

    @Option(names = "--bn-eps", description = "batch norm's epsilon (default 1e-5; torchvision's builder uses 0 for the "
            + "original fasterrcnn_resnet50_fpn COCO weights)")
    Float bnEps;

    @Option(names = "--arithmetic", defaultValue = "torchvision", description = "torchvision: the backbone, pyramid and "
            + "RPN round as torchvision does (batch norm as the file's module computes it, direct convolutions: its "
            + "float32 values to the bit where torch runs oneDNN); fast: batch norm folded into the convolutions and "
            + "Winograd's 3x3 route where it pays, the same values within float rounding (default: ${DEFAULT-VALUE})")
    Options.ArithmeticName arithmetic;

    @Override
    public Integer call() throws Exception {
        Arch a = arch();
        if (numClasses < 2) {
            throw new BadInputException("--num-classes counts the background too: at least 2, got " + numClasses);
        }
        TorchvisionImport.Options d = TorchvisionImport.Options.defaults(a,
                roiOp == RoiOpName.align ? RoiOp.ALIGN : RoiOp.POOL, numClasses);
        TorchvisionImport.Options options = new TorchvisionImport.Options(a, d.roiOp(), numClasses,
                or(minSize, d.minSize()), or(maxSize, d.maxSize()), or(rpnPreNmsTopNTest, d.rpnPreNmsTopNTest()),
                or(rpnPostNmsTopNTest, d.rpnPostNmsTopNTest()), or(rpnNmsThresh, d.rpnNmsThresh()),
                or(rpnScoreThresh, d.rpnScoreThresh()), or(boxScoreThresh, d.boxScoreThresh()),
                or(boxNmsThresh, d.boxNmsThresh()), or(boxDetectionsPerImg, d.boxDetectionsPerImg()),
                or(widthMult, d.widthMult()), or(bnEps, d.bnEps()),
                arithmetic.value());
        // before the import's minutes of work: a folder that is not a model's is never replaced
        ModelFiles.refuseToReplace(out);
        List<String> names = Options.classNames(classes);
        if (names == null && numClasses == 91) {
            names = TorchvisionImport.cocoCategories();
        }
        if (names != null && names.size() != numClasses - 1) {
            throw new BadInputException(classes + ": " + names.size() + " class names for --num-classes "
                    + numClasses + " (expected " + (numClasses - 1) + ")");
        }
        try (NDManager manager = NDManager.newBaseManager();
             FasterRcnn model = TorchvisionImport.importWeights(weights, options, manager)) {
            FasterRcnn named = names == null ? model : new FasterRcnn(model.config().withClasses(names), model.parameters());
            ModelFiles.save(named, out);
        }
        spec.commandLine().getOut().println("wrote " + out.resolve(ModelFiles.CONFIG) + " and " + out.resolve(ModelFiles.WEIGHTS));
        return 0;
    }

    private Arch arch() {
        if ((arch == null) == (backbone == null)) {
            throw new BadInputException("give --arch (fasterrcnn_resnet50_fpn, ...) or --backbone (vgg16, zf), one of them");
        }
        return arch != null ? Arch.byId(arch) : backbone == BackboneName.vgg16 ? Arch.VGG16 : Arch.ZF;
    }

    private static <T> T or(T value, T fallback) {
        return value != null ? value : fallback;
    }
}
