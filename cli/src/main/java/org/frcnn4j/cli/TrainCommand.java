package org.frcnn4j.cli;

import ai.djl.ndarray.NDManager;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import org.frcnn4j.data.Dataset;
import org.frcnn4j.model.FasterRcnn;
import org.frcnn4j.model.FasterRcnnConfig;
import org.frcnn4j.model.ModelFiles;
import org.frcnn4j.model.Presets;
import org.frcnn4j.train.TrainConfig;
import org.frcnn4j.train.TrainPresets;
import org.frcnn4j.train.Trainer;
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

    @Option(names = "--data", required = true, description = "VOCdevkit folder or COCO instances JSON")
    Path data;

    @Option(names = "--train-split", description = "VOC image set to train on (default: every annotation)")
    String trainSplit;

    @Option(names = "--val-split", description = "VOC image set for validation mAP at intervals")
    String valSplit;

    @Option(names = "--classes", description = "file with the class names in label order, one a line")
    Path classes;

    @Option(names = "--preset", description = "paper-zf, paper-vgg16, torchvision, small, tiny (default: small, or the --init model's)")
    String preset;

    @Option(names = "--init", paramLabel = "MODEL_DIR", description = "start from this model folder's weights (e.g. an "
            + "imported torchvision model) instead of random ones; its architecture is kept, and its class-score and "
            + "box layers start fresh when the dataset has other classes")
    Path init;

    @Option(names = "--schedule", defaultValue = "joint", description = "joint (approximate joint) or alternating (4-step)")
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

    @Option(names = "--checkpoint-every", description = "iterations between checkpoints (default: the preset's)")
    Integer checkpointEvery;

    @Option(names = "--validate-every", defaultValue = "0", description = "iterations between validation runs (0: at the end only)")
    int validateEvery;

    @Option(names = "--out", defaultValue = "runs/train", description = "run folder (default: ${DEFAULT-VALUE})")
    Path out;

    @CommandLine.Mixin
    Options.ProposalChoice proposals;

    @Option(names = "--resume", description = "continue from the run folder's last checkpoint")
    boolean resume;

    @Option(names = "--seed", defaultValue = "0", description = "seed of initialisation, order, flips and sampling")
    long seed;

    @Override
    public Integer call() throws Exception {
        FasterRcnnConfig initial = null;
        if (init != null) {
            if (backbone != null || widthScale != null) {
                throw new IllegalArgumentException("--init keeps the architecture of " + init + ": leave out --backbone and --width-scale");
            }
            if (resume) {
                throw new IllegalArgumentException("--init starts a new run; --resume continues one: give one of them");
            }
            if (!java.nio.file.Files.isDirectory(init)) {
                throw new ModelFiles.ModelException(init, "no such model folder");
            }
            initial = ModelFiles.readConfig(init.resolve(ModelFiles.CONFIG));
        }
        Presets p = Presets.byId(preset != null ? preset : initial != null && isPreset(initial.preset()) ? initial.preset() : "small");
        Dataset train = Dataset.open(data, trainSplit, Options.classNames(classes));
        Options.requireClean(train);
        Dataset val = valSplit == null ? null : Dataset.open(data, valSplit, train.classes().names());
        FasterRcnnConfig model = initial != null ? initial.withClasses(train.classes().names()) : p.config(train.classes().names());
        if (backbone != null) {
            FasterRcnnConfig.BackboneConfig b = model.backbone();
            FasterRcnnConfig.Architecture arch = backbone == BackboneName.zf ? FasterRcnnConfig.Architecture.ZF
                    : FasterRcnnConfig.Architecture.VGG16;
            int rpn = arch == FasterRcnnConfig.Architecture.ZF ? 256 : 512;
            model = model.with(new FasterRcnnConfig.BackboneConfig(arch, b.widthScale(), arch == FasterRcnnConfig.Architecture.ZF
                    || b.ceilMode(), b.groupNorm()));
            FasterRcnnConfig.RpnConfig r = model.rpn();
            model = model.with(new FasterRcnnConfig.RpnConfig(r.objectness(), (int) Math.round(rpn * b.widthScale()), r.order(),
                    r.preNmsTopNTest(), r.postNmsTopNTest(), r.preNmsTopNTrain(), r.postNmsTopNTrain(), r.nmsThreshold(), r.minSize()));
        }
        if (widthScale != null) {
            FasterRcnnConfig.BackboneConfig b = model.backbone();
            model = model.with(new FasterRcnnConfig.BackboneConfig(b.architecture(), widthScale, b.ceilMode(), b.groupNorm()));
        }
        if (minSize != null || maxSize != null) {
            FasterRcnnConfig.TransformConfig t = model.transform();
            model = model.with(t.withSizes(minSize != null ? minSize : t.minSize(), maxSize != null ? maxSize : t.maxSize()));
        }
        TrainConfig config = configure(TrainPresets.of(p));
        PrintWriter w = spec.commandLine().getOut();
        w.printf("training %s (%s) on %d images of %s, %d iterations -> %s%n", p.id(), config.schedule(),
                train.images().size(), data, config.totalIterations(), out);
        w.flush();
        try (NDManager manager = NDManager.newBaseManager();
             ProgressBar bar = new ProgressBarBuilder().setTaskName("train").setInitialMax(config.totalIterations())
                     .setStyle(ProgressBarStyle.ASCII).setConsumer(new me.tongfei.progressbar.ConsoleProgressBarConsumer(System.err))
                     .build()) {
            Trainer.Listener listener = new Trainer.Listener() {
                @Override
                public void iteration(Trainer.IterationLog log) {
                    bar.stepTo(log.iteration());
                    bar.setExtraMessage(String.format(" step %d loss %.3f lr %.2g", log.step(), log.loss(), log.learningRate()));
                }

                @Override
                public void validation(int iteration, double mAP) {
                    w.printf("%nvalidation at %d: VOC07 mAP %.4f%n", iteration, mAP);
                    w.flush();
                }

                @Override
                public void message(String text) {
                    w.println(text);
                    w.flush();
                }
            };
            Trainer trainer = new Trainer(model, config, train, val, out, listener);
            if (init != null) {
                trainer.withInitialWeights(init);
            }
            org.frcnn4j.proposals.ProposalCache cache = proposals.cache(out.resolve("proposals-ss"));
            if (cache != null) {
                trainer.withPrecomputedProposals(cache);
            }
            try (FasterRcnn trained = trainer.run(manager, resume)) {
                LossCurve.write(out.resolve("log.csv"), out.resolve("loss.png"));
            }
        }
        w.printf("model: %s%nloss curve: %s%n", out.resolve("model"), out.resolve("loss.png"));
        return 0;
    }

    private static boolean isPreset(String id) {
        return java.util.Arrays.stream(Presets.values()).anyMatch(v -> v.id().equals(id));
    }

    TrainConfig configure(TrainConfig c) {
        if (iterations != null) {
            if (iterations <= 0) {
                throw new IllegalArgumentException("--iterations must be positive, got " + iterations);
            }
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
            c = c.withImagesPerIteration(imagesPerIteration);
        }
        if (trainScales != null) {
            c = c.withTrainScales(trainScales.isBlank() || trainScales.equals("none") ? new int[0]
                    : java.util.Arrays.stream(trainScales.split(",")).map(String::trim).mapToInt(v -> {
                        try {
                            return Integer.parseInt(v);
                        } catch (NumberFormatException e) {
                            throw new IllegalArgumentException("--train-scales: '" + v + "' is not a size in pixels");
                        }
                    }).toArray());
        }
        int every = checkpointEvery != null ? checkpointEvery : c.checkpointEvery();
        return c.withSeed(seed).withIntervals(every, validateEvery > 0 ? validateEvery : c.totalIterations());
    }
}
