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

    /** --proposals and --proposal-cache, as a picocli mixin. */
    static final class ProposalChoice {
        @picocli.CommandLine.Option(names = "--proposals", defaultValue = "rpn",
                description = "rpn (the model's RPN) or ss (Selective Search, fast mode, 2000 per image: Fast R-CNN's "
                        + "pipeline) (default: ${DEFAULT-VALUE})")
        String proposals;

        @picocli.CommandLine.Option(names = "--proposal-cache",
                description = "folder of precomputed Selective Search proposals (computed and stored when missing)")
        Path cache;

        /** Whether Selective Search replaces the RPN; an unknown value is an error. */
        boolean selectiveSearch() {
            return switch (proposals) {
                case "rpn" -> false;
                case "ss" -> true;
                default -> throw new IllegalArgumentException("--proposals must be rpn or ss, got '" + proposals + "'");
            };
        }

        /** The cache to use with --proposals ss, or null for the RPN. */
        org.frcnn4j.proposals.ProposalCache cache(Path defaultDir) {
            if (!selectiveSearch()) {
                return null;
            }
            return new org.frcnn4j.proposals.ProposalCache(cache != null ? cache : defaultDir,
                    org.frcnn4j.proposals.SelectiveSearch.of(org.frcnn4j.proposals.SelectiveSearch.Mode.FAST), 2000);
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
