package org.frcnn4j.data;

import java.nio.file.Path;

/** A file of a dataset that cannot be read; the message names the file and the problem on one line. */
public class DatasetException extends org.frcnn4j.io.BadInputException {
    private final transient Path file;
    private final String reason;

    public DatasetException(Path file, String reason) {
        this(file, reason, null);
    }

    public DatasetException(Path file, String reason, Throwable cause) {
        super(file + ": " + reason, cause);
        this.file = file;
        this.reason = reason;
    }

    public Path file() {
        return file;
    }

    /** The problem, without the file name. */
    public String reason() {
        return reason;
    }
}
