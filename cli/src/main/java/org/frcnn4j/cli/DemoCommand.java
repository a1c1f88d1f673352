package org.frcnn4j.cli;

import org.frcnn4j.io.BadInputException;

import org.frcnn4j.io.AtomicFiles;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.frcnn4j.data.Dataset;
import org.frcnn4j.data.Detection;
import org.frcnn4j.eval.VocEvaluator;
import org.frcnn4j.model.DatasetDetection;
import org.frcnn4j.model.FasterRcnn;
import org.frcnn4j.model.Presets;
import org.frcnn4j.train.TrainConfig;
import org.frcnn4j.train.TrainPresets;
import org.frcnn4j.train.Trainer;
import org.frcnn4j.viz.LossCurve;
import org.frcnn4j.viz.Report;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code frcnn demo}: the main job on the bundled data. Trains the CPU-sized preset from scratch on raccoon's 160
 * training images, evaluates VOC07 mAP on its 40 test images, and writes a report folder.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Train the 'small' preset on the bundled raccoon train split (about 10 minutes on 2 quiet cores with AVX-512, twice that with AVX2 only or when the hypervisor takes half the machine), "
                + "evaluate VOC07 mAP on the 40 test images, and write a report folder (index.html, loss.png, "
                + "metrics.json, model/).")
final class DemoCommand implements Callable<Integer> {
    /**
     * The demo's length. Until 2026-12-03 the demo trained ZF at 3/4 width with 256 RoIs per image for 2,800 iterations
     * (0.46-0.57 s each on 2 quiet AVX-512 cores: 22-33 minutes; VOC07 mAP 0.768-0.836 over builds; 1,400 iterations
     * of it reached 0.748). Measured that day on the Intel Xeon with AMX (seeds 0 and 1, one thread each): at 1/2 width
     * 2,800 iterations gave 0.788 and 0.779, and with 128 RoIs per image too 2,000 iterations gave 0.751 and 0.793,
     * each iteration 0.58-0.64x the time of the 3/4-width one side by side. So the `small` preset became that, and the
     * demo 2,000 iterations: 0.45 s each at 2-5% steal (validation included), about 15 minutes. With training's 3x3
     * max pools by the channels-last kernel, inputs made in the data threads and the iteration's two images on two
     * threads, the demo took 10 min 59 s from a fresh clone at 0.4% steal (0.33 s per iteration, validation
     * included), reaching VOC07 mAP 0.762; with the input resize made torchvision's to the last bit (and in Java), 9 min
     * 41 s at 0% steal (0.26 s per iteration), VOC07 mAP 0.765.
     */
    static final int ITERATIONS = 2000;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--out", defaultValue = "runs/demo", description = "report folder (default: ${DEFAULT-VALUE})")
    Path out;

    @Option(names = "--datasets", description = "the bundled datasets folder (default: ./datasets or beside bin/frcnn)")
    Path datasets;

    @Option(names = "--iterations", defaultValue = "" + ITERATIONS, description = "training iterations (default: ${DEFAULT-VALUE})")
    int iterations;

    @Option(names = "--precision", defaultValue = "fp32", paramLabel = "fp32|bf16", converter = Options.PrecisionConverter.class,
            description = "arithmetic of the training's convolutions and their gradients: fp32, or bf16 (faster on CPUs "
                    + "with AVX512_BF16 or AMX, refused on others; default: ${DEFAULT-VALUE})")
    org.frcnn4j.nn.Precision precision = org.frcnn4j.nn.Precision.FP32;

    @Option(names = "--resume", description = "continue an interrupted demo from its last checkpoint")
    boolean resume;

    @Override
    public Integer call() throws IOException {
        precision.requireAvailable(); // one line and exit 2 before anything is read or written
        org.frcnn4j.io.Ranges.atLeast("--iterations", iterations, 1);
        PrintWriter w = spec.commandLine().getOut();
        Path root = (datasets != null ? datasets : findDatasets()).resolve("raccoon");
        Dataset train = Dataset.open(root, "train", null);
        Dataset test = Dataset.open(root, "test", null);
        Options.requireClean(train, "training set", spec.commandLine().getErr());
        // the test mAP every tenth of the run, for the report's curve beside the losses (40 images ten times: about 5% of the time)
        TrainConfig config = TrainPresets.of(Presets.SMALL).withIterations(iterations)
                .withIntervals(Math.max(1, iterations / 5), iterations >= 100 ? iterations / 10 : iterations);
        w.printf(java.util.Locale.ROOT, "demo: training the 'small' preset on %d raccoon images for %d iterations (report: %s)%n",
                train.images().size(), iterations, out.toAbsolutePath());
        w.flush();
        long t0 = System.nanoTime();
        try (NDManager manager = NDManager.newBaseManager()) {
            Trainer.Listener progress = new Trainer.Listener() {
                @Override
                public void iteration(Trainer.IterationLog log) {
                    if (log.iteration() % 50 == 0 || log.iteration() == log.totalIterations()) {
                        double elapsed = (System.nanoTime() - t0) / 1e9;
                        w.printf(java.util.Locale.ROOT, "  iteration %d/%d  loss %.3f  lr %.4f  %.0f s%n", log.iteration(), log.totalIterations(),
                                log.loss(), log.learningRate(), elapsed);
                        w.flush();
                    }
                }

                @Override
                public void validation(int iteration, double mAP) {
                    w.printf(java.util.Locale.ROOT, "  test VOC07 mAP at iteration %d: %.4f%n", iteration, mAP);
                    w.flush();
                }

                @Override
                public void message(String text) {
                    w.println("  " + text);
                    w.flush();
                }
            };
            // a new demo replaces the last one in its folder; --resume continues it
            Trainer trainer = new Trainer(Presets.SMALL.config(train.classes().names()), config, train, test, out, progress)
                    .replacing(!resume).withPrecision(precision);
            try (FasterRcnn model = Interruption.run(trainer::requestStop, () -> trainer.run(manager, resume), w,
                    "frcnn demo --resume" + (out.equals(Path.of("runs/demo")) ? "" : " --out " + out))) {
                double trainSeconds = (System.nanoTime() - t0) / 1e9;
                List<Detection> dets = DatasetDetection.detectAll(model, test, null);
                VocEvaluator.Result voc07 = VocEvaluator.evaluate(test, dets, VocEvaluator.Options.voc07());
                VocEvaluator.Result area = VocEvaluator.evaluate(test, dets, VocEvaluator.Options.voc());
                LossCurve.write(out.resolve("log.csv"), out.resolve("loss.png"));
                ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
                ObjectNode m = mapper.createObjectNode();
                m.put("mAP", voc07.mAP()).put("metric", "voc07").put("voc_area_mAP", area.mAP())
                        .put("test_images", test.images().size()).put("train_images", train.images().size())
                        .put("iterations", iterations).put("preset", "small").put("precision", precision.toString())
                        .put("train_seconds", Math.round(trainSeconds)).put("total_seconds", Math.round((System.nanoTime() - t0) / 1e9));
                AtomicFiles.write(out.resolve("metrics.json"), mapper.writeValueAsBytes(m));
                Path html = Report.write(out, model, test, dets, voc07.mAP(), area.mAP(), "loss.png");
                w.printf(java.util.Locale.ROOT, "VOC07 mAP on the %d raccoon test images: %.4f (area AP %.4f)%n", test.images().size(), voc07.mAP(), area.mAP());
                w.printf(java.util.Locale.ROOT, "report: %s%n", html.toAbsolutePath());
            }
        }
        return 0;
    }

    static Path findDatasets() {
        Path here = Path.of("datasets");
        if (Files.isDirectory(here.resolve("raccoon"))) {
            return here;
        }
        String home = System.getProperty("frcnn.home");
        if (home != null && Files.isDirectory(Path.of(home, "datasets"))) {
            return Path.of(home, "datasets");
        }
        throw new BadInputException("datasets/: not found here; pass --datasets DIR");
    }
}
