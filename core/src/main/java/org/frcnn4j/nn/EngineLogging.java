package org.frcnn4j.nn;

import com.sun.jna.NativeLibrary;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * libtorch's own log level. Python's torch reads {@code TORCH_CPP_LOG_LEVEL} when it starts; libtorch loaded through
 * JNI never does, so every convolution it runs without oneDNN on a CPU without NNPACK support (a 1x1 convolution on
 * one thread, as {@link ConvCheck} runs them) prints "Could not initialize NNPACK! Reason: Unsupported hardware."
 * Applied once, after the engine is loaded: {@code TORCH_CPP_LOG_LEVEL} when it is set, else errors only.
 */
public final class EngineLogging {
    private static final Logger LOG = LoggerFactory.getLogger(EngineLogging.class);
    /** c10's levels: 0 info, 1 warning, 2 error, 3 fatal. */
    private static final int ERROR = 2;
    private static volatile boolean applied;

    private EngineLogging() {
    }

    /** Sets libtorch's log level (idempotent; a failure only logs, the engine's default stays). */
    public static synchronized void apply() {
        if (applied) {
            return;
        }
        applied = true;
        ai.djl.engine.Engine.getInstance();
        Optional<Path> c10 = loadedLibrary("libc10.so");
        if (c10.isEmpty()) {
            LOG.debug("libc10.so is not mapped: libtorch's log level left as it is");
            return;
        }
        try {
            NativeLibrary lib = NativeLibrary.getInstance(c10.get().toString());
            if (System.getenv("TORCH_CPP_LOG_LEVEL") != null) {
                // c10::initLogging() reads TORCH_CPP_LOG_LEVEL as Python's torch does at import
                lib.getFunction("_ZN3c1011initLoggingEv").invokeVoid(new Object[0]);
            } else {
                lib.getGlobalVariableAddress("FLAGS_caffe2_log_level").setInt(0, ERROR);
            }
        } catch (UnsatisfiedLinkError | RuntimeException e) {
            LOG.debug("could not set libtorch's log level: {}", e.toString());
        }
    }

    /** The file of a shared library this process has mapped, from /proc/self/maps (Linux). */
    static Optional<Path> loadedLibrary(String name) {
        try {
            return Files.readAllLines(Path.of("/proc/self/maps")).stream()
                    .map(line -> line.substring(line.lastIndexOf(' ') + 1))
                    .filter(p -> p.endsWith("/" + name))
                    .findFirst().map(Path::of);
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }
}
