package org.frcnn4j.cli;

import ai.djl.ndarray.NDManager;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import org.frcnn4j.model.FasterRcnn;
import org.frcnn4j.train.Trainer;
import sun.misc.Signal;

/**
 * Ctrl-C and SIGTERM without a crash. The JVM's own handling starts its shutdown while the main thread is inside
 * libtorch, whose memory the engine's shutdown hook frees under it: a SIGSEGV in oneDNN and an hs_err file. Here the
 * signal instead asks the running work to stop at a safe point (training: after the iteration under way, with a
 * checkpoint of it), and the command exits with 130 (INT) or 143 (TERM). Work that has no safe point, or a second
 * signal, ends the process at once without shutdown hooks ({@link Runtime#halt}), which is safe: every file this
 * project writes is replaced atomically, so nothing is left half-written.
 */
final class Interruption {
    private static volatile Runnable stopper;
    private static volatile String stopping = "stopping after the iteration under way (a checkpoint follows)";
    private static volatile int signalled;

    private Interruption() {}

    /** Installs the handlers (once per process, from {@link Main#main}). */
    static void install() {
        for (String name : new String[] {"INT", "TERM"}) {
            try {
                Signal.handle(new Signal(name), Interruption::onSignal);
            } catch (IllegalArgumentException e) {
                // a signal this platform or JVM (-Xrs) keeps for itself: its default handling stays
            }
        }
    }

    private static void onSignal(Signal s) {
        int code = 128 + s.getNumber();
        Runnable stop = stopper;
        if (signalled != 0 || stop == null) {
            System.err.println();
            System.err.println("frcnn: stopped (" + s.getName() + ")");
            System.err.flush();
            Runtime.getRuntime().halt(code);
        }
        signalled = code;
        System.err.println();
        System.err.println("frcnn: " + stopping + "; again to stop at once");
        System.err.flush();
        stop.run();
    }

    /**
     * Until the process ends, a signal runs {@code stop} (in the signal's thread) after saying {@code message}: a
     * server's graceful stop.
     */
    static void onSignal(Runnable stop, String message) {
        stopping = message;
        stopper = stop;
    }

    /** The exit code of the signal received (130, 143), or 0. */
    static int signalled() {
        return signalled;
    }

    /** Work that may stop on request. */
    @FunctionalInterface
    interface Work<T> {
        T run() throws IOException;
    }

    /**
     * Runs a training with signals stopping it cleanly; on such a stop, says where the run stands and how to resume,
     * and ends the command with the signal's exit code.
     */
    static FasterRcnn run(Trainer trainer, NDManager manager, boolean resume, Path runDir, PrintWriter out) throws IOException {
        return run(trainer::requestStop, () -> trainer.run(manager, resume), out, "frcnn train --resume --out " + runDir);
    }

    /**
     * Runs {@code work}, which a signal stops through {@code stop} at its next safe point.
     *
     * @param resumeCommand how the user continues afterwards
     */
    static <T> T run(Runnable stop, Work<T> work, PrintWriter out, String resumeCommand) throws IOException {
        stopper = stop;
        try {
            return work.run();
        } catch (Trainer.StoppedException e) {
            out.printf(java.util.Locale.ROOT, "stopped after iteration %d, of which a checkpoint was written%n"
                    + "continue with: %s%n", e.iteration(), resumeCommand);
            out.flush();
            throw new Stopped(signalled == 0 ? 130 : signalled);
        } finally {
            stopper = null;
        }
    }

    /** A command stopped by a signal at a safe point; {@link Main} exits with {@link #code()}. */
    static final class Stopped extends RuntimeException {
        private final int code;

        Stopped(int code) {
            super("stopped by a signal");
            this.code = code;
        }

        int code() {
            return code;
        }
    }
}
