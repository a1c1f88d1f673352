package org.frcnn4j.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.Predicate;
import org.frcnn4j.io.AtomicFiles;
import org.frcnn4j.io.BadInputException;
import org.frcnn4j.nn.Parameters;

/**
 * A model on disk is a folder: {@code config.json} (the {@link FasterRcnnConfig} record) and
 * {@code weights.safetensors} (every parameter by its torchvision-style name). The folder is replaced as a whole
 * ({@link AtomicFiles#replaceFolder}), so a crash never leaves a half-written model or a configuration beside another
 * model's weights; saving then loading gives bit-identical weights and so identical outputs.
 */
public final class ModelFiles {
    public static final String CONFIG = "config.json";
    public static final String WEIGHTS = "weights.safetensors";

    // numbers and flags a configuration leaves out take their defaults (0, false): folders written before a field
    // existed (the RPN's convDepth and scoreThreshold, the head's convLayers) keep loading, and each record turns the
    // default into its old meaning; unknown fields are still refused
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(SerializationFeature.INDENT_OUTPUT)
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    private ModelFiles() {}

    /** A model folder that cannot be used; the message names the file and the problem. */
    public static final class ModelException extends org.frcnn4j.io.BadInputException {
        public ModelException(Path file, String problem) {
            super(file + ": " + problem);
        }

        public ModelException(Path file, String problem, Throwable cause) {
            super(file + ": " + problem, cause);
        }
    }

    /** Saves a model folder, replacing any folder there as a whole ({@link AtomicFiles#replaceFolder}). */
    public static void save(FasterRcnn model, Path dir) throws IOException {
        refuseToReplace(dir);
        AtomicFiles.replaceFolder(dir, folder -> writeInto(model, folder));
    }

    /**
     * Saving replaces the folder as a whole, so it may only replace a model folder (its two files and nothing else) or
     * an empty one: given the user's own folder or a file by mistake ({@code --out .}), it refuses instead of deleting
     * what is there.
     */
    public static void refuseToReplace(Path dir) throws IOException {
        if (!Files.exists(dir, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        if (!Files.isDirectory(dir, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            throw new ModelException(dir, "exists and is not a folder; refusing to replace it with a model folder");
        }
        List<String> others;
        try (java.util.stream.Stream<Path> entries = Files.list(dir)) {
            others = entries.map(p -> p.getFileName().toString()).filter(n -> !n.equals(CONFIG) && !n.equals(WEIGHTS))
                    .sorted().toList();
        }
        if (!others.isEmpty()) {
            throw new ModelException(dir, "holds files that are not a model's (" + String.join(", ",
                    others.subList(0, Math.min(3, others.size()))) + (others.size() > 3 ? ", ..." : "")
                    + "); refusing to replace it: give a new or empty folder, or a model folder");
        }
    }

    /** Writes the model's two files into an empty folder that the caller makes visible atomically. */
    public static void writeInto(FasterRcnn model, Path folder) throws IOException {
        try (OutputStream out = new java.io.BufferedOutputStream(Files.newOutputStream(folder.resolve(WEIGHTS)))) {
            model.parameters().toList().encode(out, NDList.Encoding.SAFETENSORS);
        }
        try (OutputStream out = Files.newOutputStream(folder.resolve(CONFIG))) {
            JSON.writeValue(out, model.config());
        }
    }

    /** Loads a model folder. Weights must match the configuration exactly: no key missing, none left over. */
    public static FasterRcnn load(Path dir, NDManager manager) {
        return load(dir, manager, c -> c);
    }

    /**
     * Loads a model folder with its configuration adjusted first (settings that do not change the weights' shapes,
     * e.g. thresholds or input sizes).
     */
    public static FasterRcnn load(Path dir, NDManager manager, java.util.function.UnaryOperator<FasterRcnnConfig> adjust) {
        BadInputException.requireGiven(dir, "ModelFiles.load", "the model folder");
        BadInputException.requireGiven(adjust, "ModelFiles.load", "the configuration adjustment");
        recover(dir);
        if (!Files.isDirectory(dir)) {
            throw new ModelException(dir, Files.exists(dir) ? "is a file, not a model folder" : "no such model folder");
        }
        FasterRcnnConfig config = adjust.apply(readConfig(dir.resolve(CONFIG)));
        if (config == null) {
            throw new ModelException(dir, "the configuration adjustment gave null instead of a configuration");
        }
        return withWeights(dir, manager, arrays -> build(config, arrays, manager, dir.resolve(WEIGHTS)));
    }

    /**
     * A model of {@code config} that starts from the weights of the model folder {@code dir}: fine-tuning, or the
     * stand-in for the paper's ImageNet initialisation. The backbone, RPN and fc layers must match; when the class
     * count differs, the class-score and box-regression layers (torchvision's {@code box_predictor}) start fresh,
     * drawn with {@code seed}.
     */
    public static FasterRcnn initialise(Path dir, FasterRcnnConfig config, NDManager manager, long seed) {
        FasterRcnnConfig source = readConfig(dir.resolve(CONFIG));
        boolean samePredictor = source.numClassesWithBackground() == config.numClassesWithBackground();
        Predicate<String> redrawn = name -> !samePredictor && name.startsWith(PREDICTOR);
        return withWeights(dir, manager, arrays -> assemble(config, arrays, manager, dir.resolve(WEIGHTS), seed, redrawn,
                "the model to train, which must have the architecture of " + dir));
    }

    /** The per-class output layers, re-initialised when fine-tuning to another set of classes. */
    static final String PREDICTOR = "roi_heads.box_predictor.";

    /**
     * A model of the given configuration with the given weights, all of which it must use. The arrays are copied.
     *
     * @param source named in errors
     */
    public static FasterRcnn build(FasterRcnnConfig config, Map<String, NDArray> weights, NDManager manager, Path source) {
        return build(config, weights, manager, source, "this model's configuration");
    }

    /** As {@link #build(FasterRcnnConfig, Map, NDManager, Path)}; {@code target} names the architecture in errors. */
    static FasterRcnn build(FasterRcnnConfig config, Map<String, NDArray> weights, NDManager manager, Path source,
                            String target) {
        return assemble(config, weights, manager, source, 0, name -> false, target);
    }

    /** Decodes a model folder's weights (named arrays, alive only during {@code use}) and hands them to {@code use}. */
    private static FasterRcnn withWeights(Path dir, NDManager manager, Function<Map<String, NDArray>, FasterRcnn> use) {
        Path weights = dir.resolve(WEIGHTS);
        if (!Files.isRegularFile(weights)) {
            throw new ModelException(weights, Files.isDirectory(weights) ? "is a folder, not a weights file" : "missing weights file");
        }
        try (InputStream in = Files.newInputStream(weights); NDManager tmp = manager.newSubManager()) {
            return use.apply(named(NDList.decode(tmp, in), weights));
        } catch (IOException | RuntimeException e) {
            if (e instanceof ModelException m) {
                throw m;
            }
            throw new ModelException(weights, "cannot read weights: " + e.getMessage(), e);
        }
    }

    /**
     * A model of {@code config} from {@code weights}: every weight it needs must be there except those
     * {@code redrawn} (drawn afresh with {@code seed}, and ignored when present), and every other one must be used.
     *
     * @param target named in errors: what the weights were meant for
     */
    static FasterRcnn assemble(FasterRcnnConfig config, Map<String, NDArray> weights, NDManager manager,
                                       Path source, long seed, Predicate<String> redrawn, String target) {
        weights.forEach((name, value) -> {
            if (value.getDataType() != ai.djl.ndarray.types.DataType.FLOAT32) {
                throw new ModelException(source, "weight '" + name + "' is " + value.getDataType()
                        + ", not float32");
            }
            // a diverged run's NaN would only show as a model that detects nothing; the extremes are NaN or infinite
            // when any value is (two reductions, no copy of a 400 MB fc6)
            if (!redrawn.test(name) && value.size() > 0
                    && !(Float.isFinite(value.max().getFloat()) && Float.isFinite(value.min().getFloat()))) {
                throw new ModelException(source, "weight '" + name + "' holds NaN or infinite values");
            }
        });
        Parameters params = new Parameters(manager, seed);
        weights.forEach((name, value) -> {
            if (!redrawn.test(name)) {
                params.put(name, value);
            }
        });
        FasterRcnn model;
        try {
            model = new FasterRcnn(config, params);
        } catch (IllegalArgumentException e) {
            params.close();
            throw new ModelException(source, e.getMessage() + " (for " + target + ")", e);
        }
        java.util.SortedSet<String> missing = new java.util.TreeSet<>(params.initialised());
        missing.removeIf(redrawn);
        String problem = !missing.isEmpty() ? describe("missing weight", missing) + " (needed by " + target + ")"
                : !params.unused().isEmpty() ? describe("unexpected weight", params.unused()) + " (not part of " + target + ")"
                : null;
        if (problem != null) {
            model.close();
            throw new ModelException(source, problem);
        }
        return model;
    }

    private static String describe(String what, java.util.SortedSet<String> names) {
        return what + " '" + names.first() + "'" + (names.size() > 1 ? " (and " + (names.size() - 1) + " more)" : "");
    }

    static Map<String, NDArray> named(NDList list, Path source) {
        Map<String, NDArray> out = new LinkedHashMap<>();
        for (NDArray a : list) {
            String name = a.getName();
            if (name == null || name.isEmpty()) {
                throw new ModelException(source, "an array has no name");
            }
            if (name.endsWith(".npy")) {
                name = name.substring(0, name.length() - 4);
            }
            out.put(name, a);
        }
        return out;
    }

    /** Finishes a folder replacement that a crash interrupted (see {@link AtomicFiles#recoverFolder}). */
    static void recover(Path dir) {
        try {
            AtomicFiles.recoverFolder(dir);
        } catch (IOException e) {
            throw new ModelException(dir, "cannot complete an interrupted save: " + e.getMessage(), e);
        }
    }

    public static FasterRcnnConfig readConfig(Path file) {
        if (file.getParent() != null) {
            recover(file.getParent());
        }
        if (!Files.isRegularFile(file)) {
            throw new ModelException(file, Files.isDirectory(file) ? "is a folder, not a model configuration"
                    : "missing model configuration");
        }
        FasterRcnnConfig c;
        try {
            if (Files.size(file) == 0) {
                throw new ModelException(file, "empty file, not a model configuration");
            }
            c = JSON.readValue(file.toFile(), FasterRcnnConfig.class);
        } catch (com.fasterxml.jackson.core.JsonParseException e) {
            throw new ModelException(file, "malformed JSON" + at(e) + ": " + oneLine(e.getOriginalMessage()), e);
        } catch (com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException e) {
            throw new ModelException(file, "unknown field '" + e.getPropertyName() + "'" + at(e), e);
        } catch (com.fasterxml.jackson.databind.exc.InvalidFormatException e) {
            throw new ModelException(file, "field '" + path(e) + "' cannot be " + e.getValue() + at(e), e);
        } catch (com.fasterxml.jackson.databind.exc.ValueInstantiationException e) {
            // a section's own check (HeadConfig's ranges): its message, not Jackson's wrapping of it
            Throwable why = e.getCause() != null ? e.getCause() : e;
            throw new ModelException(file, oneLine(why.getMessage() != null ? why.getMessage() : e.getOriginalMessage())
                    + at(e), e);
        } catch (com.fasterxml.jackson.databind.JsonMappingException e) {
            if (e instanceof com.fasterxml.jackson.databind.exc.MismatchedInputException && e.getPath().isEmpty()) {
                // the document itself is of the wrong kind ([], "text", 3), not one of its fields
                throw new ModelException(file, "not a model configuration (a JSON object is expected)" + at(e), e);
            }
            if (e.getCause() instanceof com.fasterxml.jackson.core.JsonParseException p) {
                throw new ModelException(file, "malformed JSON" + at(p) + ": " + oneLine(p.getOriginalMessage()), e);
            }
            String field = path(e);
            throw new ModelException(file, (field.isEmpty() ? "" : "field '" + field + "': ")
                    + oneLine(e.getOriginalMessage()) + at(e), e);
        } catch (JsonProcessingException e) {
            throw new ModelException(file, "malformed JSON" + at(e) + ": " + oneLine(e.getOriginalMessage()), e);
        } catch (IOException e) {
            throw new ModelException(file, "cannot read: " + e.getMessage(), e);
        } catch (ModelException e) {
            throw e;
        } catch (org.frcnn4j.io.BadInputException e) {
            throw new ModelException(file, e.getMessage(), e);
        }
        if (c == null || c.transform() == null || c.backbone() == null || c.anchors() == null || c.rpn() == null
                || c.roi() == null || c.head() == null || c.backbone().architecture() == null) {
            throw new ModelException(file, "incomplete model configuration (transform, backbone, anchors, rpn, roi "
                    + "and head are all needed)");
        }
        if (java.util.Arrays.stream(Presets.values()).noneMatch(p -> p.id().equals(c.preset()))) {
            throw new ModelException(file, "unknown preset '" + c.preset() + "' (presets: "
                    + String.join(", ", java.util.Arrays.stream(Presets.values()).map(Presets::id).toList()) + ")");
        }
        if (c.head().numClasses() < 2 || (!c.classNames().isEmpty() && c.classNames().size() + 1 != c.head().numClasses())) {
            throw new ModelException(file, "head.numClasses is " + c.head().numClasses() + " but there are "
                    + c.classNames().size() + " class names (plus background)");
        }
        return c;
    }

    private static String path(com.fasterxml.jackson.databind.JsonMappingException e) {
        StringBuilder s = new StringBuilder();
        for (com.fasterxml.jackson.databind.JsonMappingException.Reference r : e.getPath()) {
            if (r.getFieldName() != null) {
                s.append(s.length() == 0 ? "" : ".").append(r.getFieldName());
            } else if (r.getIndex() >= 0) {
                s.append('[').append(r.getIndex()).append(']');
            }
        }
        return s.toString();
    }

    private static String at(JsonProcessingException e) {
        return e.getLocation() == null ? "" : " (line " + e.getLocation().getLineNr() + ")";
    }

    private static String oneLine(String s) {
        return s == null ? "" : s.replaceAll("\\s+", " ").trim();
    }

    public static String toJson(FasterRcnnConfig config) {
        try {
            return JSON.writeValueAsString(config);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
