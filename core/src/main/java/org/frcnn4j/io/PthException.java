package org.frcnn4j.io;

import java.nio.file.Path;

/**
 * A PyTorch {@code .pth} file cannot be read: missing, damaged, cut short, not written by {@code torch.save}, or asking
 * for something a tensor state dict never needs (a pickle global outside the allowed few). The message is one line,
 * {@code FILE: problem}, because callers show it as is.
 */
public final class PthException extends BadInputException {
    private final transient Path file;

    public PthException(Path file, String problem) {
        super(oneLine(file + ": " + problem));
        this.file = file;
    }

    public PthException(Path file, String problem, Throwable cause) {
        super(oneLine(file + ": " + problem), cause);
        this.file = file;
    }

    /** The file that could not be read. */
    public Path file() {
        return file;
    }

    /** Names and messages can come from the file itself (a hostile global's name), so no line breaks get through. */
    private static String oneLine(String message) {
        return message.replaceAll("[\\p{Cntrl}\\u2028\\u2029]+", " ").strip();
    }
}
