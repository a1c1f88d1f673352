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

    /**
     * Reads every annotation of the split. Nothing in one file stops the others: each problem (a missing or malformed
     * file, a missing element, an impossible box, an unknown class) is recorded against its file, the objects or
     * files it affects are left out, and the rest is read.
     */
    public static Dataset read(Path root, String split, List<String> classNames) {
        Path annotations = root.resolve("Annotations");
        List<String> ids = split == null ? allIds(annotations) : readLines(splitFile(root, split));
        ClassList classes = ClassList.of(classNames != null ? classNames : defaultClasses(root, annotations));
        Map<String, Integer> labels = classes.labelsByName();
        DocumentBuilder xml = newParser();
        List<Annotation> images = new ArrayList<>();
        List<Problem> problems = new ArrayList<>();
        java.util.Set<String> seen = new java.util.HashSet<>();
        java.util.Set<String> leftOut = new java.util.HashSet<>();
        for (String id : ids) {
            Path file = annotations.resolve(id + ".xml");
            if (!seen.add(id)) {
                problems.add(new Problem(file, "image id '" + id + "' is listed twice" + (split == null ? "" : " in split " + split)));
                continue;
            }
            if (!Files.isRegularFile(file)) {
                problems.add(new Problem(file, "missing annotation file for image id '" + id + "'"));
                leftOut.add(id);
                continue;
            }
            try {
                Annotation a = readOne(xml, root, id, file, labels, problems);
                if (a != null) {
                    images.add(a);
                } else {
                    leftOut.add(id);
                }
            } catch (DatasetException e) {
                problems.add(new Problem(file, e.reason()));
                leftOut.add(id);
            }
        }
        return new Dataset(Dataset.Format.VOC, classes, images, problems, leftOut);
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
            throw new DatasetException(file, "cannot read: " + org.frcnn4j.io.IoErrors.reason(e), e);
        }
    }

    private static List<String> defaultClasses(Path root, Path annotations) {
        for (String name : CLASS_FILES) {
            Path f = root.resolve(name);
            if (Files.exists(f, java.nio.file.LinkOption.NOFOLLOW_LINKS)) { // a folder or a broken link is refused, not skipped
                return ClassList.readNames(f);
            }
        }
        DocumentBuilder xml = newParser();
        TreeSet<String> names = new TreeSet<>();
        for (String id : allIds(annotations)) {
            Path file = annotations.resolve(id + ".xml");
            try {
                for (Element o : children(parse(xml, file).getDocumentElement(), "object")) {
                    String name = text(o, "name");
                    if (!name.isEmpty()) {
                        names.add(name);
                    }
                }
            } catch (DatasetException e) {
                // reported, with everything else wrong with the file, when the file itself is read
            }
        }
        return List.copyOf(names);
    }

    /** One annotation file; null when the file is unusable (its problem recorded). Objects with problems are left out. */
    private static Annotation readOne(DocumentBuilder xml, Path root, String id, Path file,
                                      Map<String, Integer> labels, List<Problem> problems) {
        Element doc = parse(xml, file).getDocumentElement();
        if (!doc.getTagName().equals("annotation")) {
            problems.add(new Problem(file, "not a VOC annotation: the root element is <" + doc.getTagName() + ">"));
            return null;
        }
        Path image = imagePath(root, id, doc);
        int width = 0;
        int height = 0;
        Element size = child(doc, "size");
        if (size != null) {
            try {
                width = pixels(number(file, size, "width"));
                height = pixels(number(file, size, "height"));
            } catch (DatasetException e) {
                problems.add(new Problem(file, e.reason()));
                return null;
            }
        }
        if (width <= 0 || height <= 0) {
            // Some tools write <size> as 0 (or as no whole number) or leave it out: the image itself knows.
            int[] wh = Images.size(image);
            if (wh == null) {
                problems.add(new Problem(file, (size == null ? "no <size>" : "<size> is " + width + "x" + height)
                        + " and the image " + image.getFileName() + " cannot be read to tell"));
                return null;
            }
            width = wh[0];
            height = wh[1];
        }
        List<GroundTruthBox> objects = new ArrayList<>();
        int index = 0;
        for (Element o : children(doc, "object")) {
            index++;
            String name = text(o, "name");
            if (name.isEmpty()) {
                problems.add(new Problem(file, "object " + index + " has no <name>"));
                continue;
            }
            Integer label = labels.get(name);
            if (label == null) {
                problems.add(new Problem(file, "unknown class '" + name + "' (" + knownClasses(labels) + ")"));
                continue;
            }
            Element bb = child(o, "bndbox");
            if (bb == null) {
                problems.add(new Problem(file, "object " + index + " ('" + name + "') has no <bndbox>"));
                continue;
            }
            double xmin;
            double ymin;
            double xmax;
            double ymax;
            boolean difficult;
            try {
                xmin = number(file, bb, "xmin");
                ymin = number(file, bb, "ymin");
                xmax = number(file, bb, "xmax");
                ymax = number(file, bb, "ymax");
                difficult = flag(file, o, "difficult");
            } catch (DatasetException e) {
                problems.add(new Problem(file, "object " + index + " ('" + name + "'): " + e.reason()));
                continue;
            }
            String box = "box [" + fmt(xmin) + ", " + fmt(ymin) + ", " + fmt(xmax) + ", " + fmt(ymax) + "] of '" + name + "'";
            if (xmin < 0 || ymin < 0 || xmax < 0 || ymax < 0) {
                problems.add(new Problem(file, box + " has a negative coordinate"));
                continue;
            }
            if (xmax < xmin || ymax < ymin) {
                problems.add(new Problem(file, box + " is inverted (max < min)"));
                continue;
            }
            if (xmax == xmin || ymax == ymin) {
                problems.add(new Problem(file, box + " has zero area"));
                continue;
            }
            if (xmin < 1 || ymin < 1 || xmax > width || ymax > height) {
                problems.add(new Problem(file, box + " lies outside the " + width + "x" + height
                        + " image (VOC pixels run from 1 to the width/height)"));
                continue;
            }
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

    /** Errors become exceptions (and so problems), never lines on standard error. */
    private static final org.xml.sax.ErrorHandler QUIET = new org.xml.sax.ErrorHandler() {
        @Override
        public void warning(org.xml.sax.SAXParseException e) {}

        @Override
        public void error(org.xml.sax.SAXParseException e) throws org.xml.sax.SAXException {
            throw e;
        }

        @Override
        public void fatalError(org.xml.sax.SAXParseException e) throws org.xml.sax.SAXException {
            throw e;
        }
    };

    private static Document parse(DocumentBuilder xml, Path file) {
        xml.setErrorHandler(QUIET); // the default handler prints every error to standard error as well
        try {
            return xml.parse(file.toFile());
        } catch (org.xml.sax.SAXParseException e) {
            throw new DatasetException(file, "malformed XML at line " + e.getLineNumber() + ": " + oneLine(e.getMessage()), e);
        } catch (org.xml.sax.SAXException e) {
            throw new DatasetException(file, "malformed XML: " + oneLine(e.getMessage()), e);
        } catch (IOException e) {
            throw new DatasetException(file, "cannot read: " + oneLine(e.getMessage()), e);
        }
    }

    private static String oneLine(String s) {
        return s == null ? "" : s.replaceAll("\\s+", " ").trim();
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

    /**
     * A 0/1 flag such as {@code <difficult>}: absent or empty is 0. Anything else is a problem rather than a guess
     * ({@code maybe} read as 0 would quietly make a hard box count against the detector).
     */
    private static boolean flag(Path file, Element parent, String tag) {
        String t = optionalText(parent, tag);
        if (t == null || t.isEmpty() || t.equals("0")) {
            return false;
        }
        if (t.equals("1")) {
            return true;
        }
        throw new DatasetException(file, "<" + tag + "> is '" + oneLine(t) + "', not 0 or 1");
    }

    /** A <size> value as whole pixels, or 0 (the image's own size is taken then) for 40.7 or 1e12. */
    private static int pixels(double v) {
        return v == Math.rint(v) && v >= 0 && v <= Integer.MAX_VALUE ? (int) v : 0;
    }

    private static double number(Path file, Element parent, String tag) {
        String t = optionalText(parent, tag);
        if (t == null) {
            throw new DatasetException(file, "<" + parent.getTagName() + "> has no <" + tag + ">");
        }
        try {
            double v = Decimals.parse(t);
            if (!Double.isFinite(v)) {
                throw new NumberFormatException();
            }
            return v;
        } catch (NumberFormatException e) {
            throw new DatasetException(file, "<" + tag + "> is not a number: '" + oneLine(t) + "'");
        }
    }

    /** The classes an object's name may take, for a message: all of them when few, else how many (in label order). */
    private static String knownClasses(Map<String, Integer> labels) {
        if (labels.size() > 6) {
            return "classes: " + labels.size() + " known";
        }
        List<String> names = new ArrayList<>(labels.keySet());
        names.sort(java.util.Comparator.comparing(labels::get));
        return "classes: " + String.join(", ", names);
    }
}
