package org.frcnn4j.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.frcnn4j.io.AtomicFiles;
import org.frcnn4j.model.FasterRcnn;
import org.frcnn4j.model.ModelFiles;

/**
 * Checkpoints of a run: {@code checkpoints/iter-NNNNNNN/} holds the model folder, {@code optimizer.safetensors} and,
 * in step 2 of alternating training, {@code proposer/} (the step-1 network that proposes regions). A checkpoint folder
 * is written completely ({@link AtomicFiles#replaceFolder}) before {@code checkpoints/latest.json} is atomically
 * replaced to name it, so a run killed mid-write always leaves the previous checkpoint loadable; older folders are
 * removed afterwards.
 */
public final class Checkpoints {
    static final String LATEST = "latest.json";
    /** A checkpoint folder's name: this and the iteration, 7 digits. */
    private static final String FOLDER = "iter-";
    static final String OPTIMIZER = "optimizer.safetensors";
    static final String PROPOSER = "proposer";

    private final Path dir;

    public Checkpoints(Path runDir) {
        this.dir = runDir.resolve("checkpoints");
    }

    /** What a checkpoint says about where the run stands. */
    public record State(int iteration, int step, Path folder) {}

    public void save(int iteration, int step, FasterRcnn model, Sgd sgd, FasterRcnn proposer) throws IOException {
        Files.createDirectories(dir);
        String name = String.format(java.util.Locale.ROOT, FOLDER + "%07d", iteration);
        AtomicFiles.replaceFolder(dir.resolve(name), folder -> {
            ModelFiles.writeInto(model, folder);
            try (OutputStream out = Files.newOutputStream(folder.resolve(OPTIMIZER))) {
                sgd.save(out);
            }
            if (proposer != null) {
                Files.createDirectory(folder.resolve(PROPOSER));
                ModelFiles.writeInto(proposer, folder.resolve(PROPOSER));
            }
        });
        AtomicFiles.write(dir.resolve(LATEST), new ObjectMapper().writeValueAsBytes(
                new ObjectMapper().createObjectNode().put("iteration", iteration).put("step", step).put("folder", name)));
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.toList()) {
                String n = p.getFileName().toString();
                if (!n.equals(name) && !n.equals(LATEST)) {
                    AtomicFiles.deleteTree(p); // older checkpoints and leftovers of interrupted writes
                }
            }
        }
    }

    /** The latest complete checkpoint, or null when there is none. */
    public State latest() throws IOException {
        Path latest = dir.resolve(LATEST);
        if (!Files.isRegularFile(latest)) {
            // save() writes the record after each checkpoint folder and keeps the older folder until then, so
            // checkpoints without a record mean it was removed: resuming from 0 would quietly throw the run away
            List<String> saved = checkpointFolders();
            if (!saved.isEmpty()) {
                throw new org.frcnn4j.io.BadInputException(latest + ": missing, though " + dir + " holds "
                        + String.join(", ", saved) + "; restore it, or start the run again with --force");
            }
            return null;
        }
        JsonNode j;
        try {
            j = new ObjectMapper().readTree(latest.toFile());
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new org.frcnn4j.io.BadInputException(latest + ": malformed JSON, not a checkpoint record", e);
        }
        // written by this class only, so anything else is damage: refuse it rather than resume from the wrong place
        int iteration = j != null && j.path("iteration").canConvertToInt() ? j.get("iteration").asInt() : -1;
        int step = j != null && j.path("step").canConvertToInt() ? j.get("step").asInt() : -1;
        String folder = j != null && j.path("folder").isTextual() ? j.get("folder").asText() : "";
        if (iteration < 0 || step < 0 || folder.isEmpty()) {
            throw new org.frcnn4j.io.BadInputException(latest + ": not a checkpoint record (iteration, step and folder "
                    + "are needed)");
        }
        Path f = dir.resolve(folder).normalize();
        if (!dir.toAbsolutePath().normalize().equals(f.toAbsolutePath().getParent()) || !Files.isDirectory(f)) {
            throw new org.frcnn4j.io.BadInputException(latest + ": names checkpoint folder '" + folder
                    + "', which is not a folder in " + dir);
        }
        return new State(iteration, step, f);
    }

    /** The checkpoint folders in the checkpoints folder (not hidden leftovers of interrupted writes), by name. */
    private List<String> checkpointFolders() throws IOException {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(Files::isDirectory).map(p -> p.getFileName().toString())
                    .filter(n -> n.startsWith(FOLDER)).sorted().toList();
        }
    }

    public static void loadOptimizer(State state, Sgd sgd) throws IOException {
        Path f = state.folder().resolve(OPTIMIZER);
        // every checkpoint holds its momentum: without it a resumed run would quietly differ from an unbroken one
        if (!Files.isRegularFile(f)) {
            throw new org.frcnn4j.io.BadInputException(f + ": missing optimizer state (the checkpoint is incomplete; "
                    + "resume from another checkpoint or start again)");
        }
        try (InputStream in = Files.newInputStream(f)) {
            sgd.load(in);
        } catch (RuntimeException e) {
            if (e instanceof org.frcnn4j.io.BadInputException) {
                throw e;
            }
            throw new org.frcnn4j.io.BadInputException(f + ": not a readable optimizer state (" + e.getMessage() + ")", e);
        }
    }

    static void deleteTree(Path p) throws IOException {
        AtomicFiles.deleteTree(p);
    }
}
