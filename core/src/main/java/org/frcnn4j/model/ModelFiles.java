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
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Function;
import java.util.function.Predicate;
import org.frcnn4j.nn.Parameters;

/**
 * A model on disk is a folder: {@code config.json} (the {@link FasterRcnnConfig} record) and
 * {@code weights.safetensors} (every parameter by its torchvision-style name). Both files are written to a temporary
 * name and renamed into place, so a crash never leaves a half-written model; saving then loading gives bit-identical
 * weights and so identical outputs.
 */
public final class ModelFiles {
    public static final String CONFIG = "config.json";
    public static final String WEIGHTS = "weights.safetensors";

    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(SerializationFeature.INDENT_OUTPUT)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    private ModelFiles() {}

    /** A model folder that cannot be used; the message names the file and the problem. */
    public static final class ModelException extends RuntimeException {
        public ModelException(Path file, String problem) {
            super(file + ": " + problem);
        }

        public ModelException(Path file, String problem, Throwable cause) {
            super(file + ": " + problem, cause);
        }
    }

    public static void save(FasterRcnn model, Path dir) throws IOException {
        Files.createDirectories(dir);
        writeAtomically(dir.resolve(WEIGHTS), out -> model.parameters().toList().encode(out, NDList.Encoding.SAFETENSORS));
        writeAtomically(dir.resolve(CONFIG), out -> JSON.writeValue(out, model.config()));
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
        if (!Files.isDirectory(dir)) {
            throw new ModelException(dir, "no such model folder");
        }
        FasterRcnnConfig config = adjust.apply(readConfig(dir.resolve(CONFIG)));
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
        return assemble(config, weights, manager, source, 0, name -> false, "this model's configuration");
    }

    /** Decodes a model folder's weights (named arrays, alive only during {@code use}) and hands them to {@code use}. */
    private static FasterRcnn withWeights(Path dir, NDManager manager, Function<Map<String, NDArray>, FasterRcnn> use) {
        Path weights = dir.resolve(WEIGHTS);
        if (!Files.isRegularFile(weights)) {
            throw new ModelException(weights, "missing weights file");
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
    private static FasterRcnn assemble(FasterRcnnConfig config, Map<String, NDArray> weights, NDManager manager,
                                       Path source, long seed, Predicate<String> redrawn, String target) {
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
        String problem = !missing.isEmpty() ? describe("missing weight", missing)
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

    public static FasterRcnnConfig readConfig(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new ModelException(file, "missing model configuration");
        }
        try {
            FasterRcnnConfig c = JSON.readValue(file.toFile(), FasterRcnnConfig.class);
            if (c.transform() == null || c.backbone() == null || c.anchors() == null || c.rpn() == null
                    || c.roi() == null || c.head() == null) {
                throw new ModelException(file, "incomplete model configuration");
            }
            return c;
        } catch (JsonProcessingException e) {
            throw new ModelException(file, "malformed configuration: " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new ModelException(file, "cannot read: " + e.getMessage(), e);
        }
    }

    public static String toJson(FasterRcnnConfig config) {
        try {
            return JSON.writeValueAsString(config);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    interface Writer {
        void write(OutputStream out) throws IOException;
    }

    /** Writes to a temporary file beside {@code target}, then renames it over the target. */
    static void writeAtomically(Path target, Writer writer) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, "." + target.getFileName(), ".tmp");
        try {
            try (OutputStream out = Files.newOutputStream(tmp)) {
                writer.write(out);
            }
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}
