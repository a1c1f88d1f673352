package org.frcnn4j.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Files and folders are replaced whole or not at all, whatever stops the writer. */
class AtomicFilesTest {
    @Test
    void aWriterThatFailsLeavesTheOldFileAndNoLeftovers(@TempDir Path tmp) throws IOException {
        Path f = tmp.resolve("dets.json");
        AtomicFiles.write(f, "[1, 2, 3]");
        assertThatThrownBy(() -> AtomicFiles.write(f, out -> {
            out.write("[4, 5".getBytes());
            throw new IOException("disk full");
        })).hasMessage("disk full");
        assertThat(f).hasContent("[1, 2, 3]");
        assertThat(list(tmp)).containsExactly("dets.json");
    }

    @Test
    void specialFilesAndFoldersAreRefusedAndLinksAreFollowed(@TempDir Path tmp) throws Exception {
        // renaming over a pipe (or /dev/null) would replace it with a plain file
        Path fifo = tmp.resolve("fifo");
        assertThat(new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor()).isZero();
        assertThatThrownBy(() -> AtomicFiles.write(fifo, "[]"))
                .hasMessage(fifo + ": is not a regular file (a device, pipe or socket); refusing to replace it");
        assertThat(Files.isRegularFile(fifo)).isFalse();
        Path dir = Files.createDirectory(tmp.resolve("dets"));
        assertThatThrownBy(() -> AtomicFiles.write(dir, "[]")).hasMessage(dir + ": is a folder, not a file");
        // a link's file is replaced, the link kept
        Path real = tmp.resolve("real.json");
        Files.writeString(real, "old");
        Path link = Files.createSymbolicLink(tmp.resolve("link.json"), real);
        AtomicFiles.write(link, "new");
        assertThat(Files.isSymbolicLink(link)).isTrue();
        assertThat(real).hasContent("new");
        assertThat(list(tmp)).containsExactlyInAnyOrder("fifo", "dets", "real.json", "link.json");
    }

    @Test
    void aReplacedFileKeepsItsPermissionsAndErrorsNameTheTarget(@TempDir Path tmp) throws IOException {
        Path f = tmp.resolve("dets.json");
        Files.writeString(f, "old");
        java.util.Set<java.nio.file.attribute.PosixFilePermission> mode =
                java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--");
        Files.setPosixFilePermissions(f, mode);
        AtomicFiles.write(f, "new");
        assertThat(Files.getPosixFilePermissions(f)).isEqualTo(mode);
        // a new file gets the umask's permissions (readable by others under the usual 022), not a temporary file's 0600
        Path g = tmp.resolve("new.json");
        AtomicFiles.write(g, "x");
        Path plain = Files.createFile(tmp.resolve("plain"));
        assertThat(Files.getPosixFilePermissions(g)).isEqualTo(Files.getPosixFilePermissions(plain));
        Files.delete(plain);
        // a folder that cannot be made: the message names the user's path, not the hidden temporary file
        Path blocked = tmp.resolve("file-not-folder");
        Files.writeString(blocked, "");
        assertThatThrownBy(() -> AtomicFiles.write(blocked.resolve("dets.json"), "[]"))
                .hasMessageStartingWith(blocked.resolve("dets.json") + ": cannot be written (");
    }

    @Test
    void aFolderIsReplacedAsAWhole(@TempDir Path tmp) throws IOException {
        Path model = tmp.resolve("model");
        AtomicFiles.replaceFolder(model, d -> {
            Files.writeString(d.resolve("config.json"), "old config");
            Files.writeString(d.resolve("weights.safetensors"), "old weights");
        });
        assertThatThrownBy(() -> AtomicFiles.replaceFolder(model, d -> {
            Files.writeString(d.resolve("config.json"), "new config");
            throw new IOException("killed before the weights");
        })).hasMessage("killed before the weights");
        // the half-written new folder never shows: the old one is whole
        assertThat(model.resolve("config.json")).hasContent("old config");
        assertThat(model.resolve("weights.safetensors")).hasContent("old weights");
        assertThat(list(tmp)).containsExactly("model");
        AtomicFiles.replaceFolder(model, d -> {
            Files.writeString(d.resolve("config.json"), "new config");
            Files.writeString(d.resolve("weights.safetensors"), "new weights");
        });
        assertThat(model.resolve("config.json")).hasContent("new config");
        assertThat(model.resolve("weights.safetensors")).hasContent("new weights");
        assertThat(list(tmp)).containsExactly("model");
    }

    @Test
    void aReplacementCutBetweenItsTwoRenamesIsCompletedByTheNextReader(@TempDir Path tmp) throws IOException {
        // the state a kill leaves after "model -> .model.old-X" and before ".model.ready-X -> model"
        Path model = tmp.resolve("model");
        Path old = Files.createDirectories(tmp.resolve(".model.old-1234abcd"));
        Files.writeString(old.resolve("config.json"), "old");
        Path ready = Files.createDirectories(tmp.resolve(".model.ready-1234abcd"));
        Files.writeString(ready.resolve("config.json"), "new");
        Path writing = Files.createDirectories(tmp.resolve(".model.writing-99999999"));
        Files.writeString(writing.resolve("config.json"), "half");
        AtomicFiles.recoverFolder(model);
        assertThat(model.resolve("config.json")).hasContent("new");
        assertThat(list(tmp)).containsExactly("model");
        // nothing to recover: nothing changes
        AtomicFiles.recoverFolder(model);
        assertThat(model.resolve("config.json")).hasContent("new");
    }

    private static java.util.List<String> list(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }
}
