package org.frcnn4j.train;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * For benchmarks, {@code -Dfrcnn.stepGate=PATH}: before each iteration, wait for one line on PATH, a named pipe a
 * controller writes. {@code bench/train} lets torchvision's process and this one take turns, iteration by iteration,
 * both warm: the shared machine's speed drifts by tens of percent within minutes, and turns of whole runs left one
 * side the fast minutes and the other the slow ones. Without the property there is no gate.
 */
final class StepGate implements AutoCloseable {
    private final Path path;
    private BufferedReader in;

    private StepGate(Path path) {
        this.path = path;
    }

    static StepGate fromProperty() {
        String p = System.getProperty("frcnn.stepGate");
        return new StepGate(p == null || p.isEmpty() ? null : Path.of(p));
    }

    /** Returns at once without a gate, else when the controller says go (opening the pipe waits for its writer). */
    void await() throws IOException {
        if (path == null) {
            return;
        }
        if (in == null) {
            in = Files.newBufferedReader(path, StandardCharsets.UTF_8);
        }
        if (in.readLine() == null) {
            throw new IOException(path + ": the step gate's writer closed it before this iteration");
        }
    }

    @Override
    public void close() throws IOException {
        if (in != null) {
            in.close();
        }
    }
}
