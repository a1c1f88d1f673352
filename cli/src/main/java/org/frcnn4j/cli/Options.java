package org.frcnn4j.cli;

import org.frcnn4j.io.BadInputException;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;

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
     * Measuring against ground truth with problems goes on without the broken objects or images, and says so: one
     * warning with the first problem (all of them: frcnn data check).
     */
    static void warnAboutProblems(org.frcnn4j.data.Dataset truth, PrintWriter err) {
        if (!truth.problems().isEmpty()) {
            err.println("frcnn: warning: the ground truth has " + truth.problems().size() + " problem"
                    + (truth.problems().size() == 1 ? "" : "s") + ", whose objects or images are left out (the first: "
                    + truth.problems().get(0) + "); see frcnn data check");
            err.flush();
        }
    }

    /**
     * Training needs clean ground truth and readable images: every problem of the dataset (the readers', and each
     * image opened and decoded) is listed, the first 20 of them, and the command stops before training starts.
     */
    static void requireClean(org.frcnn4j.data.Dataset d, String what, PrintWriter err) {
        org.frcnn4j.data.DatasetCheck c = org.frcnn4j.data.DatasetCheck.run(d, true);
        if (!c.ok()) {
            c.describe(20).forEach(err::println);
            err.flush();
            throw new BadInputException("the " + what + " has " + c.problems().size() + " problem"
                    + (c.problems().size() == 1 ? "" : "s") + " (listed above; all of them: frcnn data check)");
        }
    }

    /** The rounding an imported model can run in, as the command line spells it. */
    enum ArithmeticName {
        torchvision, fast;

        org.frcnn4j.model.FasterRcnnConfig.Arithmetic value() {
            return this == fast ? org.frcnn4j.model.FasterRcnnConfig.Arithmetic.FAST
                    : org.frcnn4j.model.FasterRcnnConfig.Arithmetic.TORCHVISION;
        }
    }

    /**
     * {@code --precision fp32|bf16} and {@code --arithmetic torchvision|fast}, as a picocli mixin (detect, propose, eval,
     * bench, serve).
     */
    static final class InferencePrecision {
        @picocli.CommandLine.Option(names = "--arithmetic", paramLabel = "torchvision|fast",
                description = "for this run, instead of the model folder's: torchvision (an imported model's float32 "
                        + "values as torchvision computes them) or fast (batch norm folded, Winograd's 3x3 route "
                        + "where it pays; the same results within float rounding) (default: the folder's)")
        ArithmeticName arithmetic;

        /** The model folder's configuration with this run's arithmetic, if one was given. */
        org.frcnn4j.model.FasterRcnnConfig adjust(org.frcnn4j.model.FasterRcnnConfig c) {
            return arithmetic == null ? c : c.with(arithmetic.value());
        }

        /** The model folder, loaded with this run's arithmetic and set to compute in its precision. */
        org.frcnn4j.model.Detector load(Path model) {
            return load(model, c -> c);
        }

        /** As {@link #load(Path)}, the configuration adjusted first. */
        org.frcnn4j.model.Detector load(Path model,
                                        java.util.function.UnaryOperator<org.frcnn4j.model.FasterRcnnConfig> adjust) {
            return apply(org.frcnn4j.model.Detector.load(model, c -> adjust(adjust.apply(c))));
        }

        @picocli.CommandLine.Option(names = "--precision", defaultValue = "fp32", paramLabel = "fp32|bf16",
                converter = PrecisionConverter.class,
                description = "arithmetic of the convolutions and fully connected layers: fp32, or bf16 (bfloat16 "
                        + "inputs, float32 sums; about twice as fast on CPUs with AVX512_BF16 or AMX, refused on others; "
                        + "default: ${DEFAULT-VALUE})")
        org.frcnn4j.nn.Precision precision = org.frcnn4j.nn.Precision.FP32;

        /** The detector, set to compute in this precision (one line and exit 2 where the CPU cannot). */
        org.frcnn4j.model.Detector apply(org.frcnn4j.model.Detector d) {
            try {
                return d.withPrecision(precision);
            } catch (RuntimeException e) {
                d.close();
                throw e;
            }
        }

        /** Refuses a precision this CPU lacks before anything is loaded. */
        org.frcnn4j.nn.Precision checked() {
            return precision.requireAvailable();
        }
    }

    static final class PrecisionConverter implements picocli.CommandLine.ITypeConverter<org.frcnn4j.nn.Precision> {
        @Override
        public org.frcnn4j.nn.Precision convert(String value) {
            try {
                return org.frcnn4j.nn.Precision.parse(value);
            } catch (IllegalArgumentException e) {
                throw new picocli.CommandLine.TypeConversionException(e.getMessage());
            }
        }
    }

    /** --proposals and --proposal-cache, as a picocli mixin. */
    static final class ProposalChoice {
        @picocli.CommandLine.Option(names = "--proposals",
                description = "rpn (the model's RPN) or ss (Selective Search, fast mode, 2000 per image: Fast R-CNN's "
                        + "pipeline) (default: what the model was trained on; rpn for training)")
        String proposals;

        @picocli.CommandLine.Option(names = "--proposal-cache",
                description = "folder of precomputed Selective Search proposals (computed and stored when missing)")
        Path cache;

        /** Whether Selective Search replaces the RPN for a model of {@code model} (null: a model to be trained). */
        boolean selectiveSearch(org.frcnn4j.model.FasterRcnnConfig model) {
            boolean trainedOnSs = model != null && model.proposals() == org.frcnn4j.model.FasterRcnnConfig.Proposals.SELECTIVE_SEARCH;
            if (proposals == null) {
                return trainedOnSs;
            }
            return switch (proposals) {
                case "rpn" -> {
                    if (trainedOnSs) {
                        throw new BadInputException("this model was trained on Selective Search proposals, so its RPN "
                                + "never learnt: leave out --proposals rpn");
                    }
                    yield false;
                }
                case "ss" -> true;
                default -> throw new BadInputException("--proposals must be rpn or ss, got '" + proposals + "'");
            };
        }

        /** The cache to use with Selective Search proposals, or null for the RPN. */
        org.frcnn4j.proposals.ProposalCache cache(Path defaultDir, org.frcnn4j.model.FasterRcnnConfig model) {
            if (!selectiveSearch(model)) {
                return null;
            }
            return new org.frcnn4j.proposals.ProposalCache(cache != null ? cache : defaultDir,
                    org.frcnn4j.proposals.SelectiveSearch.of(org.frcnn4j.proposals.SelectiveSearch.Mode.FAST),
                    org.frcnn4j.model.FasterRcnn.SELECTIVE_SEARCH_BOXES);
        }
    }

    /** The class names of a --classes file (one a line), or null when none was given. */
    static List<String> classNames(Path file) {
        return file == null ? null : org.frcnn4j.data.ClassList.readNames(file);
    }
}
