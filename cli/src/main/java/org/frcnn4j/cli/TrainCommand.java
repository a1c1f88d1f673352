package org.frcnn4j.cli;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import org.frcnn4j.backbone.BackboneConfig;
import org.frcnn4j.backbone.BackboneConfig.Architecture;
import org.frcnn4j.data.Dataset;
import org.frcnn4j.io.BadInputException;
import org.frcnn4j.model.BackboneCheckpoint;
import org.frcnn4j.model.FasterRcnn;
import org.frcnn4j.model.FasterRcnnConfig;
import org.frcnn4j.model.ModelFiles;
import org.frcnn4j.model.Presets;
import org.frcnn4j.nn.ConvGuard;
import org.frcnn4j.rpn.RpnConfig;
import org.frcnn4j.train.TrainConfig;
import org.frcnn4j.train.TrainPresets;
import org.frcnn4j.train.Trainer;
import org.frcnn4j.transform.TransformConfig;
import org.frcnn4j.viz.LossCurve;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code frcnn train}: trains a model on a dataset into a run folder. */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = "Train a Faster R-CNN on a VOC or COCO dataset. Writes RUN_DIR/log.csv, loss.png, val.csv, "
                + "checkpoints/ and the final model folder RUN_DIR/model.")
final class TrainCommand implements Callable<Integer> {
    enum ScheduleName { joint, alternating }

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--data", description = "VOCdevkit folder, COCO instances JSON or COCO folder (with --resume: the run's)")
    Path data;

    @Option(names = "--train-split", description = "image set to train on: VOC ImageSets/Main/<split>.txt, or a COCO "
            + "folder's annotations/instances_<split>.json (default: every VOC annotation; the COCO folder's only file)")
    String trainSplit;

    @Option(names = "--val-split", description = "image set for validation mAP at intervals (VOC split, or COCO folder split)")
    String valSplit;

    @Option(names = "--classes", description = "file with the class names in label order, one a line (COCO: only "
            + "these categories)")
    Path classes;

    @Option(names = {"--preset", "--arch"}, description = "paper-zf, paper-vgg16, torchvision, small, tiny, or one of "
            + "torchvision's architectures: fasterrcnn_resnet50_fpn, fasterrcnn_resnet50_fpn_v2, "
            + "fasterrcnn_mobilenet_v3_large_fpn, fasterrcnn_mobilenet_v3_large_320_fpn (default: small, or the --init "
            + "model's)")
    String preset;

    @Option(names = "--init", paramLabel = "MODEL_DIR", description = "start from this model folder's weights (e.g. an "
            + "imported torchvision model) instead of random ones; its architecture is kept, and its class-score and "
            + "box layers start fresh when the dataset has other classes")
    Path init;

    @Option(names = "--init-backbone", paramLabel = "FILE.pth", description = "start the backbone from an ImageNet "
            + "classification checkpoint (torchvision's resnet50 / mobilenet_v3_large .pth, for --arch "
            + "fasterrcnn_resnet50_fpn* / fasterrcnn_mobilenet_v3_large*), the rest drawn afresh; its depth and width "
            + "are taken from the file")
    Path initBackbone;

    @Option(names = "--schedule", description = "joint (approximate joint, the default) or alternating (4-step)")
    ScheduleName schedule;

    @Option(names = "--iterations", description = "iterations (alternating: split 2:1:2:1 over the 4 steps, as py-faster-rcnn's 80k/40k/80k/40k)")
    Integer iterations;

    enum BackboneName { vgg16, zf }

    @Option(names = "--backbone", description = "vgg16 or zf instead of the preset's backbone")
    BackboneName backbone;

    @Option(names = "--width-scale", description = "backbone channel multiplier (default: the preset's)")
    Double widthScale;

    @Option(names = "--min-size", description = "shorter image side after resizing (default: the preset's)")
    Integer minSize;

    @Option(names = "--max-size", description = "longest image side after resizing (default: the preset's)")
    Integer maxSize;

    @Option(names = "--train-scales", paramLabel = "SIZES", description = "shorter sides drawn per training image, e.g. "
            + "256,288,320,352,384 (multi-scale training), or 'none' for the model's input size alone (default: the preset's)")
    String trainScales;

    @Option(names = "--lr", description = "base learning rate (default: the preset's)")
    Double lr;

    @Option(names = "--images-per-iteration", description = "images averaged in one update (default: the preset's)")
    Integer imagesPerIteration;

    @Option(names = "--rois-per-image", description = "RoIs sampled per image for the Fast R-CNN head's losses, at most a "
            + "quarter foreground (128 in py-faster-rcnn, 512 in torchvision; default: the preset's)")
    Integer roisPerImage;

    @Option(names = "--checkpoint-every", description = "iterations between checkpoints (default: the preset's)")
    Integer checkpointEvery;

    @Option(names = "--validate-every", description = "iterations between validation runs (default: at the end only)")
    Integer validateEvery;

    @Option(names = "--out", defaultValue = "runs/train", description = "run folder (default: ${DEFAULT-VALUE})")
    Path out;

    @CommandLine.Mixin
    Options.ProposalChoice proposals;

    @Option(names = "--resume", description = "continue the run in --out from its last checkpoint, with the run's own "
            + "settings (dataset, preset, recipe); options given must agree with them")
    boolean resume;

    @Option(names = "--force", description = "replace another run in --out, or resume with settings other than the run's")
    boolean force;

    @Option(names = "--seed", description = "seed of initialisation, order, flips and sampling (default: 0)")
    Long seed;

    @Option(names = "--precision", defaultValue = "fp32", paramLabel = "fp32|bf16", converter = Options.PrecisionConverter.class,
            description = "arithmetic of the convolutions and their gradients: fp32, or bf16 (bfloat16 inputs, float32 "
                    + "sums and weights, channels-last maps; for CPUs with AVX512_BF16 or AMX, refused on others; "
                    + "default: ${DEFAULT-VALUE})")
    org.frcnn4j.nn.Precision precision = org.frcnn4j.nn.Precision.FP32;

    private static final ObjectMapper JSON = new ObjectMapper();

    @Override
    public Integer call() throws Exception {
        precision.requireAvailable(); // one line and exit 2 before anything is read or written
        checkRanges();
        JsonNode saved = resume ? savedRun() : null;
        JsonNode savedData = saved == null ? JSON.createObjectNode() : saved.path("dataset");
        Path dataPath = data != null ? data : savedData.hasNonNull("data") ? Path.of(savedData.get("data").asText()) : null;
        if (dataPath == null) {
            throw new BadInputException("--data is required" + (resume ? " (the run folder " + out + " has no run.json "
                    + "naming its dataset)" : ""));
        }
        String trainSet = trainSplit != null ? trainSplit : text(savedData, "train_split");
        String valSet = valSplit != null ? valSplit : text(savedData, "val_split");
        Path initDir = init != null ? init : savedData.hasNonNull("init") ? Path.of(savedData.get("init").asText()) : null;
        Path backboneFile = initBackbone != null ? initBackbone
                : savedData.hasNonNull("init_backbone") ? Path.of(savedData.get("init_backbone").asText()) : null;
        if (initDir != null && backboneFile != null) {
            throw new BadInputException("--init starts from a whole model, --init-backbone from a classification "
                    + "checkpoint: give one of them");
        }
        java.util.List<String> names = classes != null ? Options.classNames(classes)
                : savedData.has("classes") && saved != null ? JSON.convertValue(savedData.get("classes"), STRINGS) : null;
        boolean ss = proposals.proposals != null ? proposals.selectiveSearch(null)
                : "ss".equals(text(savedData, "proposals"));
        FasterRcnnConfig initial = null;
        if (initDir != null) {
            if (backbone != null || widthScale != null) {
                throw new BadInputException("--init keeps the architecture of " + initDir + ": leave out --backbone and --width-scale");
            }
            if (resume && init != null && saved != null && !init.equals(initDir)) {
                throw new BadInputException("--init starts a new run; --resume continues one: give one of them");
            }
            if (!java.nio.file.Files.isDirectory(initDir)) {
                throw new ModelFiles.ModelException(initDir, java.nio.file.Files.exists(initDir) ? "is a file, not a model folder" : "no such model folder");
            }
            initial = ModelFiles.readConfig(initDir.resolve(ModelFiles.CONFIG));
        }
        FasterRcnnConfig savedModel = saved == null ? null : JSON.treeToValue(saved.get("model"), FasterRcnnConfig.class);
        String presetId = preset != null ? preset : savedModel != null ? savedModel.preset()
                : initial != null && isPreset(initial.preset()) ? initial.preset() : "small";
        Presets p = isPreset(presetId) ? Presets.byId(presetId) : Presets.SMALL;
        Dataset train = Dataset.open(dataPath, trainSet, names);
        Options.requireClean(train, "training set", spec.commandLine().getErr());
        Dataset val = valSet == null ? null : Dataset.open(dataPath, valSet, train.classes().names());

        FasterRcnnConfig model;
        if (savedModel != null && preset == null) {
            model = savedModel; // the run's own architecture; flags below may still change it (and are then compared)
        } else {
            model = initial != null ? initial : Presets.byId(presetId).config(train.classes().names());
            // trained here, its weights are no longer torchvision's: nothing to match bit for bit, so the fast routes
            model = model.withClasses(train.classes().names(), train.classes().categoryIds())
                    .with(org.frcnn4j.model.FasterRcnnConfig.Arithmetic.FAST);
        }
        model = architecture(model);
        if (backboneFile != null) {
            model = BackboneCheckpoint.configure(model, backboneFile);
        }
        if (ss) {
            model = model.with(FasterRcnnConfig.Proposals.SELECTIVE_SEARCH);
        }
        TrainConfig base = saved != null && preset == null ? JSON.treeToValue(saved.get("train"), TrainConfig.class)
                : TrainPresets.of(p);
        TrainConfig config = configure(base);
        java.util.Map<String, Object> dataset = new java.util.LinkedHashMap<>();
        dataset.put("data", dataPath.toAbsolutePath().normalize().toString());
        dataset.put("train_split", trainSet);
        dataset.put("val_split", valSet);
        dataset.put("classes", train.classes().names());
        dataset.put("proposals", ss ? "ss" : "rpn");
        dataset.put("init", initDir == null ? null : initDir.toAbsolutePath().normalize().toString());
        dataset.put("init_backbone", backboneFile == null ? null : backboneFile.toAbsolutePath().normalize().toString());

        PrintWriter w = spec.commandLine().getOut();
        w.printf(java.util.Locale.ROOT, "%s %s (%s) on %d images of %s, %d iterations -> %s%n", resume ? "resuming" : "training",
                model.preset(), config.schedule(), train.images().size(), dataPath, config.totalIterations(), out);
        w.flush();
        Trainer.Work work;
        try (NDManager manager = NDManager.newBaseManager();
             ProgressBar bar = new ProgressBarBuilder().setTaskName("train").setInitialMax(config.totalIterations())
                     .setStyle(ProgressBarStyle.ASCII).setConsumer(new me.tongfei.progressbar.ConsoleProgressBarConsumer(System.err))
                     .build()) {
            Trainer.Listener listener = new Trainer.Listener() {
                @Override
                public void iteration(Trainer.IterationLog log) {
                    bar.stepTo(log.iteration());
                    bar.setExtraMessage(String.format(java.util.Locale.ROOT, " step %d loss %.3f lr %.2g", log.step(),
                            log.loss(), log.learningRate()));
                }

                @Override
                public void validation(int iteration, double mAP) {
                    w.printf(java.util.Locale.ROOT, "%nvalidation at %d: VOC07 mAP %.4f%n", iteration, mAP);
                    w.flush();
                }

                @Override
                public void message(String text) {
                    w.println(text);
                    w.flush();
                }
            };
            Trainer trainer = new Trainer(model, config, train, val, out, listener).withDataset(dataset).replacing(force)
                    .withPrecision(precision);
            if (initDir != null) {
                trainer.withInitialWeights(initDir);
            } else if (backboneFile != null) {
                trainer.withInitialBackbone(backboneFile);
            }
            org.frcnn4j.proposals.ProposalCache cache = ss ? new org.frcnn4j.proposals.ProposalCache(
                    proposals.cache != null ? proposals.cache : out.resolve("proposals-ss"),
                    org.frcnn4j.proposals.SelectiveSearch.of(org.frcnn4j.proposals.SelectiveSearch.Mode.FAST),
                    FasterRcnn.SELECTIVE_SEARCH_BOXES) : null;
            if (cache != null) {
                trainer.withPrecomputedProposals(cache);
            }
            try (FasterRcnn trained = Interruption.run(trainer, manager, resume, out, w)) {
                LossCurve.write(out.resolve("log.csv"), out.resolve("loss.png"));
            }
            work = trainer.work();
        }
        if (work.iterations() > 0) {
            // the rate to set beside this machine's ceiling (frcnn doctor measures it): issue #15, know the limit
            ConvGuard.Flops f = work.flops();
            w.printf(java.util.Locale.ROOT, "convolutions: %.1f GFLOP per iteration (%.1f forward, %.1f gradients), "
                    + "%.0f GFLOP/s over %d iterations%n", f.total() / 1e9 / work.iterations(),
                    f.forward() / 1e9 / work.iterations(), f.backward() / 1e9 / work.iterations(),
                    f.total() / 1e9 / work.seconds(), work.iterations());
        }
        w.printf(java.util.Locale.ROOT, "model: %s%nloss curve: %s%n", out.resolve("model"), out.resolve("loss.png"));
        return 0;
    }

    private static final com.fasterxml.jackson.core.type.TypeReference<java.util.List<String>> STRINGS =
            new com.fasterxml.jackson.core.type.TypeReference<>() {};

    private static String text(JsonNode o, String field) {
        return o.hasNonNull(field) ? o.get(field).asText() : null;
    }

    /** The run folder's saved settings, or null when it has none (a fresh folder, or a run from before run.json). */
    private JsonNode savedRun() {
        Path f = out.resolve(Trainer.RUN_FILE);
        if (!java.nio.file.Files.isRegularFile(f)) {
            return null;
        }
        try {
            return JSON.readTree(f.toFile());
        } catch (java.io.IOException e) {
            throw new BadInputException(f + ": unreadable run settings: " + e.getMessage(), e);
        }
    }

    /** The architecture flags (--backbone, --width-scale, --min-size, --max-size) applied to {@code model}. */
    private FasterRcnnConfig architecture(FasterRcnnConfig model) {
        if (backbone != null) {
            BackboneConfig b = model.backbone();
            Architecture arch = backbone == BackboneName.zf ? Architecture.ZF
                    : Architecture.VGG16;
            int rpn = arch == Architecture.ZF ? 256 : 512;
            model = model.with(new BackboneConfig(arch, b.widthScale(), arch == Architecture.ZF
                    || b.ceilMode(), b.groupNorm()));
            RpnConfig r = model.rpn();
            model = model.with(new RpnConfig(r.objectness(), (int) Math.round(rpn * b.widthScale()), r.order(),
                    r.preNmsTopNTest(), r.postNmsTopNTest(), r.preNmsTopNTrain(), r.postNmsTopNTrain(), r.nmsThreshold(), r.minSize()));
        }
        if (widthScale != null) {
            BackboneConfig b = model.backbone();
            model = model.with(new BackboneConfig(b.architecture(), widthScale, b.ceilMode(), b.groupNorm()));
        }
        if (minSize != null || maxSize != null) {
            TransformConfig t = model.transform();
            model = model.with(t.withSizes(minSize != null ? minSize : t.minSize(), maxSize != null ? maxSize : t.maxSize()));
        }
        return model;
    }

    /** Flags whose values no training could use: refused before anything is read or written. */
    private void checkRanges() {
        if (lr != null) {
            org.frcnn4j.io.Ranges.positive("--lr", lr);
        }
        if (widthScale != null) {
            org.frcnn4j.io.Ranges.positive("--width-scale", widthScale);
        }
        if (minSize != null && minSize < 1 || maxSize != null && maxSize < 1
                || minSize != null && maxSize != null && maxSize < minSize) {
            throw new BadInputException("--min-size and --max-size must satisfy 0 < min <= max, not " + minSize + " and "
                    + maxSize);
        }
        if (checkpointEvery != null) {
            org.frcnn4j.io.Ranges.atLeast("--checkpoint-every", checkpointEvery, 1);
        }
        if (validateEvery != null) {
            org.frcnn4j.io.Ranges.atLeast("--validate-every", validateEvery, 1);
        }
    }

    private static boolean isPreset(String id) {
        return java.util.Arrays.stream(Presets.values()).anyMatch(v -> v.id().equals(id));
    }

    TrainConfig configure(TrainConfig c) {
        if (iterations != null) {
            org.frcnn4j.io.Ranges.atLeast("--iterations", iterations, 1);
            c = c.withIterations(iterations);
        }
        if (schedule == ScheduleName.alternating) {
            int n = c.iterations()[0];
            c = c.withSchedule(TrainConfig.Schedule.ALTERNATING, Math.max(1, n / 3), Math.max(1, n / 6),
                    Math.max(1, n / 3), Math.max(1, n - 2 * (n / 3) - n / 6));
        }
        if (lr != null) {
            TrainConfig.Solver s = c.solver();
            c = c.withSolver(new TrainConfig.Solver(lr, s.momentum(), s.weightDecay(), s.biasLrFactor(), s.decay(),
                    s.steps(), s.gamma(), s.warmupIterations(), s.warmupFactor(), s.clipGradNorm()));
        }
        if (imagesPerIteration != null) {
            org.frcnn4j.io.Ranges.atLeast("--images-per-iteration", imagesPerIteration, 1);
            c = c.withImagesPerIteration(imagesPerIteration);
        }
        if (roisPerImage != null) {
            org.frcnn4j.io.Ranges.atLeast("--rois-per-image", roisPerImage, 1);
            c = c.withTraining(c.rpn(), c.head().withSampling(roisPerImage, c.head().positiveFraction()));
        }
        if (trainScales != null) {
            c = c.withTrainScales(trainScales.isBlank() || trainScales.equals("none") ? new int[0]
                    : java.util.Arrays.stream(trainScales.split(",")).map(String::trim).mapToInt(v -> {
                        try {
                            return Integer.parseInt(v);
                        } catch (NumberFormatException e) {
                            throw new BadInputException("--train-scales: '" + v + "' is not a size in pixels");
                        }
                    }).toArray());
        }
        if (seed != null) {
            c = c.withSeed(seed);
        }
        int every = checkpointEvery != null ? checkpointEvery : c.checkpointEvery();
        int validate = validateEvery != null && validateEvery > 0 ? validateEvery : c.totalIterations();
        return c.withIntervals(every, validate);
    }
}
