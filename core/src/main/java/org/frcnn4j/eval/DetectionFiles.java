package org.frcnn4j.eval;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.frcnn4j.data.Annotation;
import org.frcnn4j.data.ClassList;
import org.frcnn4j.data.Dataset;
import org.frcnn4j.data.DatasetException;
import org.frcnn4j.data.Detection;

/**
 * Detection result files:
 * <ul>
 *   <li>COCO results JSON: {@code [{"image_id", "category_id", "bbox": [x, y, w, h], "score"}]}, with the ids of the
 *       ground truth (a VOC dataset's category ids are 1..K in class order; an entry may name its class with
 *       {@code category_name} instead); boxes in the dataset's own coordinates (see
 *       {@link org.frcnn4j.data.GroundTruthBox});</li>
 *   <li>a folder of VOC devkit results files {@code comp4_det_test_<class>.txt} (any {@code *_det_*_<class>.txt}),
 *       lines {@code <image_id> <score> <x1> <y1> <x2> <y2>} in the devkit's 1-based pixels, read in ascending file
 *       name order and line order so that equal scores keep a stable order.</li>
 * </ul>
 */
public final class DetectionFiles {
    private DetectionFiles() {}

    /** Reads either format: a folder is VOC results files, a file is COCO results JSON. */
    public static List<Detection> read(Path path, Dataset groundTruth) {
        if (Files.isDirectory(path)) {
            return readVocResults(path, groundTruth);
        }
        return readCocoResults(path, groundTruth);
    }

    public static List<Detection> readCocoResults(Path json, Dataset gt) {
        if (!Files.isRegularFile(json)) {
            throw new DatasetException(json, "no such detections file");
        }
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(json.toFile());
        } catch (JsonProcessingException e) {
            throw new DatasetException(json, org.frcnn4j.io.IoErrors.malformedJson(e), e);
        } catch (IOException e) {
            throw new DatasetException(json, "cannot read: " + e.getMessage(), e);
        }
        if (root == null || !root.isArray()) {
            throw new DatasetException(json, "expected a JSON array of COCO results");
        }
        Set<String> ids = imageIds(gt);
        ClassList classes = gt.classes();
        int shift = zeroBasedShift(root, gt);
        List<Detection> out = new ArrayList<>();
        int i = 0;
        for (JsonNode r : root) {
            String where = "result " + i++;
            String imageId = r.path("image_id").asText(null);
            if (imageId == null || r.path("image_id").isMissingNode()) {
                throw new DatasetException(json, where + " has no image_id");
            }
            String entry = where;
            where += " (image_id " + imageId + ")";
            JsonNode category = r.path("category_id");
            int label = r.hasNonNull("category_name") ? classes.labelOf(r.get("category_name").asText())
                    : org.frcnn4j.data.CocoReader.isCategoryId(category) ? classes.labelOfCategoryId(category.asInt() + shift)
                    : -1;
            if (label < 0) {
                throw new DatasetException(json, where + ": unknown category "
                        + (r.hasNonNull("category_name") ? "'" + r.get("category_name").asText() + "'"
                        : "id " + (category.isMissingNode() ? "(none)" : category.toString())));
            }
            JsonNode bb = r.path("bbox");
            if (!bb.isArray() || bb.size() != 4 || !r.path("score").isNumber()
                    || !bb.get(0).isNumber() || !bb.get(1).isNumber() || !bb.get(2).isNumber() || !bb.get(3).isNumber()) {
                throw new DatasetException(json, where + ": needs bbox [x, y, w, h] numbers and a numeric score");
            }
            double x = bb.get(0).asDouble(), y = bb.get(1).asDouble(), w = bb.get(2).asDouble(), h = bb.get(3).asDouble();
            double score = r.get("score").asDouble();
            checkFinite(json, where, score, x, y, w, h);
            // a VOC dataset's corners are inclusive pixels, where w = 0 is one pixel wide; in COCO's it is no box
            if (w < 0 || h < 0 || gt.format() == Dataset.Format.COCO && (w == 0 || h == 0)) {
                throw new DatasetException(json, where + ": bbox [" + x + ", " + y + ", " + w + ", " + h + "] has a "
                        + (w < 0 || h < 0 ? "negative" : "zero") + " width or height");
            }
            if (!ids.contains(imageId)) {
                if (gt.leftOut().contains(imageId)) {
                    continue; // its annotation is broken: the image is out of the evaluation, as reported
                }
                throw new DatasetException(json, entry + ": image_id " + imageId + " is not in the ground truth");
            }
            out.add(new Detection(imageId, label, x, y, x + w, y + h, score));
        }
        return out;
    }

    /**
     * 1 when the results number a VOC dataset's classes from 0 (class order of the class list) rather than the ids
     * 1..K this library gives them: id 0 cannot name a VOC class otherwise, so a file that uses it, and stays within
     * 0..K-1, is read as 0-based. Else 0.
     */
    static int zeroBasedShift(JsonNode results, Dataset gt) {
        if (gt.format() != Dataset.Format.VOC) {
            return 0;
        }
        boolean zero = false;
        for (JsonNode r : results) {
            if (r.hasNonNull("category_name") || !org.frcnn4j.data.CocoReader.isCategoryId(r.path("category_id"))) {
                return 0;
            }
            int id = r.get("category_id").asInt();
            if (id < 0 || id >= gt.classes().size()) {
                return 0;
            }
            zero |= id == 0;
        }
        return zero ? 1 : 0;
    }

    public static List<Detection> readVocResults(Path dir, Dataset gt) {
        List<Path> files;
        try (Stream<Path> s = Files.list(dir)) {
            files = s.filter(p -> p.getFileName().toString().endsWith(".txt")).sorted().toList();
        } catch (IOException e) {
            throw new DatasetException(dir, "cannot list: " + e.getMessage(), e);
        }
        Set<String> ids = imageIds(gt);
        List<Detection> out = new ArrayList<>();
        int used = 0;
        for (Path f : files) {
            int label = classOfResultsFile(f.getFileName().toString(), gt.classes());
            if (label < 0) {
                continue;
            }
            used++;
            List<String> lines;
            try {
                lines = Files.readAllLines(f, StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new DatasetException(f, "cannot read: " + e.getMessage(), e);
            }
            for (int n = 0; n < lines.size(); n++) {
                String line = lines.get(n).trim();
                if (line.isEmpty()) {
                    continue;
                }
                String[] t = line.split("\\s+");
                if (t.length != 6) {
                    throw new DatasetException(f, "line " + (n + 1) + ": expected '<image_id> <score> <x1> <y1> <x2> <y2>'");
                }
                double[] v = vocLine(f, n + 1, t);
                if (!ids.contains(t[0])) {
                    if (gt.leftOut().contains(t[0])) {
                        continue; // its annotation is broken: the image is out of the evaluation, as reported
                    }
                    throw new DatasetException(f, "line " + (n + 1) + ": image id '" + t[0] + "' is not in the ground truth");
                }
                // devkit pixels are 1-based; ground truth read from VOC XML is 0-based (GroundTruthBox)
                double shift = gt.format() == Dataset.Format.VOC ? 1 : 0;
                out.add(new Detection(t[0], label, v[1] - shift, v[2] - shift, v[3] - shift, v[4] - shift, v[0]));
            }
        }
        if (used == 0) {
            throw new DatasetException(dir, "no VOC results files here (expected comp4_det_test_<class>.txt for classes "
                    + gt.classes().names() + ")");
        }
        return out;
    }

    /** The score and corners of a results line's six tokens, checked: numbers, finite, x1 <= x2 and y1 <= y2. */
    private static double[] vocLine(Path f, int lineNumber, String[] t) {
        double[] v = new double[5];
        try {
            for (int k = 0; k < 5; k++) {
                v[k] = org.frcnn4j.data.Decimals.parse(t[k + 1]);
            }
        } catch (NumberFormatException e) {
            throw new DatasetException(f, "line " + lineNumber + ": not a number in '" + String.join(" ", t) + "'");
        }
        String where = "line " + lineNumber + " (image '" + t[0] + "')";
        checkFinite(f, where, v);
        // devkit boxes are inclusive pixels: x1 == x2 is one pixel wide, x2 < x1 is no box
        if (v[3] < v[1] || v[4] < v[2]) {
            throw new DatasetException(f, where + ": box [" + t[2] + ", " + t[3] + ", " + t[4] + ", " + t[5]
                    + "] is inverted (x2 < x1 or y2 < y1)");
        }
        return v;
    }

    /**
     * Refuses NaN and infinities (in the score, the first value, or a coordinate), which sort and match as no number
     * does. Any finite score is fine: scores above 1 (logits) and below 0 (an SVM's margins, as R-CNN's and DPM's
     * results files hold) rank like any other.
     */
    private static void checkFinite(Path file, String where, double... scoreThenCoordinates) {
        for (int k = 0; k < scoreThenCoordinates.length; k++) {
            if (!Double.isFinite(scoreThenCoordinates[k])) {
                throw new DatasetException(file, where + ": " + (k == 0 ? "the score" : "a coordinate") + " is "
                        + scoreThenCoordinates[k] + ", not a finite number");
            }
        }
    }

    /** The label named by the text after the last {@code _det_<set>_} of a results file name, or -1. */
    static int classOfResultsFile(String fileName, ClassList classes) {
        String stem = fileName.substring(0, fileName.length() - ".txt".length());
        int det = stem.indexOf("_det_");
        if (det < 0) {
            return -1;
        }
        String rest = stem.substring(det + "_det_".length());
        int us = rest.indexOf('_');
        return us < 0 ? -1 : classes.labelOf(rest.substring(us + 1));
    }

    private static Set<String> imageIds(Dataset gt) {
        Set<String> ids = new HashSet<>();
        for (Annotation a : gt.images()) {
            ids.add(a.imageId());
        }
        return ids;
    }

    /** Writes detections as COCO results JSON (with {@code category_name}); the caller makes the write atomic. */
    public static void writeCocoResults(List<Detection> detections, ClassList classes, OutputStream out) throws IOException {
        ObjectMapper mapper = new ObjectMapper();
        ArrayNode arr = mapper.createArrayNode();
        for (Detection d : detections) {
            ObjectNode o = arr.addObject();
            if (d.imageId().matches("\\d{1,18}")) {
                o.put("image_id", Long.parseLong(d.imageId()));
            } else {
                o.put("image_id", d.imageId());
            }
            o.put("category_id", classes.categoryId(d.label()));
            o.put("category_name", classes.name(d.label()));
            ArrayNode bb = o.putArray("bbox");
            bb.add(d.x1()).add(d.y1()).add(d.x2() - d.x1()).add(d.y2() - d.y1());
            o.put("score", d.score());
        }
        mapper.writerWithDefaultPrettyPrinter().writeValue(out, arr);
    }
}
