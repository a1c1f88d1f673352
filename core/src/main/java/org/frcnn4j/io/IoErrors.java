package org.frcnn4j.io;

import java.io.IOException;
import java.nio.file.FileSystemException;

/** I/O failures in the words the user reads: what went wrong, apart from which file (the caller names that). */
public final class IoErrors {
    private IoErrors() {}

    /** The cause of {@code e} in words, without the file name an exception of java.nio carries. */
    public static String reason(IOException e) {
        if (e instanceof java.nio.charset.CharacterCodingException) {
            return "not UTF-8 text"; // the JDK says 'Input length = 1'
        }
        if (e instanceof java.nio.file.AccessDeniedException) {
            return "permission denied";
        }
        if (e instanceof java.nio.file.NoSuchFileException) {
            return "no such file or folder";
        }
        if (e instanceof java.nio.file.NotDirectoryException) {
            return "is a file, not a folder";
        }
        if (e instanceof java.nio.file.FileAlreadyExistsException) {
            return "already exists";
        }
        if (e instanceof FileSystemException f) {
            return f.getReason() != null ? f.getReason() : "file system error";
        }
        return e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
    }

    /** A JSON parser's complaint in one line: "malformed JSON at line N: what" (the line where the parser knows it). */
    public static String malformedJson(com.fasterxml.jackson.core.JsonProcessingException e) {
        String at = e.getLocation() == null ? "" : " at line " + e.getLocation().getLineNr();
        return "malformed JSON" + at + ": " + String.valueOf(e.getOriginalMessage()).replaceAll("\\s+", " ");
    }
}
