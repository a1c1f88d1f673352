package org.frcnn4j.cli;

import java.io.PrintWriter;
import org.frcnn4j.data.DatasetException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code frcnn} command line. */
@Command(name = "frcnn", mixinStandardHelpOptions = true, version = "frcnn4j 0.1.0",
        description = "Faster R-CNN object detection for Java: datasets, metrics, (soon) training and detection.",
        subcommands = {DemoCommand.class, DoctorCommand.class, DetectCommand.class, ProposeCommand.class, EvalCommand.class, DataCommand.class,
            BenchCommand.class, TrainCommand.class, ProposalsEvalCommand.class, ExperimentCommand.class,
            ImportTorchvisionCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    /** Exit code for bad input (a file, an option): the message names what is wrong. */
    public static final int BAD_INPUT = 2;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    public static void main(String[] args) {
        System.exit(execute(args));
    }

    /** Runs the command line in-process and returns its exit code (tests use this). */
    public static int execute(String... args) {
        return newCommandLine().execute(args);
    }

    public static CommandLine newCommandLine() {
        CommandLine cli = new CommandLine(new Main());
        cli.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            PrintWriter err = commandLine.getErr();
            if (ex instanceof DatasetException || ex instanceof IllegalArgumentException
                    || ex instanceof org.frcnn4j.model.ModelFiles.ModelException
                    || ex instanceof org.frcnn4j.train.Trainer.TrainingException
                    || ex instanceof java.io.UncheckedIOException) {
                err.println("frcnn: error: " + ex.getMessage());
                return BAD_INPUT;
            }
            err.println("frcnn: error: " + ex);
            return 1;
        });
        return cli;
    }
}
