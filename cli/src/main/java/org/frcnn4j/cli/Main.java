package org.frcnn4j.cli;

import java.io.PrintWriter;
import org.frcnn4j.io.BadInputException;
import org.frcnn4j.nn.ConvGuard;
import org.frcnn4j.train.Trainer;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code frcnn} command line. */
@Command(name = "frcnn", mixinStandardHelpOptions = true, version = "frcnn4j 0.1.0",
        description = "Faster R-CNN object detection for Java: train, detect, propose, evaluate, import torchvision's models, serve.",
        subcommands = {DemoCommand.class, DoctorCommand.class, DetectCommand.class, ProposeCommand.class, EvalCommand.class, DataCommand.class,
            BenchCommand.class, TrainCommand.class, ProposalsEvalCommand.class, ExperimentCommand.class,
            ImportTorchvisionCommand.class, ServeCommand.class, SoakCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    /** Exit code for bad input (a file, an option): the message names what is wrong. */
    public static final int BAD_INPUT = 2;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @CommandLine.Option(names = "--verbose", scope = CommandLine.ScopeType.INHERIT,
            description = "on errors, print the stack trace too")
    boolean verbose;

    @CommandLine.Option(names = "--max-image-megapixels", scope = CommandLine.ScopeType.INHERIT, paramLabel = "MP",
            description = "refuse images whose header claims more pixels than this, before decoding them (default: 100)")
    void maxImageMegapixels(double megapixels) {
        if (!(megapixels > 0)) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--max-image-megapixels must be a positive number, not "
                    + megapixels);
        }
        org.frcnn4j.data.Images.setMaxPixels(Math.round(megapixels * 1e6));
    }

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    public static void main(String[] args) {
        // numbers in tables, CSV and JSON look the same on every machine ("0.5097", never "0,5097")
        java.util.Locale.setDefault(java.util.Locale.ROOT);
        Interruption.install();
        System.exit(execute(args));
    }

    /** Runs the command line in-process and returns its exit code (tests use this). */
    public static int execute(String... args) {
        return newCommandLine().execute(args);
    }

    public static CommandLine newCommandLine() {
        CommandLine cli = new CommandLine(new Main());
        cli.setParameterExceptionHandler((ex, args) -> {
            PrintWriter err = ex.getCommandLine().getErr();
            // one line, as every other refusal: the usage is a --help away
            err.println("frcnn: error: " + ex.getMessage() + " (see '"
                    + ex.getCommandLine().getCommandSpec().qualifiedName() + " --help')");
            return BAD_INPUT;
        });
        cli.setExecutionExceptionHandler((ex, commandLine, parseResult) -> report(ex, commandLine.getErr(),
                hasVerbose(parseResult)));
        return cli;
    }

    /** One line for the user, and the exit code: 2 bad input, 1 anything else. */
    static int report(Exception ex, PrintWriter err, boolean verbose) {
        if (ex instanceof Interruption.Stopped s) {
            return s.code();
        }
        Throwable cause = ex;
        if (verbose) {
            ex.printStackTrace(err);
        }
        if (cause instanceof BadInputException) {
            err.println("frcnn: error: " + cause.getMessage());
            return BAD_INPUT;
        }
        if (cause instanceof java.io.UncheckedIOException u) {
            cause = u.getCause();
        }
        if (cause instanceof java.io.IOException io) {
            err.println("frcnn: error: " + describe(io));
            // an output path that cannot take a file is the user's; a disk failing mid-write is not
            return io instanceof org.frcnn4j.io.UnusableOutputException ? BAD_INPUT : 1;
        }
        if (cause instanceof ConvGuard.EngineDefectException || cause instanceof Trainer.TrainingException) {
            err.println("frcnn: error: " + cause.getMessage());
            return 1;
        }
        String where = verbose ? "the stack trace is above" : "details in " + writeTrace(ex) + ", or run with --verbose";
        err.println("frcnn: internal error: " + ex + " (a defect of frcnn4j; " + where + ")");
        return 1;
    }

    /** An I/O failure in words: which file, and what the system said. */
    static String describe(java.io.IOException e) {
        if (e instanceof java.nio.file.FileSystemException f && f.getFile() != null) {
            return f.getFile() + ": " + org.frcnn4j.io.IoErrors.reason(e);
        }
        return org.frcnn4j.io.IoErrors.reason(e);
    }

    private static boolean hasVerbose(CommandLine.ParseResult r) {
        for (CommandLine.ParseResult p = r; p != null; p = p.subcommand()) {
            if (p.hasMatchedOption("--verbose")) {
                return true;
            }
        }
        return false;
    }

    /** Writes an internal error's stack trace to a file in the temporary folder and returns its path. */
    private static String writeTrace(Throwable t) {
        try {
            java.nio.file.Path f = java.nio.file.Files.createTempFile("frcnn-error-", ".log");
            java.io.StringWriter w = new java.io.StringWriter();
            t.printStackTrace(new PrintWriter(w));
            java.nio.file.Files.writeString(f, w.toString());
            return f.toString();
        } catch (java.io.IOException e) {
            return "(no file: " + e.getMessage() + ")";
        }
    }
}
