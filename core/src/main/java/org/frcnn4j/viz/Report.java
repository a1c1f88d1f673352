package org.frcnn4j.viz;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.frcnn4j.data.Annotation;
import org.frcnn4j.data.Dataset;
import org.frcnn4j.data.Detection;
import org.frcnn4j.data.GroundTruthBox;
import org.frcnn4j.eval.VocEvaluator;
import org.frcnn4j.io.AtomicFiles;
import org.frcnn4j.model.FasterRcnn;

/**
 * The page of a training run ({@code index.html} in the run folder): the mAP, the loss curves beside the test mAP
 * measured during training, the precision-recall curve of each class, and every test image with its ground truth and
 * detections in two colours, true and false positives marked, per-image counts, worst first, with a score slider.
 * The numbers go to {@code report-data.js}; the drawing is the served page's ({@code draw.js}), so both show boxes
 * alike. It opens from disk (file://): no server, nothing fetched from elsewhere.
 */
public final class Report {
    /** The drawing code the report and the served page share (a classpath resource). */
    public static final String DRAW_JS = "/org/frcnn4j/viz/web/draw.js";
    private static final String WEB = "/org/frcnn4j/viz/web/";
    /** At most this many points of a curve go into the page (a 20,000-iteration log needs no more). */
    private static final int MAX_POINTS = 600;

    private Report() {}

    /**
     * Writes {@code dir/index.html} (with {@code report.js}, {@code report.css}, {@code draw.js},
     * {@code report-data.js} and {@code images/}) from the test set, the model's detections on it (labels 0..K-1),
     * and the run folder's {@code log.csv} and {@code val.csv} when present; returns the page.
     *
     * @param lossPng the loss curves as a picture (linked beside the interactive ones), or null
     */
    public static Path write(Path dir, FasterRcnn model, Dataset test, List<Detection> detections, double voc07,
                             double vocArea, String lossPng) throws IOException {
        Path images = Files.createDirectories(dir.resolve("images"));
        ObjectMapper mapper = new ObjectMapper();
        ObjectNode data = mapper.createObjectNode();
        data.put("preset", model.config().preset());
        ArrayNode classes = data.putArray("classes");
        test.classes().names().forEach(classes::add);
        data.put("voc07_mAP", voc07).put("area_mAP", vocArea).put("test_images", test.images().size());
        if (lossPng != null) {
            data.put("loss_png", lossPng);
        }
        curves(data, dir);
        VocEvaluator.Result eval = VocEvaluator.evaluate(test, detections, VocEvaluator.Options.voc07());
        ArrayNode pr = data.putArray("precision_recall");
        for (VocEvaluator.ClassResult c : eval.perClass()) {
            ObjectNode o = pr.addObject();
            o.put("name", c.name()).put("ap", c.ap()).put("positives", c.positives()).put("detections", c.detections());
            int step = Math.max(1, c.recall().length / MAX_POINTS);
            ArrayNode r = o.putArray("recall");
            ArrayNode p = o.putArray("precision");
            for (int i = 0; i < c.recall().length; i += step) {
                r.add(round(c.recall()[i]));
                p.add(round(c.precision()[i]));
            }
        }
        int[] matches = VocEvaluator.matches(test, detections, VocEvaluator.Options.voc07());
        ArrayNode list = data.putArray("images");
        for (Annotation a : test.images()) {
            ObjectNode o = list.addObject();
            o.put("id", a.imageId());
            o.put("file", "images/" + copyImage(a, images));
            ArrayNode gt = o.putArray("truth");
            for (GroundTruthBox b : a.objects()) {
                ObjectNode g = gt.addObject();
                // crowd regions count as difficult ones do: neither found nor missed (VocEvaluator ignores both)
                g.put("label", b.label()).put("difficult", b.difficult() || b.crowd());
                g.putArray("box").add(b.x1()).add(b.y1()).add(b.x2()).add(b.y2());
            }
            ArrayNode dets = o.putArray("detections");
            for (int i = 0; i < detections.size(); i++) {
                Detection d = detections.get(i);
                if (d.imageId().equals(a.imageId())) {
                    ObjectNode x = dets.addObject();
                    x.put("label", d.label()).put("score", round(d.score()));
                    x.putArray("box").add(round(d.x1())).add(round(d.y1())).add(round(d.x2())).add(round(d.y2()));
                    x.put("match", matches[i]);
                }
            }
        }
        for (String asset : List.of("draw.js", "report.js", "report.css", "index.html")) {
            AtomicFiles.write(dir.resolve(asset), resource(WEB + (asset.equals("index.html") ? "report.html" : asset)));
        }
        AtomicFiles.write(dir.resolve("report-data.js"), "const REPORT = " + mapper.writeValueAsString(data) + ";\n");
        return dir.resolve("index.html");
    }

    /** The loss log and the validation log of the run folder, thinned to at most {@link #MAX_POINTS} rows. */
    private static void curves(ObjectNode data, Path dir) throws IOException {
        Path log = dir.resolve("log.csv");
        if (Files.exists(log)) {
            List<String> rows = Files.readAllLines(log, StandardCharsets.UTF_8);
            ObjectNode loss = data.putObject("loss");
            if (!rows.isEmpty()) {
                String[] header = rows.get(0).split(",");
                List<String[]> values = new ArrayList<>();
                for (String r : rows.subList(1, rows.size())) {
                    String[] v = r.split(",");
                    if (v.length == header.length) {
                        values.add(v);
                    }
                }
                int step = Math.max(1, values.size() / MAX_POINTS);
                for (int c = 0; c < header.length; c++) {
                    if (List.of("iteration", "total", "rpn_objectness", "rpn_box", "classifier", "box_regression")
                            .contains(header[c])) {
                        ArrayNode col = loss.putArray(header[c]);
                        for (int i = 0; i < values.size(); i += step) {
                            col.add(number(values.get(i)[c]));
                        }
                        if (!values.isEmpty() && (values.size() - 1) % step != 0) {
                            col.add(number(values.get(values.size() - 1)[c])); // the last iteration, always
                        }
                    }
                }
            }
        }
        Path val = dir.resolve("val.csv");
        if (Files.exists(val)) {
            ArrayNode it = data.putObject("validation").putArray("iteration");
            ArrayNode map = ((ObjectNode) data.get("validation")).putArray("voc07_mAP");
            for (String r : Files.readAllLines(val, StandardCharsets.UTF_8)) {
                String[] v = r.split(",");
                if (v.length == 2 && !v[0].equals("iteration")) {
                    it.add(number(v[0]));
                    map.add(number(v[1]));
                }
            }
        }
    }

    /** The image file beside the page (a copy; other formats than the browser's own become PNG). */
    private static String copyImage(Annotation a, Path images) throws IOException {
        String name = a.imageFile().getFileName().toString();
        String ext = name.contains(".") ? name.substring(name.lastIndexOf('.') + 1).toLowerCase(Locale.ROOT) : "";
        String safe = a.imageId().replaceAll("[^A-Za-z0-9._-]", "_");
        if (List.of("jpg", "jpeg", "png", "gif", "bmp").contains(ext)) {
            AtomicFiles.write(images.resolve(safe + "." + ext), Files.readAllBytes(a.imageFile()));
            return safe + "." + ext;
        }
        java.awt.image.BufferedImage img = org.frcnn4j.data.Images.readRgb(a.imageFile());
        java.io.ByteArrayOutputStream png = new java.io.ByteArrayOutputStream();
        javax.imageio.ImageIO.write(img, "png", png);
        AtomicFiles.write(images.resolve(safe + ".png"), png.toByteArray());
        return safe + ".png";
    }

    private static byte[] resource(String name) throws IOException {
        try (InputStream in = Report.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IOException("missing resource " + name);
            }
            return in.readAllBytes();
        }
    }

    private static double number(String s) {
        try {
            return Double.parseDouble(s);
        } catch (NumberFormatException e) {
            return Double.NaN;
        }
    }

    private static double round(double v) {
        return Math.round(v * 1e4) / 1e4;
    }
}
