package org.frcnn4j.data;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Reads a COCO instances JSON ({@code images}, {@code annotations}, {@code categories}). Categories become labels
 * 0..K-1 in ascending id order (COCO ids have gaps) and keep their ids and names for output. Boxes [x, y, w, h]
 * become corners (x, y, x + w, y + h); crowd flags and the {@code area} field are kept for COCO evaluation.
 */
public final class CocoReader {
    /** Slack, in pixels, before a box is called outside its image (COCO's float boxes overshoot by rounding). */
    private static final double EDGE_SLACK = 1.0;

    private CocoReader() {}

    /**
     * @param json      the instances file
     * @param imagesDir where the {@code file_name}s are; null: the folder named as the JSON's split beside its
     *                  folder (annotations/instances_train2017.json -&gt; train2017/), else the JSON's own folder
     */
    public static Dataset read(Path json, Path imagesDir) {
        JsonNode root = parse(json);
        Path images = imagesDir != null ? imagesDir : defaultImagesDir(json);
        for (String key : List.of("images", "annotations", "categories")) {
            if (!root.path(key).isArray()) {
                throw new DatasetException(json, "not a COCO instances file: no '" + key + "' array");
            }
        }
        List<JsonNode> cats = new ArrayList<>();
        root.get("categories").forEach(cats::add);
        cats.sort(Comparator.comparingInt(c -> c.path("id").asInt()));
        List<String> names = new ArrayList<>();
        List<Integer> ids = new ArrayList<>();
        for (JsonNode c : cats) {
            names.add(c.path("name").asText("category " + c.path("id").asInt()));
            ids.add(c.path("id").asInt());
        }
        ClassList classes = new ClassList(names, ids);

        Map<Long, JsonNode> imageNodes = new LinkedHashMap<>();
        for (JsonNode im : root.get("images")) {
            if (!im.path("id").canConvertToLong()) {
                throw new DatasetException(json, "an image has no numeric 'id': " + abbreviate(im));
            }
            imageNodes.put(im.get("id").asLong(), im);
        }
        Map<Long, List<GroundTruthBox>> objects = new LinkedHashMap<>();
        imageNodes.keySet().forEach(id -> objects.put(id, new ArrayList<>()));
        List<Problem> problems = new ArrayList<>();
        for (JsonNode a : root.get("annotations")) {
            long imageId = a.path("image_id").asLong(-1);
            JsonNode im = imageNodes.get(imageId);
            String where = "annotation " + a.path("id").asText("?") + " of image " + imageId;
            if (im == null) {
                problems.add(new Problem(json, where + ": no such image"));
                continue;
            }
            int label = classes.labelOfCategoryId(a.path("category_id").asInt(Integer.MIN_VALUE));
            if (label < 0) {
                problems.add(new Problem(json, where + ": unknown category_id " + a.path("category_id").asText()));
                continue;
            }
            JsonNode bb = a.path("bbox");
            if (!bb.isArray() || bb.size() != 4) {
                problems.add(new Problem(json, where + ": bbox is not [x, y, w, h]"));
                continue;
            }
            double x = bb.get(0).asDouble(), y = bb.get(1).asDouble(), w = bb.get(2).asDouble(), h = bb.get(3).asDouble();
            if (w <= 0 || h <= 0) {
                problems.add(new Problem(json, where + ": box of " + (w < 0 || h < 0 ? "negative" : "zero") + " size"));
                continue;
            }
            int iw = im.path("width").asInt(), ih = im.path("height").asInt();
            if (x < -EDGE_SLACK || y < -EDGE_SLACK || x + w > iw + EDGE_SLACK || y + h > ih + EDGE_SLACK) {
                problems.add(new Problem(json, where + ": box [" + x + ", " + y + ", " + w + ", " + h
                        + "] lies outside the " + iw + "x" + ih + " image"));
                continue;
            }
            boolean crowd = a.path("iscrowd").asInt(0) == 1;
            double area = a.has("area") ? a.get("area").asDouble() : w * h;
            objects.get(imageId).add(new GroundTruthBox(label, x, y, x + w, y + h, false, crowd, area));
        }
        List<Annotation> list = new ArrayList<>();
        for (Map.Entry<Long, JsonNode> e : imageNodes.entrySet()) {
            JsonNode im = e.getValue();
            String fileName = im.path("file_name").asText("");
            if (fileName.isEmpty()) {
                throw new DatasetException(json, "image " + e.getKey() + " has no 'file_name'");
            }
            list.add(new Annotation(Long.toString(e.getKey()), images.resolve(fileName),
                    im.path("width").asInt(), im.path("height").asInt(), objects.get(e.getKey())));
        }
        return new Dataset(Dataset.Format.COCO, classes, list, problems);
    }

    /** {@code annotations/instances_<split>.json} in a COCO folder (the only instances file when split is null). */
    static Path findInstancesJson(Path root, String split) {
        Path dir = root.resolve("annotations");
        if (split != null) {
            Path f = dir.resolve("instances_" + split + ".json");
            if (!Files.isRegularFile(f)) {
                throw new DatasetException(f, "no such COCO split '" + split + "'");
            }
            return f;
        }
        try (Stream<Path> s = Files.list(dir)) {
            List<Path> found = s.filter(p -> p.getFileName().toString().startsWith("instances_")
                    && p.getFileName().toString().endsWith(".json")).sorted().toList();
            if (found.size() != 1) {
                throw new DatasetException(dir, found.isEmpty() ? "no instances_*.json here"
                        : "several instances_*.json here: name one with --split");
            }
            return found.get(0);
        } catch (IOException e) {
            throw new DatasetException(dir, "cannot list: " + e.getMessage(), e);
        }
    }

    static Path defaultImagesDir(Path json) {
        String name = json.getFileName().toString();
        Path parent = json.toAbsolutePath().getParent();
        if (name.startsWith("instances_") && parent.getParent() != null) {
            Path guess = parent.getParent().resolve(name.substring("instances_".length(), name.length() - ".json".length()));
            if (Files.isDirectory(guess)) {
                return guess;
            }
        }
        return parent;
    }

    static JsonNode parse(Path json) {
        if (!Files.isRegularFile(json)) {
            throw new DatasetException(json, "no such file");
        }
        try {
            JsonNode root = new ObjectMapper().readTree(json.toFile());
            if (root == null || !root.isObject()) {
                throw new DatasetException(json, "not a COCO instances file: expected a JSON object");
            }
            return root;
        } catch (JsonProcessingException e) {
            throw new DatasetException(json, "malformed JSON at line " + e.getLocation().getLineNr()
                    + ": " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new DatasetException(json, "cannot read: " + e.getMessage(), e);
        }
    }

    private static String abbreviate(JsonNode n) {
        String s = n.toString();
        return s.length() > 80 ? s.substring(0, 77) + "..." : s;
    }
}
