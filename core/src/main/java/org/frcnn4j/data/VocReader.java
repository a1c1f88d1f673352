package org.frcnn4j.data;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Stream;
import javax.xml.XMLConstants;
import javax.xml.parsers.DocumentBuilder;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.parsers.ParserConfigurationException;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.Node;
import org.w3c.dom.NodeList;

/**
 * Reads the VOCdevkit layout: {@code Annotations/<id>.xml}, {@code JPEGImages/<id>.jpg} and
 * {@code ImageSets/Main/<split>.txt}.
 *
 * <p>The class order is the one given by the caller, else the lines of {@code classes.txt} or {@code voc.names} in the
 * dataset folder, else the sorted names found in all of {@code Annotations/}. Pixel coordinates are 1-based in VOC
 * XML and become 0-based here (see {@link GroundTruthBox}).
 */
public final class VocReader {
    /** Files in the dataset folder that may give the class order, one name a line. */
    public static final List<String> CLASS_FILES = List.of("classes.txt", "voc.names");

    private VocReader() {}

    public static Dataset read(Path root, String split, List<String> classNames) {
        Path annotations = root.resolve("Annotations");
        List<String> ids = split == null ? allIds(annotations) : readLines(splitFile(root, split));
        ClassList classes = ClassList.of(classNames != null ? classNames : defaultClasses(root, annotations));
        Map<String, Integer> labels = classes.labelsByName();
        DocumentBuilder xml = newParser();
        List<Annotation> images = new ArrayList<>();
        List<Problem> problems = new ArrayList<>();
        for (String id : ids) {
            Path file = annotations.resolve(id + ".xml");
            if (!Files.isRegularFile(file)) {
                throw new DatasetException(file, "missing annotation file for image id '" + id + "'");
            }
            images.add(readOne(xml, root, id, file, labels, problems));
        }
        return new Dataset(Dataset.Format.VOC, classes, images, problems);
    }

    /** {@code ImageSets/Main/<split>.txt}, or a clear error listing the splits there are. */
    public static Path splitFile(Path root, String split) {
        Path file = root.resolve("ImageSets").resolve("Main").resolve(split + ".txt");
        if (!Files.isRegularFile(file)) {
            List<String> known = new ArrayList<>();
            try (Stream<Path> s = Files.list(file.getParent())) {
                s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".txt") && !n.contains("_"))
                        .sorted().forEach(n -> known.add(n.substring(0, n.length() - 4)));
            } catch (IOException ignored) {
                // the folder itself is missing: the message below says so
            }
            throw new DatasetException(file, "no such split '" + split + "'"
                    + (known.isEmpty() ? "" : " (splits here: " + String.join(", ", known) + ")"));
        }
        return file;
    }

    private static List<String> allIds(Path annotations) {
        try (Stream<Path> s = Files.list(annotations)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".xml"))
                    .map(n -> n.substring(0, n.length() - 4)).sorted().toList();
        } catch (IOException e) {
            throw new DatasetException(annotations, "cannot list: " + e.getMessage(), e);
        }
    }

    static List<String> readLines(Path file) {
        try {
            return Files.readAllLines(file, StandardCharsets.UTF_8).stream()
                    .map(l -> l.trim().split("\\s+")[0]).filter(l -> !l.isEmpty()).toList();
        } catch (IOException e) {
            throw new DatasetException(file, "cannot read: " + e.getMessage(), e);
        }
    }

    private static List<String> defaultClasses(Path root, Path annotations) {
        for (String name : CLASS_FILES) {
            Path f = root.resolve(name);
            if (Files.isRegularFile(f)) {
                return readLines(f);
            }
        }
        DocumentBuilder xml = newParser();
        TreeSet<String> names = new TreeSet<>();
        for (String id : allIds(annotations)) {
            Path file = annotations.resolve(id + ".xml");
            for (Element o : children(parse(xml, file).getDocumentElement(), "object")) {
                names.add(text(o, "name"));
            }
        }
        return List.copyOf(names);
    }

    private static Annotation readOne(DocumentBuilder xml, Path root, String id, Path file,
                                      Map<String, Integer> labels, List<Problem> problems) {
        Element doc = parse(xml, file).getDocumentElement();
        Path image = imagePath(root, id, doc);
        int width = 0;
        int height = 0;
        Element size = child(doc, "size");
        if (size != null) {
            width = (int) number(file, size, "width");
            height = (int) number(file, size, "height");
        }
        if (width <= 0 || height <= 0) {
            // Some tools write <size> as 0 or leave it out: the image itself knows.
            int[] wh = Images.size(image);
            if (wh == null) {
                throw new DatasetException(file, "no usable <size> and the image " + image + " cannot be read");
            }
            width = wh[0];
            height = wh[1];
        }
        List<GroundTruthBox> objects = new ArrayList<>();
        for (Element o : children(doc, "object")) {
            String name = text(o, "name");
            Integer label = labels.get(name);
            if (label == null) {
                problems.add(new Problem(file, "unknown class '" + name + "' (classes: " + labels.size() + " known)"));
                continue;
            }
            Element bb = child(o, "bndbox");
            if (bb == null) {
                throw new DatasetException(file, "object '" + name + "' has no <bndbox>");
            }
            double xmin = number(file, bb, "xmin");
            double ymin = number(file, bb, "ymin");
            double xmax = number(file, bb, "xmax");
            double ymax = number(file, bb, "ymax");
            String box = "box [" + fmt(xmin) + ", " + fmt(ymin) + ", " + fmt(xmax) + ", " + fmt(ymax) + "] of '" + name + "'";
            if (xmax < xmin || ymax < ymin) {
                problems.add(new Problem(file, box + " has negative size"));
                continue;
            }
            if (xmax == xmin || ymax == ymin) {
                problems.add(new Problem(file, box + " has zero size"));
                continue;
            }
            if (xmin < 1 || ymin < 1 || xmax > width || ymax > height) {
                problems.add(new Problem(file, box + " lies outside the " + width + "x" + height
                        + " image (VOC pixels run from 1 to the width/height)"));
                continue;
            }
            boolean difficult = "1".equals(optionalText(o, "difficult"));
            double x1 = xmin - 1;
            double y1 = ymin - 1;
            double x2 = xmax - 1;
            double y2 = ymax - 1;
            objects.add(new GroundTruthBox(label, x1, y1, x2, y2, difficult, false, (x2 - x1 + 1) * (y2 - y1 + 1)));
        }
        return new Annotation(id, image, width, height, objects);
    }

    private static Path imagePath(Path root, String id, Element doc) {
        Path images = root.resolve("JPEGImages");
        Path byId = images.resolve(id + ".jpg");
        if (Files.exists(byId)) {
            return byId;
        }
        String filename = optionalText(doc, "filename");
        if (filename != null && !filename.isBlank() && Files.exists(images.resolve(filename.trim()))) {
            return images.resolve(filename.trim());
        }
        return byId;
    }

    private static String fmt(double v) {
        return v == Math.rint(v) ? Long.toString((long) v) : Double.toString(v);
    }

    private static DocumentBuilder newParser() {
        try {
            DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
            // Annotation files come from anywhere: no DTDs, no external entities.
            f.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
            f.setAttribute(XMLConstants.ACCESS_EXTERNAL_DTD, "");
            f.setAttribute(XMLConstants.ACCESS_EXTERNAL_SCHEMA, "");
            f.setExpandEntityReferences(false);
            return f.newDocumentBuilder();
        } catch (ParserConfigurationException e) {
            throw new IllegalStateException(e);
        }
    }

    private static Document parse(DocumentBuilder xml, Path file) {
        xml.setErrorHandler(null);
        try {
            return xml.parse(file.toFile());
        } catch (org.xml.sax.SAXParseException e) {
            throw new DatasetException(file, "malformed XML at line " + e.getLineNumber() + ": " + e.getMessage(), e);
        } catch (org.xml.sax.SAXException | IOException e) {
            throw new DatasetException(file, "malformed XML: " + e.getMessage(), e);
        }
    }

    private static List<Element> children(Element parent, String tag) {
        List<Element> out = new ArrayList<>();
        NodeList nodes = parent.getChildNodes();
        for (int i = 0; i < nodes.getLength(); i++) {
            Node n = nodes.item(i);
            if (n instanceof Element e && e.getTagName().equals(tag)) {
                out.add(e);
            }
        }
        return out;
    }

    private static Element child(Element parent, String tag) {
        List<Element> c = children(parent, tag);
        return c.isEmpty() ? null : c.get(0);
    }

    private static String optionalText(Element parent, String tag) {
        Element c = child(parent, tag);
        return c == null ? null : c.getTextContent().trim();
    }

    private static String text(Element parent, String tag) {
        String t = optionalText(parent, tag);
        return t == null ? "" : t;
    }

    private static double number(Path file, Element parent, String tag) {
        String t = optionalText(parent, tag);
        if (t == null) {
            throw new DatasetException(file, "<" + parent.getTagName() + "> has no <" + tag + ">");
        }
        try {
            double v = Double.parseDouble(t);
            if (!Double.isFinite(v)) {
                throw new NumberFormatException();
            }
            return v;
        } catch (NumberFormatException e) {
            throw new DatasetException(file, "<" + tag + "> is not a number: '" + t + "'");
        }
    }
}
