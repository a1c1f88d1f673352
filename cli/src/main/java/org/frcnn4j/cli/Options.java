package org.frcnn4j.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.frcnn4j.data.DatasetException;

/** Options and helpers shared by the commands that read a dataset. */
final class Options {
    private Options() {}

    /** {@code --split} and {@code --classes}, as a picocli mixin. */
    static final class DatasetSelection {
        @picocli.CommandLine.Option(names = "--split",
                description = "VOC: the image set ImageSets/Main/<split>.txt (default: every annotation file)")
        String split;

        @picocli.CommandLine.Option(names = "--classes", description = "file with the class names in label order, one a line")
        Path classes;

        /** Opens the dataset at {@code path} with these options. */
        org.frcnn4j.data.Dataset open(Path path) {
            return org.frcnn4j.data.Dataset.open(path, split, classNames(classes));
        }
    }

    /**
     * Training needs clean ground truth: any problem the readers found (an unknown class, an impossible box) is an
     * error naming its file.
     */
    static void requireClean(org.frcnn4j.data.Dataset d) {
        if (!d.problems().isEmpty()) {
            org.frcnn4j.data.Problem p = d.problems().get(0);
            throw new org.frcnn4j.data.DatasetException(p.file(), p.message()
                    + (d.problems().size() > 1 ? " (and " + (d.problems().size() - 1) + " more problems: see frcnn data check)" : ""));
        }
    }

    /** The class names of a --classes file (one a line), or null when none was given. */
    static List<String> classNames(Path file) {
        if (file == null) {
            return null;
        }
        if (!Files.isRegularFile(file)) {
            throw new DatasetException(file, "no such class list file");
        }
        try {
            return Files.readAllLines(file, StandardCharsets.UTF_8).stream().map(String::trim).filter(s -> !s.isEmpty()).toList();
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot read: " + e.getMessage(), e);
        }
    }
}
