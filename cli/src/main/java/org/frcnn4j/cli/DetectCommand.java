package org.frcnn4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.awt.image.BufferedImage;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.frcnn4j.data.ImageIds;
import org.frcnn4j.data.ImagesAhead;
import org.frcnn4j.model.Detector;
import org.frcnn4j.model.FasterRcnn;
import org.frcnn4j.viz.DetectionDrawing;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code frcnn detect}: objects in images, as COCO results JSON and optionally as drawn pictures. */
@Command(name = "detect", mixinStandardHelpOptions = true,
        description = "Detect objects in images. Writes COCO results JSON (to --json, else to standard output): "
                + "image_id = file name without extension (numeric when all digits; made unique when two files share "
                + "a name), category_id (the training dataset's category id), category_name, bbox [x, y, w, h], score. "
                + "An image that cannot be read is one line on standard error; the others are still processed, and "
                + "the exit code is 2.")
final class DetectCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--model", required = true, description = "model folder (config.json + weights.safetensors)")
    Path model;

    @Option(names = "--score-thresh", description = "keep detections scoring above this (default: the model's)")
    Float scoreThresh;

    @Option(names = "--json", description = "write the results here (atomically) instead of standard output")
    Path json;

    @Option(names = "--out", description = "folder for the images with their detections drawn")
    Path out;

    @Option(names = "--batch", defaultValue = "1", paramLabel = "N",
            description = "images per forward pass of the backbone (they share one padded canvas; default: "
                    + "${DEFAULT-VALUE})")
    int batch;

    @CommandLine.Mixin
    Options.InferencePrecision precision = new Options.InferencePrecision();

    @CommandLine.Mixin
    Options.ProposalChoice proposals;

    @Parameters(arity = "1..*", paramLabel = "IMAGE", description = "image files")
    List<Path> images;

    @Override
    public Integer call() throws Exception {
        PrintWriter err = spec.commandLine().getErr();
        ObjectMapper mapper = new ObjectMapper();
        ArrayNode results = mapper.createArrayNode();
        int failed = 0;
        java.util.Map<String, Path> ids = new java.util.HashMap<>();
        if (scoreThresh != null && !(scoreThresh >= 0 && scoreThresh <= 1)) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--score-thresh must be between 0 and 1, not "
                    + scoreThresh);
        }
        if (batch < 1) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--batch must be at least 1, not " + batch);
        }
        Commands.checkOutputFile("--json", json, images);
        try (Detector detector = open()) {
            boolean ss = proposals.selectiveSearch(detector.config());
            // the next images decode on a background thread while the network runs on this one
            List<BufferedImage> group = new java.util.ArrayList<>();
            List<String> groupIds = new java.util.ArrayList<>();
            for (ImagesAhead ahead = new ImagesAhead(images, Math.max(2, batch)); ahead.hasNext(); ) {
                ImagesAhead.Decoded decoded = ahead.next();
                BufferedImage img = Commands.reportIfUnread(decoded, err);
                if (img == null) {
                    failed++;
                    continue;
                }
                group.add(img);
                groupIds.add(Commands.uniqueId(decoded.file(), ids, err));
                if (group.size() == (ss ? 1 : batch)) {
                    flush(detector, ss, group, groupIds, results, mapper);
                }
            }
            flush(detector, ss, group, groupIds, results, mapper); // the last, smaller group
        }
        // nothing read, nothing to report: an earlier results file stays as it was
        if (failed < images.size()) {
            Commands.writeJson(mapper, results, json, spec.commandLine().getOut());
        }
        if (failed > 0) {
            err.println("frcnn: error: " + failed + " of " + images.size() + " images could not be read (named above); "
                    + "the others were processed");
        }
        return failed == 0 ? 0 : Main.BAD_INPUT;
    }

    /** Detects the group's images (one pass of the backbone per size; Selective Search: one image), writes, empties it. */
    private void flush(Detector detector, boolean ss, List<BufferedImage> group, List<String> ids, ArrayNode results,
                       ObjectMapper mapper) throws java.io.IOException {
        List<List<Detector.DetectedBox>> found = !ss ? detector.detectBatch(group) : group.stream()
                .map(img -> detector.detect(img, ss().propose(img, FasterRcnn.SELECTIVE_SEARCH_BOXES, 0))).toList();
        for (int i = 0; i < group.size(); i++) {
            write(detector, ids.get(i), group.get(i), found.get(i), results, mapper);
        }
        group.clear();
        ids.clear();
    }

    private void write(Detector detector, String id, BufferedImage img, List<Detector.DetectedBox> boxes,
                       ArrayNode results, ObjectMapper mapper) throws java.io.IOException {
        for (Detector.DetectedBox b : boxes) {
            ObjectNode o = results.addObject();
            ImageIds.put(o, id);
            o.put("category_id", detector.config().categoryId(b.label()));
            o.put("category_name", b.className());
            o.putArray("bbox").add(b.x1()).add(b.y1()).add(b.x2() - b.x1()).add(b.y2() - b.y1());
            o.put("score", b.score());
        }
        if (out != null) {
            DetectionDrawing.write(img, boxes, out.resolve(id + ".png"));
        }
    }

    private org.frcnn4j.proposals.SelectiveSearch selectiveSearch;

    private org.frcnn4j.proposals.SelectiveSearch ss() {
        if (selectiveSearch == null) {
            selectiveSearch = org.frcnn4j.proposals.SelectiveSearch.of(org.frcnn4j.proposals.SelectiveSearch.Mode.FAST);
        }
        return selectiveSearch;
    }

    private Detector open() {
        precision.checked();
        if (scoreThresh == null) {
            return precision.load(model);
        }
        return precision.load(model, c -> c.with(c.head().withPostprocess(scoreThresh,
                c.head().nmsThreshold(), c.head().detectionsPerImage())));
    }
}
