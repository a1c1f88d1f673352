package org.frcnn4j.io;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Comparator;
import java.util.List;
import java.util.UUID;
import java.util.stream.Stream;

/**
 * The one way this project writes files: whole or not at all. A file is written to a temporary name beside its
 * target, forced to disk and renamed over the target (rename within a folder is atomic on POSIX file systems), so a
 * crash or a kill at any moment leaves either the old file or the new one, never a part of one.
 *
 * <p>A folder (a model: configuration and weights that must match) is replaced as a whole by {@link #replaceFolder}:
 * written completely under a hidden name, marked ready by a rename, then swapped in by two renames. A crash between
 * those two leaves the ready folder, which {@link #recoverFolder} (called by every reader of such folders) renames
 * into place; a folder never shows a new configuration beside old weights.
 */
public final class AtomicFiles {
    private AtomicFiles() {}

    /** Writes the content of a file to an output stream. */
    @FunctionalInterface
    public interface Writer {
        void write(OutputStream out) throws IOException;
    }

    /** Fills a new, empty folder. */
    @FunctionalInterface
    public interface FolderWriter {
        void write(Path folder) throws IOException;
    }

    public static void write(Path target, byte[] bytes) throws IOException {
        write(target, out -> out.write(bytes));
    }

    public static void write(Path target, String text) throws IOException {
        write(target, text.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }

    /**
     * Writes {@code target} through {@code writer}, atomically. A symbolic link is followed (the file it names is
     * replaced, the link kept); a target that exists and is not a regular file (a folder, a device such as /dev/null, a
     * pipe) is refused, since renaming over it would replace it. The new file gets the old one's permissions, or the
     * process's default (the umask's) for a new file. Errors name {@code target}, not the temporary file.
     */
    public static void write(Path target, Writer writer) throws IOException {
        Path real = usable(target);
        Path tmp = createTemporary(target, real);
        try {
            try (OutputStream out = Files.newOutputStream(tmp, StandardOpenOption.WRITE)) {
                writer.write(out);
            }
            force(tmp);
            move(tmp, real);
        } catch (FileSystemException e) {
            throw new FileSystemException(target.toString(), null, "cannot be written (" + IoErrors.reason(e) + ")");
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /**
     * Checks, before a long job, that {@link #write} could write {@code target}: the same refusals, and a temporary file
     * created and removed beside it (so a folder that may not be written is found too). Missing folders on its path are
     * created, as {@code write} would.
     */
    public static void checkWritable(Path target) throws IOException {
        Files.delete(createTemporary(target, usable(target)));
    }

    /** The file a write of {@code target} replaces: itself, or the file its symbolic link names. */
    private static Path usable(Path target) throws IOException {
        Path real = target;
        if (Files.isSymbolicLink(target)) {
            try {
                real = target.toRealPath();
            } catch (IOException e) {
                throw new UnusableOutputException(target.toString(), "a symbolic link to nothing (" + IoErrors.reason(e) + ")");
            }
        }
        if (Files.exists(real) && !Files.isRegularFile(real)) {
            throw new UnusableOutputException(target.toString(), Files.isDirectory(real) ? "is a folder, not a file"
                    : "is not a regular file (a device, pipe or socket); refusing to replace it");
        }
        return real;
    }

    /** A new empty file beside {@code real}, with its permissions (or the umask's), to be renamed over it. */
    private static Path createTemporary(Path target, Path real) throws IOException {
        Path dir = real.toAbsolutePath().getParent();
        Path tmp = dir.resolve("." + real.getFileName() + "." + UUID.randomUUID().toString().substring(0, 8) + ".tmp");
        try {
            Files.createDirectories(dir);
            Files.createFile(tmp);
            copyPermissions(real, tmp);
        } catch (FileAlreadyExistsException e) {
            // from createDirectories: a part of the folder's path is a file
            throw new UnusableOutputException(target.toString(), "cannot be written (" + e.getFile()
                    + " is a file, not a folder)");
        } catch (IOException e) {
            Files.deleteIfExists(tmp);
            throw new UnusableOutputException(target.toString(), "cannot be written (" + IoErrors.reason(e) + ")");
        }
        return tmp;
    }

    /** The existing file's permissions onto its replacement, where the file system has POSIX permissions. */
    private static void copyPermissions(Path from, Path to) throws IOException {
        if (Files.exists(from) && Files.getFileStore(to).supportsFileAttributeView(java.nio.file.attribute.PosixFileAttributeView.class)) {
            Files.setPosixFilePermissions(to, Files.getPosixFilePermissions(from));
        }
    }

    /**
     * Replaces the folder {@code target} with one that {@code writer} fills, as a whole: readers see the old folder or
     * the new one (or, after a crash between the two renames, nothing until {@link #recoverFolder} runs).
     */
    public static void replaceFolder(Path target, FolderWriter writer) throws IOException {
        Path abs = target.toAbsolutePath();
        Path dir = abs.getParent();
        Files.createDirectories(dir);
        String name = abs.getFileName().toString();
        String id = UUID.randomUUID().toString().substring(0, 8);
        Path writing = dir.resolve("." + name + ".writing-" + id);
        Path ready = dir.resolve("." + name + ".ready-" + id);
        Path old = dir.resolve("." + name + ".old-" + id);
        Files.createDirectory(writing);
        try {
            writer.write(writing);
            try (Stream<Path> s = Files.list(writing)) {
                for (Path f : s.toList()) {
                    if (Files.isRegularFile(f)) {
                        force(f);
                    }
                }
            }
            Files.move(writing, ready, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException | RuntimeException e) {
            deleteTree(writing);
            throw e;
        }
        if (Files.exists(abs)) {
            Files.move(abs, old, StandardCopyOption.ATOMIC_MOVE);
        }
        Files.move(ready, abs, StandardCopyOption.ATOMIC_MOVE);
        deleteTree(old);
        cleanUp(abs);
    }

    /**
     * Completes a folder replacement that a crash interrupted: when {@code target} is missing and a ready copy of it
     * exists, that copy becomes {@code target}; leftovers of interrupted writes are removed.
     */
    public static void recoverFolder(Path target) throws IOException {
        Path abs = target.toAbsolutePath();
        Path dir = abs.getParent();
        if (dir == null || !Files.isDirectory(dir)) {
            return;
        }
        if (!Files.exists(abs)) {
            List<Path> ready = siblings(abs, ".ready-");
            if (!ready.isEmpty()) {
                Files.move(ready.get(ready.size() - 1), abs, StandardCopyOption.ATOMIC_MOVE);
            }
        }
        if (Files.exists(abs)) {
            cleanUp(abs);
        }
    }

    /** Removes hidden leftovers of earlier writes of {@code target} (only once {@code target} itself is in place). */
    private static void cleanUp(Path abs) throws IOException {
        for (String kind : List.of(".writing-", ".ready-", ".old-")) {
            for (Path p : siblings(abs, kind)) {
                deleteTree(p);
            }
        }
    }

    private static List<Path> siblings(Path abs, String kind) throws IOException {
        String prefix = "." + abs.getFileName() + kind;
        try (Stream<Path> s = Files.list(abs.getParent())) {
            return s.filter(p -> p.getFileName().toString().startsWith(prefix)).sorted().toList();
        }
    }

    /** Deletes a file or a folder with everything in it; nothing when it does not exist. */
    public static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> s = Files.walk(p)) {
            for (Path q : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(q);
            }
        }
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException | FileAlreadyExistsException e) {
            // file systems without atomic replacement (some network mounts): still never a partial target
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    private static void force(Path file) throws IOException {
        try (FileChannel c = FileChannel.open(file, StandardOpenOption.WRITE)) {
            c.force(true);
        }
    }
}
