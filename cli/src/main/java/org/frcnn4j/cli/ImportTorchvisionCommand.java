package org.frcnn4j.cli;

import ai.djl.ndarray.NDManager;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.frcnn4j.backbone.BackboneConfig.Architecture;
import org.frcnn4j.io.BadInputException;
import org.frcnn4j.model.FasterRcnn;
import org.frcnn4j.model.ModelFiles;
import org.frcnn4j.model.TorchvisionImport;
import org.frcnn4j.roi.RoiConfig.RoiOp;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code frcnn import-torchvision}: a torchvision FasterRCNN state dict (.npz) to a frcnn4j model folder. */
@Command(name = "import-torchvision", mixinStandardHelpOptions = true,
        description = "Import a torchvision FasterRCNN state dict (.npz, one array per key) as a model folder. "
                + "Optional flags carry torchvision's FasterRCNN argument names and defaults.")
final class ImportTorchvisionCommand implements Callable<Integer> {
    enum BackboneName { vgg16, zf }

    enum RoiOpName { align, pool }

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--weights", required = true, description = "the state dict as .npz")
    Path weights;

    @Option(names = "--backbone", required = true, description = "vgg16 (vgg16().features[:-1]) or zf")
    BackboneName backbone;

    @Option(names = "--roi-op", defaultValue = "align", description = "align (MultiScaleRoIAlign(['0'], 7, 2)) or pool (RoIPool 7x7, 1/16)")
    RoiOpName roiOp;

    @Option(names = "--num-classes", required = true, description = "torchvision's num_classes, background included")
    int numClasses;

    @Option(names = "--out", required = true, description = "the model folder to write")
    Path out;

    @Option(names = "--classes", description = "file with the K-1 object class names in label order, one a line")
    Path classes;

    @Option(names = "--min-size", defaultValue = "800") int minSize;
    @Option(names = "--max-size", defaultValue = "1333") int maxSize;
    @Option(names = "--rpn-pre-nms-top-n-test", defaultValue = "1000") int rpnPreNmsTopNTest;
    @Option(names = "--rpn-post-nms-top-n-test", defaultValue = "1000") int rpnPostNmsTopNTest;
    @Option(names = "--rpn-nms-thresh", defaultValue = "0.7") float rpnNmsThresh;
    @Option(names = "--box-score-thresh", defaultValue = "0.05") float boxScoreThresh;
    @Option(names = "--box-nms-thresh", defaultValue = "0.5") float boxNmsThresh;
    @Option(names = "--box-detections-per-img", defaultValue = "100") int boxDetectionsPerImg;

    @Override
    public Integer call() throws Exception {
        if (numClasses < 2) {
            throw new BadInputException("--num-classes counts the background too: at least 2, got " + numClasses);
        }
        if (minSize <= 0 || maxSize < minSize) {
            throw new BadInputException("--min-size and --max-size must satisfy 0 < min <= max");
        }
        TorchvisionImport.Options options = new TorchvisionImport.Options(
                backbone == BackboneName.vgg16 ? Architecture.VGG16 : Architecture.ZF,
                roiOp == RoiOpName.align ? RoiOp.ALIGN : RoiOp.POOL,
                numClasses, minSize, maxSize, rpnPreNmsTopNTest, rpnPostNmsTopNTest, rpnNmsThresh, boxScoreThresh,
                boxNmsThresh, boxDetectionsPerImg);
        List<String> names = Options.classNames(classes);
        if (names != null && names.size() != numClasses - 1) {
            throw new BadInputException(classes + ": " + names.size() + " class names for --num-classes "
                    + numClasses + " (expected " + (numClasses - 1) + ")");
        }
        try (NDManager manager = NDManager.newBaseManager();
             FasterRcnn model = TorchvisionImport.importNpz(weights, options, manager)) {
            FasterRcnn named = names == null ? model : new FasterRcnn(model.config().withClasses(names), model.parameters());
            ModelFiles.save(named, out);
        }
        spec.commandLine().getOut().println("wrote " + out.resolve(ModelFiles.CONFIG) + " and " + out.resolve(ModelFiles.WEIGHTS));
        return 0;
    }
}
