package org.frcnn4j.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.frcnn4j.anchor.AnchorConfig;
import org.frcnn4j.anchor.AnchorGenerator;
import org.frcnn4j.data.Dataset;
import org.frcnn4j.model.FasterRcnnConfig;
import org.frcnn4j.model.Presets;
import org.frcnn4j.train.ExperimentRunner;
import org.frcnn4j.train.TrainConfig;
import org.frcnn4j.train.TrainPresets;
import org.frcnn4j.train.Trainer;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code frcnn experiment}: the paper's ablations, one training run per setting, as a table. */
@Command(name = "experiment", mixinStandardHelpOptions = true,
        description = "Rerun the paper's ablations on your data: anchors (Table 8), lambda (Table 9), schedules "
                + "(alternating vs joint). Settings run one after another, each in OUT/<setting>, resumable; the table "
                + "goes to OUT/summary.md and summary.json.",
        subcommands = {ExperimentCommand.Anchors.class, ExperimentCommand.Lambda.class, ExperimentCommand.Schedules.class})
final class ExperimentCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** The options every experiment takes. */
    static class Common {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Option(names = "--data", required = true, description = "VOCdevkit folder")
        Path data;

        @Option(names = "--train-split", required = true)
        String trainSplit;

        @Option(names = "--test-split", required = true)
        String testSplit;

        @Option(names = "--preset", defaultValue = "small", description = "model preset (default: ${DEFAULT-VALUE})")
        String preset;

        @Option(names = "--iterations", required = true, description = "iterations per setting (small for a smoke run)")
        int iterations;

        @Option(names = "--seed", defaultValue = "0")
        long seed;

        @Option(names = "--out", description = "experiment folder (default: runs/experiment-<name>)")
        Path out;

        List<ExperimentRunner.Setting> settings(Presets p, List<String> classes) {
            throw new UnsupportedOperationException();
        }

        String name() {
            return spec.name();
        }

        int execute() throws Exception {
            org.frcnn4j.io.Ranges.atLeast("--iterations", iterations, 1);
            Presets p = Presets.byId(preset);
            Dataset train = Dataset.open(data, trainSplit, null);
            Options.requireClean(train, "training set", spec.commandLine().getErr());
            Dataset test = Dataset.open(data, testSplit, train.classes().names());
            Path dir = out != null ? out : Path.of("runs", "experiment-" + name());
            PrintWriter w = spec.commandLine().getOut();
            Trainer.Listener listener = new Trainer.Listener() {
                @Override
                public void iteration(Trainer.IterationLog log) {
                    if (log.iteration() % 100 == 0) {
                        w.printf(java.util.Locale.ROOT, "    iteration %d/%d loss %.3f%n", log.iteration(), log.totalIterations(), log.loss());
                        w.flush();
                    }
                }

                @Override
                public void message(String text) {
                    w.println("  " + text);
                    w.flush();
                }
            };
            ExperimentRunner runner = new ExperimentRunner(dir, train, test, listener);
            List<ExperimentRunner.Result> results = Interruption.run(runner::requestStop,
                    () -> runner.run(settings(p, train.classes().names())), w,
                    "the same frcnn experiment command again (finished settings are kept)");
            w.println();
            w.print(ExperimentRunner.markdown(results));
            w.printf(java.util.Locale.ROOT, "%ntable: %s%n", dir.resolve("summary.md").toAbsolutePath());
            return 0;
        }

        TrainConfig trainConfig(Presets p) {
            return TrainPresets.of(p).withIterations(iterations).withSeed(seed)
                    .withIntervals(Math.max(1, iterations / 4), 0);
        }
    }

    @Command(name = "anchors", mixinStandardHelpOptions = true,
            description = "The six anchor settings of the paper's Table 8.")
    static final class Anchors extends Common implements Callable<Integer> {
        @Override
        List<ExperimentRunner.Setting> settings(Presets p, List<String> classes) {
            FasterRcnnConfig base = p.config(classes);
            double[] three = {0.5, 1, 2};
            double[] one = {1};
            Object[][] rows = {
                {"1scale-1ratio-128", new double[] {128}, one},
                {"1scale-1ratio-256", new double[] {256}, one},
                {"1scale-3ratios-128", new double[] {128}, three},
                {"1scale-3ratios-256", new double[] {256}, three},
                {"3scales-1ratio", new double[] {128, 256, 512}, one},
                {"3scales-3ratios", new double[] {128, 256, 512}, three},
            };
            List<ExperimentRunner.Setting> out = new ArrayList<>();
            AnchorGenerator.Style style = base.anchors().style();
            for (Object[] r : rows) {
                FasterRcnnConfig c = base.with(new AnchorConfig(style, base.anchors().stride(),
                        (double[]) r[1], (double[]) r[2]));
                out.add(new ExperimentRunner.Setting((String) r[0], c, trainConfig(p)));
            }
            return out;
        }

        @Override
        public Integer call() throws Exception {
            return execute();
        }
    }

    @Command(name = "lambda", mixinStandardHelpOptions = true,
            description = "lambda in 0.1, 1, 3, 10, 100 (the paper's Table 9), with the paper's normalisation "
                    + "(N_cls = sampled anchors, N_reg = anchor locations).")
    static final class Lambda extends Common implements Callable<Integer> {
        @Override
        List<ExperimentRunner.Setting> settings(Presets p, List<String> classes) {
            List<ExperimentRunner.Setting> out = new ArrayList<>();
            for (float lambda : new float[] {0.1f, 1f, 3f, 10f, 100f}) {
                TrainConfig t = trainConfig(p);
                t = t.withTraining(t.rpn().withLoss(org.frcnn4j.rpn.RpnTraining.Normalization.PAPER, lambda, t.rpn().beta()),
                        t.head());
                out.add(new ExperimentRunner.Setting("lambda-" + lambda, p.config(classes), t));
            }
            return out;
        }

        @Override
        public Integer call() throws Exception {
            return execute();
        }
    }

    @Command(name = "schedules", mixinStandardHelpOptions = true,
            description = "4-step alternating training vs approximate joint training, same total iterations.")
    static final class Schedules extends Common implements Callable<Integer> {
        @Override
        List<ExperimentRunner.Setting> settings(Presets p, List<String> classes) {
            TrainConfig joint = trainConfig(p);
            int n = iterations;
            TrainConfig alternating = joint.withSchedule(TrainConfig.Schedule.ALTERNATING, Math.max(1, n / 3),
                    Math.max(1, n / 6), Math.max(1, n / 3), Math.max(1, n - 2 * (n / 3) - n / 6));
            return List.of(new ExperimentRunner.Setting("alternating", p.config(classes), alternating),
                    new ExperimentRunner.Setting("joint", p.config(classes), joint));
        }

        @Override
        public Integer call() throws Exception {
            return execute();
        }
    }
}
