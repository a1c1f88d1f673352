package org.frcnn4j.data;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.frcnn4j.testing.SharedData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A few hundred seeded mutations of real VOC XML and COCO JSON files (bytes flipped, cut short, elements removed or
 * duplicated, numbers replaced by other tokens, types changed): each either loads (its problems recorded) or fails
 * with the dataset error that names the file. Never another exception.
 */
class DatasetFuzzTest {
    static final int MUTATIONS = 300;
    private static final String[] TOKENS = {"-5", "0", "1e309", "NaN", "abc", "", "99999999999", "-0.0", "3.5", "null",
        "\u00e9\u6f22", " 12 ", "0x10", "1,5"};

    @Test
    void mutatedVocAnnotationsLoadOrNameTheFile(@TempDir Path tmp) throws Exception {
        Path voc = SharedData.bundled("voc-mini100");
        List<Path> sources;
        try (var s = Files.list(voc.resolve("Annotations"))) {
            sources = s.sorted().limit(12).toList();
        }
        Random r = new Random(20261201);
        List<String> outcomes = new ArrayList<>();
        for (int i = 0; i < MUTATIONS; i++) {
            Path src = sources.get(r.nextInt(sources.size()));
            String id = src.getFileName().toString().replace(".xml", "");
            Path root = tmp.resolve("voc-" + i);
            Files.createDirectories(root.resolve("Annotations"));
            Files.createDirectories(root.resolve("JPEGImages"));
            Files.createSymbolicLink(root.resolve("JPEGImages").resolve(id + ".jpg"),
                    voc.resolve("JPEGImages").resolve(id + ".jpg").toAbsolutePath());
            Path file = root.resolve("Annotations").resolve(id + ".xml");
            Files.write(file, mutateText(Files.readString(src), r));
            outcomes.add(load(root, r.nextBoolean() ? List.of("person", "dog", "car", "cat", "chair") : null, file));
        }
        // a VOC file's troubles are all problems of that file (the others still load): no dataset-wide error
        assertThat(outcomes).contains("loaded", "problems").doesNotContain("error");
    }

    @Test
    void mutatedCocoFilesLoadOrNameTheFile(@TempDir Path tmp) throws Exception {
        Path json = SharedData.bundled("coco-mini").resolve("annotations/instances_train2017.json");
        String text = Files.readString(json);
        ObjectMapper mapper = new ObjectMapper();
        Random r = new Random(42);
        List<String> outcomes = new ArrayList<>();
        for (int i = 0; i < MUTATIONS; i++) {
            Path folder = tmp.resolve("coco-" + i);
            Files.createDirectories(folder.resolve("annotations"));
            Files.createSymbolicLink(folder.resolve("train2017"), json.getParent().resolveSibling("train2017").toAbsolutePath());
            Path file = folder.resolve("annotations/instances_train2017.json");
            if (r.nextInt(3) == 0) {
                Files.write(file, mutateText(text, r));
            } else {
                JsonNode tree = mapper.readTree(text);
                for (int k = 1 + r.nextInt(3); k > 0; k--) {
                    mutateTree(tree, r);
                }
                Files.writeString(file, mapper.writeValueAsString(tree));
            }
            outcomes.add(load(r.nextBoolean() ? file : folder, r.nextInt(4) == 0 ? List.of("person", "dog") : null, file));
        }
        assertThat(outcomes).contains("loaded", "problems", "error");
    }

    /** Opens and checks (headers only) a dataset: "loaded", "problems", or "error" for the file's dataset error. */
    private static String load(Path dataset, List<String> classes, Path file) {
        try {
            Dataset d = Dataset.open(dataset, null, classes);
            DatasetCheck c = DatasetCheck.run(d, false);
            for (Problem p : c.problems()) {
                assertThat(p.toString()).doesNotContain("\n");
            }
            return c.ok() ? "loaded" : "problems";
        } catch (DatasetException e) {
            assertThat(e.getMessage()).as("the error names the file").startsWith(file.toString()).doesNotContain("\n");
            return "error";
        }
    }

    static byte[] mutateText(String text, Random r) {
        switch (r.nextInt(6)) {
            case 0 -> { // bytes flipped
                byte[] b = text.getBytes(StandardCharsets.UTF_8);
                for (int k = 1 + r.nextInt(4); k > 0; k--) {
                    b[r.nextInt(b.length)] ^= (byte) (1 << r.nextInt(8));
                }
                return b;
            }
            case 1 -> { // cut short
                return text.substring(0, r.nextInt(text.length())).getBytes(StandardCharsets.UTF_8);
            }
            case 2 -> { // an element removed
                List<int[]> spans = spans(text);
                int[] s = spans.get(r.nextInt(spans.size()));
                return (text.substring(0, s[0]) + text.substring(s[1])).getBytes(StandardCharsets.UTF_8);
            }
            case 3 -> { // an element duplicated
                List<int[]> spans = spans(text);
                int[] s = spans.get(r.nextInt(spans.size()));
                return (text.substring(0, s[1]) + text.substring(s[0], s[1]) + text.substring(s[1]))
                        .getBytes(StandardCharsets.UTF_8);
            }
            default -> { // numbers replaced
                Matcher m = Pattern.compile("-?\\d+(\\.\\d+)?").matcher(text);
                StringBuilder out = new StringBuilder();
                while (m.find()) {
                    m.appendReplacement(out, r.nextInt(8) == 0 ? Matcher.quoteReplacement(TOKENS[r.nextInt(TOKENS.length)])
                            : m.group());
                }
                m.appendTail(out);
                return out.toString().getBytes(StandardCharsets.UTF_8);
            }
        }
    }

    /** Character spans of XML elements {@code <x>...</x>} (or of JSON objects {...}). */
    private static List<int[]> spans(String text) {
        List<int[]> out = new ArrayList<>();
        Matcher m = Pattern.compile("<(\\w+)>.*?</\\1>|\\{[^{}]*\\}", Pattern.DOTALL).matcher(text);
        while (m.find()) {
            out.add(new int[] {m.start(), m.end()});
        }
        if (out.isEmpty()) {
            out.add(new int[] {0, text.length()});
        }
        return out;
    }

    /** One change somewhere in the tree: a field removed, an array element duplicated, a value replaced or retyped. */
    static void mutateTree(JsonNode root, Random r) {
        List<JsonNode> containers = new ArrayList<>();
        collect(root, containers);
        JsonNode c = containers.get(r.nextInt(containers.size()));
        if (c instanceof ObjectNode o && o.size() > 0) {
            List<String> names = new ArrayList<>();
            o.fieldNames().forEachRemaining(names::add);
            String name = names.get(r.nextInt(names.size()));
            switch (r.nextInt(4)) {
                case 0 -> o.remove(name);
                case 1 -> o.put(name, TOKENS[r.nextInt(TOKENS.length)]);
                case 2 -> o.putNull(name);
                default -> o.put(name, r.nextInt(2) == 0 ? -r.nextInt(1000) : r.nextDouble() * 1e6);
            }
        } else if (c instanceof ArrayNode a && a.size() > 0) {
            int i = r.nextInt(a.size());
            switch (r.nextInt(4)) {
                case 0 -> a.add(a.get(i).deepCopy());
                case 1 -> a.remove(i);
                case 2 -> a.set(i, new ObjectMapper().createArrayNode());
                default -> a.set(i, com.fasterxml.jackson.databind.node.TextNode.valueOf(TOKENS[r.nextInt(TOKENS.length)]));
            }
        }
    }

    private static void collect(JsonNode n, List<JsonNode> out) {
        if (n.isContainerNode()) {
            out.add(n);
            Iterator<JsonNode> it = n.elements();
            while (it.hasNext()) {
                collect(it.next(), out);
            }
        }
    }
}
