package org.frcnn4j.train;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.frcnn4j.data.Dataset;
import org.frcnn4j.eval.VocEvaluator;
import org.frcnn4j.model.DatasetDetection;
import org.frcnn4j.model.FasterRcnn;
import org.frcnn4j.model.FasterRcnnConfig;

/**
 * Runs a list of training settings one after another, each in its own run folder, and tabulates their VOC07 mAP and
 * training time: the paper's ablations (anchors, lambda, schedules). It is resumable: a setting whose
 * {@code result.json} exists is not run again, and an interrupted one continues from its last checkpoint.
 */
public final class ExperimentRunner {
    /** One row of an experiment. */
    public record Setting(String name, FasterRcnnConfig model, TrainConfig train) {}

    /** A finished row. */
    public record Result(String name, double mAP, double trainSeconds) {}

    private final Path out;
    private final Dataset train;
    private final Dataset test;
    private final Trainer.Listener listener;

    public ExperimentRunner(Path out, Dataset train, Dataset test, Trainer.Listener listener) {
        this.out = out;
        this.train = train;
        this.test = test;
        this.listener = listener;
    }

    private volatile Trainer current;
    private volatile boolean stopRequested;

    /** Stops the setting in training at its next iteration boundary (see {@link Trainer#requestStop}). */
    public void requestStop() {
        stopRequested = true;
        Trainer t = current;
        if (t != null) {
            t.requestStop();
        }
    }

    public List<Result> run(List<Setting> settings) throws IOException {
        List<Result> results = new ArrayList<>();
        ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        for (Setting s : settings) {
            Path dir = out.resolve(s.name());
            Path resultFile = dir.resolve("result.json");
            if (Files.isRegularFile(resultFile)) {
                JsonNode j = mapper.readTree(resultFile.toFile());
                results.add(new Result(s.name(), j.get("mAP").asDouble(), j.get("train_seconds").asDouble()));
                listener.message(s.name() + ": done before (" + resultFile + ")");
                continue;
            }
            listener.message(s.name() + ": training");
            long t0 = System.nanoTime();
            double map;
            Trainer trainer = new Trainer(s.model(), s.train(), train, null, dir, listener);
            current = trainer;
            if (stopRequested) {
                trainer.requestStop();
            }
            try (NDManager manager = NDManager.newBaseManager(); FasterRcnn model = trainer.run(manager, true)) {
                double seconds = (System.nanoTime() - t0) / 1e9;
                map = VocEvaluator.evaluate(test, DatasetDetection.detectAll(model, test, null),
                        VocEvaluator.Options.voc07()).mAP();
                ObjectNode r = mapper.createObjectNode().put("name", s.name()).put("mAP", Double.isNaN(map) ? 0 : map)
                        .put("train_seconds", seconds);
                org.frcnn4j.io.AtomicFiles.write(resultFile, mapper.writeValueAsBytes(r));
                results.add(new Result(s.name(), map, seconds));
            }
        }
        writeSummary(results, mapper);
        return results;
    }

    private void writeSummary(List<Result> results, ObjectMapper mapper) throws IOException {
        ArrayNode arr = mapper.createArrayNode();
        for (Result r : results) {
            arr.addObject().put("setting", r.name()).put("mAP", r.mAP()).put("train_seconds", r.trainSeconds());
        }
        Files.createDirectories(out);
        org.frcnn4j.io.AtomicFiles.write(out.resolve("summary.md"), markdown(results));
        org.frcnn4j.io.AtomicFiles.write(out.resolve("summary.json"), mapper.writeValueAsBytes(arr));
    }

    /** The table as Markdown. */
    public static String markdown(List<Result> results) {
        StringBuilder md = new StringBuilder("| setting | VOC07 mAP | training s |\n|---|---|---|\n");
        for (Result r : results) {
            md.append(String.format(Locale.ROOT, "| %s | %.4f | %.0f |%n", r.name(), r.mAP(), r.trainSeconds()));
        }
        return md.toString();
    }
}
