package org.frcnn4j.io;

import java.nio.file.FileSystemException;

/**
 * An output path that cannot take a file, known before anything is written: it names a folder or a device, runs
 * through a file, or lies where this process may not write. The user's path, then, not the machine's trouble (a full
 * disk while writing stays a plain I/O error); the command line exits with code 2, as for other bad input.
 */
public final class UnusableOutputException extends FileSystemException {
    public UnusableOutputException(String file, String reason) {
        super(file, null, reason);
    }
}
