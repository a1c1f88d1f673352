package org.frcnn4j.io;

/**
 * Something a user gave cannot be used: a file, a folder, an option's value. The message says what and, where there is
 * one, names the file; programs show it as one line (the command line exits with code 2). Everything else that goes
 * wrong is this project's fault or the machine's, and is reported as such.
 */
public class BadInputException extends RuntimeException {
    public BadInputException(String message) {
        super(message);
    }

    public BadInputException(String message, Throwable cause) {
        super(message, cause);
    }

    /**
     * {@code value}, or this exception when it is null: the check of a public method's argument, before a null can
     * reach code that would fail on it without saying which argument it was ("Detector.detect: image is null").
     */
    public static <T> T requireGiven(T value, String method, String argument) {
        if (value == null) {
            throw new BadInputException(method + ": " + argument + " is null");
        }
        return value;
    }
}
