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

    /** The whole file with its own categories; see {@link #read(Path, Path, List)}. */
    public static Dataset read(Path json, Path imagesDir) {
        return read(json, imagesDir, null);
    }

    /**
     * Reads an instances file. Nothing wrong with one image, annotation or category stops the rest: each problem
     * (an id missing or repeated, an annotation of an unknown image or category, a bbox that is not four numbers, an
     * impossible box) is recorded and the element left out.
     *
     * @param json       the instances file
     * @param imagesDir  where the {@code file_name}s are; null: the folder named as the JSON's split beside its
     *                   folder (annotations/instances_train2017.json -&gt; train2017/), else the JSON's own folder
     * @param classNames categories to keep, by name, in label order (their annotations only; others are problems), or
     *                   null for every category in id order
     */
    public static Dataset read(Path json, Path imagesDir, List<String> classNames) {
        JsonNode root = parse(json);
        Path images = imagesDir != null ? imagesDir : defaultImagesDir(json);
        for (String key : List.of("images", "annotations", "categories")) {
            if (!root.path(key).isArray()) {
                throw new DatasetException(json, "not a COCO instances file: no '" + key + "' array");
            }
        }
        List<Problem> problems = new ArrayList<>();
        ClassList classes = categories(json, root.get("categories"), classNames, problems);

        Map<Long, JsonNode> imageNodes = new LinkedHashMap<>();
        java.util.Set<String> leftOut = new java.util.HashSet<>();
        int index = 0;
        for (JsonNode im : root.get("images")) {
            index++;
            String where = "image " + index + " of 'images'";
            if (!isId(im.path("id"))) {
                problems.add(new Problem(json, where + " has no numeric 'id': " + abbreviate(im)));
                continue;
            }
            long id = im.get("id").asLong();
            if (imageNodes.containsKey(id)) {
                problems.add(new Problem(json, "image id " + id + " appears twice"));
                continue;
            }
            if (im.path("file_name").asText("").isBlank()) {
                problems.add(new Problem(json, "image " + id + " has no 'file_name'"));
                leftOut.add(Long.toString(id));
                continue;
            }
            if (!im.path("width").isIntegralNumber() || !im.path("height").isIntegralNumber()
                    || im.get("width").asInt() <= 0 || im.get("height").asInt() <= 0) {
                problems.add(new Problem(json, "image " + id + " has no positive integer 'width' and 'height'"));
                leftOut.add(Long.toString(id));
                continue;
            }
            imageNodes.put(id, im);
        }
        Map<Long, List<GroundTruthBox>> objects = new LinkedHashMap<>();
        imageNodes.keySet().forEach(id -> objects.put(id, new ArrayList<>()));
        java.util.Set<Long> annotationIds = new java.util.HashSet<>();
        index = 0;
        for (JsonNode a : root.get("annotations")) {
            index++;
            // pycocotools' evaluation matches boxes by their ids: without one the annotation cannot be told apart
            if (!isId(a.path("id"))) {
                problems.add(new Problem(json, "annotation " + index + " of 'annotations' has no numeric 'id': " + abbreviate(a)));
                continue;
            }
            String where = "annotation " + a.get("id").asLong() + " of image " + abbreviate(a.path("image_id"));
            if (!annotationIds.add(a.get("id").asLong())) {
                problems.add(new Problem(json, "annotation id " + a.get("id").asLong() + " appears twice"));
                continue;
            }
            JsonNode im = isId(a.path("image_id")) ? imageNodes.get(a.get("image_id").asLong()) : null;
            if (im == null) {
                // an image left out for its own problem takes its annotations along, without a problem each
                if (!(isId(a.path("image_id")) && leftOut.contains(Long.toString(a.get("image_id").asLong())))) {
                    problems.add(new Problem(json, where + ": no such image"));
                }
                continue;
            }
            int label = isCategoryId(a.path("category_id")) ? classes.labelOfCategoryId(a.get("category_id").asInt()) : -1;
            if (label < 0) {
                problems.add(new Problem(json, where + ": " + (classNames == null ? "unknown" : "unknown or unselected")
                        + " category_id " + abbreviate(a.path("category_id"))));
                continue;
            }
            JsonNode bb = a.path("bbox");
            if (!bb.isArray() || bb.size() != 4 || !bb.get(0).isNumber() || !bb.get(1).isNumber() || !bb.get(2).isNumber()
                    || !bb.get(3).isNumber()) {
                problems.add(new Problem(json, where + ": bbox is not [x, y, w, h] numbers: " + abbreviate(bb)));
                continue;
            }
            double x = bb.get(0).asDouble(), y = bb.get(1).asDouble(), w = bb.get(2).asDouble(), h = bb.get(3).asDouble();
            if (!Double.isFinite(x + y + w + h)) {
                problems.add(new Problem(json, where + ": bbox is not finite"));
                continue;
            }
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
            String flaw = optionalFieldFlaw(a, "iscrowd", n -> n.isIntegralNumber() && (n.asLong() == 0 || n.asLong() == 1), "0 or 1");
            if (flaw == null) {
                flaw = optionalFieldFlaw(a, "area", n -> n.isNumber() && Double.isFinite(n.asDouble()) && n.asDouble() >= 0,
                        "a number >= 0");
            }
            if (flaw != null) {
                problems.add(new Problem(json, where + ": " + flaw));
                continue;
            }
            boolean crowd = a.path("iscrowd").asInt(0) == 1;
            double area = a.has("area") ? a.get("area").asDouble() : w * h;
            objects.get(im.get("id").asLong()).add(new GroundTruthBox(label, x, y, x + w, y + h, false, crowd, area));
        }
        List<Annotation> list = new ArrayList<>();
        for (Map.Entry<Long, JsonNode> e : imageNodes.entrySet()) {
            JsonNode im = e.getValue();
            list.add(new Annotation(Long.toString(e.getKey()), images.resolve(im.get("file_name").asText().trim()),
                    im.get("width").asInt(), im.get("height").asInt(), objects.get(e.getKey())));
        }
        return new Dataset(Dataset.Format.COCO, classes, list, problems, leftOut);
    }

    /**
     * The categories as classes: in id order, or the named ones in the given order. A category without a numeric id
     * or a name, or with an id or a name seen before, is a problem and left out.
     */
    private static ClassList categories(Path json, JsonNode nodes, List<String> classNames, List<Problem> problems) {
        List<JsonNode> cats = new ArrayList<>();
        java.util.Set<Integer> ids = new java.util.HashSet<>();
        java.util.Set<String> names = new java.util.HashSet<>();
        for (JsonNode c : nodes) {
            if (!isCategoryId(c.path("id"))) {
                problems.add(new Problem(json, "a category has no numeric 'id': " + abbreviate(c)));
                continue;
            }
            if (!c.path("name").isTextual() || c.get("name").asText().isBlank()) {
                problems.add(new Problem(json, "category " + c.get("id").asInt() + " has no 'name': " + abbreviate(c)));
                continue;
            }
            String name = c.get("name").asText();
            if (!ids.add(c.get("id").asInt())) {
                problems.add(new Problem(json, "category id " + c.get("id").asInt() + " appears twice"));
                continue;
            }
            if (!names.add(name)) {
                problems.add(new Problem(json, "category name '" + name + "' appears twice (ids differ)"));
                continue;
            }
            cats.add(c);
        }
        cats.sort(Comparator.comparingInt(c -> c.get("id").asInt()));
        Map<String, Integer> idByName = new LinkedHashMap<>();
        for (JsonNode c : cats) {
            idByName.put(c.get("name").asText(), c.get("id").asInt());
        }
        if (classNames == null) {
            return new ClassList(List.copyOf(idByName.keySet()), List.copyOf(idByName.values()));
        }
        List<Integer> chosen = new ArrayList<>();
        for (String n : classNames) {
            Integer id = idByName.get(n);
            if (id == null) {
                throw new DatasetException(json, "no category named '" + n + "' (categories: "
                        + String.join(", ", idByName.keySet().stream().limit(12).toList())
                        + (idByName.size() > 12 ? ", ..." : "") + ")");
            }
            chosen.add(id);
        }
        return new ClassList(classNames, chosen);
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
            throw new DatasetException(json, org.frcnn4j.io.IoErrors.malformedJson(e), e);
        } catch (IOException e) {
            throw new DatasetException(json, "cannot read: " + e.getMessage(), e);
        }
    }

    /** An image or annotation id: a JSON integer that fits in a long (never 1.5, "7", or a number cut short). */
    private static boolean isId(JsonNode n) {
        return n.isIntegralNumber() && n.canConvertToLong();
    }

    /**
     * A category id, in instances and in results files: a JSON integer that fits in an int (2^32 + 1 must not become
     * category 1, 1.7 not category 1, "1" is text).
     */
    public static boolean isCategoryId(JsonNode n) {
        return n.isIntegralNumber() && n.canConvertToInt();
    }

    /** Why an optional field of {@code node} cannot be used (absent is fine), or null. */
    private static String optionalFieldFlaw(JsonNode node, String key, java.util.function.Predicate<JsonNode> ok,
                                            String expected) {
        JsonNode v = node.path(key);
        return v.isMissingNode() || ok.test(v) ? null : "'" + key + "' is " + abbreviate(v) + ", not " + expected;
    }

    private static String abbreviate(JsonNode n) {
        String s = n.isMissingNode() ? "(none)" : n.toString();
        return s.length() > 80 ? s.substring(0, 77) + "..." : s;
    }
}
