package org.frcnn4j.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.stream.Stream;
import org.frcnn4j.model.FasterRcnn;
import org.frcnn4j.model.ModelFiles;

/**
 * Checkpoints of a run: {@code checkpoints/iter-NNNNNNN/} holds the model folder, {@code optimizer.safetensors} and,
 * in step 2 of alternating training, {@code proposer/} (the step-1 network that proposes regions). A checkpoint folder
 * is written completely before {@code checkpoints/latest.json} is atomically replaced to name it, so a run killed
 * mid-write always leaves the previous checkpoint loadable; older folders are removed afterwards.
 */
public final class Checkpoints {
    static final String LATEST = "latest.json";
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
        String name = String.format("iter-%07d", iteration);
        Path folder = dir.resolve(name);
        Path tmp = Files.createTempDirectory(dir, ".writing-" + name);
        ModelFiles.save(model, tmp);
        try (OutputStream out = Files.newOutputStream(tmp.resolve(OPTIMIZER))) {
            sgd.save(out);
        }
        if (proposer != null) {
            ModelFiles.save(proposer, tmp.resolve(PROPOSER));
        }
        deleteTree(folder);
        Files.move(tmp, folder, StandardCopyOption.ATOMIC_MOVE);
        byte[] latest = new ObjectMapper().writeValueAsBytes(
                new ObjectMapper().createObjectNode().put("iteration", iteration).put("step", step).put("folder", name));
        Path tmpLatest = Files.createTempFile(dir, ".latest", ".tmp");
        Files.write(tmpLatest, latest);
        Files.move(tmpLatest, dir.resolve(LATEST), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.toList()) {
                String n = p.getFileName().toString();
                if (Files.isDirectory(p) && !n.equals(name)) {
                    deleteTree(p); // older checkpoints and folders of interrupted writes
                } else if (n.startsWith(".latest") && n.endsWith(".tmp")) {
                    Files.deleteIfExists(p); // the pointer of an interrupted write
                }
            }
        }
    }

    /** The latest complete checkpoint, or null when there is none. */
    public State latest() throws IOException {
        Path latest = dir.resolve(LATEST);
        if (!Files.isRegularFile(latest)) {
            return null;
        }
        JsonNode j = new ObjectMapper().readTree(latest.toFile());
        return new State(j.get("iteration").asInt(), j.get("step").asInt(), dir.resolve(j.get("folder").asText()));
    }

    public static void loadOptimizer(State state, Sgd sgd) throws IOException {
        Path f = state.folder().resolve(OPTIMIZER);
        if (Files.isRegularFile(f)) {
            try (InputStream in = Files.newInputStream(f)) {
                sgd.load(in);
            }
        }
    }

    static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) {
            return;
        }
        try (Stream<Path> s = Files.walk(p)) {
            for (Path q : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(q);
            }
        }
    }
}
