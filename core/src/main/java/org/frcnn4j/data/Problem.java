package org.frcnn4j.data;

import java.nio.file.Path;

/** Something wrong with one file of a dataset: shown to the user as one line, {@code FILE: message}. */
public record Problem(Path file, String message) {
    @Override
    public String toString() {
        return file + ": " + message;
    }
}
