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
        try (Detector detector = open()) {
            boolean ss = proposals.selectiveSearch(detector.config());
            // the next images decode on a background thread while the network runs on this one
            for (ImagesAhead ahead = new ImagesAhead(images, 2); ahead.hasNext(); ) {
                ImagesAhead.Decoded decoded = ahead.next();
                Path file = decoded.file();
                BufferedImage img = Commands.reportIfUnread(decoded, err);
                if (img == null) {
                    failed++;
                    continue;
                }
                String id = Commands.uniqueId(file, ids, err);
                List<Detector.DetectedBox> boxes = ss
                        ? detector.detect(img, ss().propose(img, FasterRcnn.SELECTIVE_SEARCH_BOXES, 0)) : detector.detect(img);
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
        }
        Commands.writeJson(mapper, results, json, spec.commandLine().getOut());
        if (failed > 0) {
            err.println("frcnn: error: " + failed + " of " + images.size() + " images could not be read (named above); "
                    + "the others were processed");
        }
        return failed == 0 ? 0 : Main.BAD_INPUT;
    }

    private org.frcnn4j.proposals.SelectiveSearch selectiveSearch;

    private org.frcnn4j.proposals.SelectiveSearch ss() {
        if (selectiveSearch == null) {
            selectiveSearch = org.frcnn4j.proposals.SelectiveSearch.of(org.frcnn4j.proposals.SelectiveSearch.Mode.FAST);
        }
        return selectiveSearch;
    }

    private Detector open() {
        if (scoreThresh == null) {
            return Detector.load(model);
        }
        return Detector.load(model, c -> c.with(c.head().withPostprocess(scoreThresh, c.head().nmsThreshold(),
                c.head().detectionsPerImage())));
    }
}
