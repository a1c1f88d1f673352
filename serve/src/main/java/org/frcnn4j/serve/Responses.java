package org.frcnn4j.serve;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.awt.image.BufferedImage;
import java.util.Map;
import org.frcnn4j.model.Detector;
import org.frcnn4j.model.Explanation;
import org.frcnn4j.model.FasterRcnnConfig;

/** The service's JSON answers (snake_case, boxes as [x1, y1, x2, y2] in the original image's pixels). */
final class Responses {
    private Responses() {}

    /** {@code /v1/detect}: the image's size, the detections at or above {@code threshold}, the stage times. */
    static ObjectNode detections(ObjectMapper mapper, Detector detector, BufferedImage image, Detector.Timed result,
                                 float threshold) {
        ObjectNode out = mapper.createObjectNode();
        out.put("width", image.getWidth()).put("height", image.getHeight());
        ArrayNode list = out.putArray("detections");
        for (Detector.DetectedBox b : result.boxes()) {
            if (b.score() < threshold) {
                continue;
            }
            ObjectNode o = list.addObject();
            o.put("category_id", detector.config().categoryId(b.label()));
            o.put("category_name", b.className());
            o.put("score", b.score());
            o.putArray("box").add(b.x1()).add(b.y1()).add(b.x2()).add(b.y2());
        }
        millis(out, result.millis());
        return out;
    }

    /** {@code /v1/model}. */
    static ObjectNode model(ObjectMapper mapper, Detector detector, ServeOptions options) {
        FasterRcnnConfig c = detector.config();
        ObjectNode out = mapper.createObjectNode();
        out.put("preset", c.preset());
        out.put("backbone", c.backbone().architecture().name().toLowerCase(java.util.Locale.ROOT));
        out.put("feature_pyramid", c.backbone().fpn() != null);
        out.put("proposals", c.proposals() == FasterRcnnConfig.Proposals.RPN ? "rpn" : "selective_search");
        out.put("precision", options.precision().toString());
        ArrayNode classes = out.putArray("classes");
        for (int label = 1; label <= c.classNames().size(); label++) {
            classes.addObject().put("label", label).put("category_id", c.categoryId(label))
                    .put("name", c.classNames().get(label - 1));
        }
        out.putObject("input").put("min_size", c.transform().minSize()).put("max_size", c.transform().maxSize());
        ObjectNode anchors = out.putObject("anchors");
        anchors.put("style", c.anchors().style().name().toLowerCase(java.util.Locale.ROOT));
        ArrayNode sizes = anchors.putArray("sizes"); // per feature level
        for (int level = 0; level < c.anchors().levels(); level++) {
            ArrayNode l = sizes.addArray();
            for (double s : c.anchors().sizesOf(level)) {
                l.add(s);
            }
        }
        ArrayNode ratios = anchors.putArray("ratios");
        for (double r : c.anchors().ratios()) {
            ratios.add(r);
        }
        out.putObject("rpn").put("pre_nms_top_n", c.rpn().preNmsTopNTest()).put("post_nms_top_n",
                c.rpn().postNmsTopNTest()).put("nms_thresh", c.rpn().nmsThreshold());
        out.putObject("head").put("score_thresh", c.head().scoreThreshold()).put("nms_thresh",
                c.head().nmsThreshold()).put("detections_per_img", c.head().detectionsPerImage());
        out.putObject("service").put("workers", options.workers()).put("max_queue", options.maxQueue())
                .put("max_image_megapixels", options.maxPixels() / 1e6)
                .put("request_timeout_s", options.requestTimeout().toMillis() / 1000.0);
        return out;
    }

    /** {@code /v1/explain}: everything the page's "how it works" panels draw. */
    static ObjectNode explanation(ObjectMapper mapper, Explanation e) {
        ObjectNode out = mapper.createObjectNode();
        out.put("width", e.width()).put("height", e.height());
        out.put("input_width", e.inputWidth()).put("input_height", e.inputHeight());
        ArrayNode levels = out.putArray("levels");
        for (Explanation.Level l : e.levels()) {
            ObjectNode o = levels.addObject();
            o.put("name", l.name()).put("rows", l.rows()).put("cols", l.cols());
            o.put("stride_y", l.strideY()).put("stride_x", l.strideX());
            o.put("cell_width", l.cellWidth()).put("cell_height", l.cellHeight());
            ArrayNode sizes = o.putArray("sizes");
            l.sizes().forEach(sizes::add);
            ArrayNode ratios = o.putArray("ratios");
            l.ratios().forEach(ratios::add);
            ArrayNode obj = o.putArray("objectness");
            for (float v : l.objectness()) {
                obj.add(round(v, 4));
            }
            ArrayNode best = o.putArray("best_anchor");
            for (int a : l.bestAnchor()) {
                best.add(a);
            }
        }
        Explanation.Cell c = e.cell();
        ObjectNode cell = out.putObject("cell");
        cell.put("level", c.level()).put("row", c.row()).put("col", c.col());
        box(cell.putArray("window"), c.window(), 0);
        ArrayNode anchors = cell.putArray("anchors");
        for (Explanation.CellAnchor a : c.anchors()) {
            ObjectNode o = anchors.addObject();
            o.put("size", a.size()).put("ratio", a.ratio()).put("objectness", a.objectness());
            box(o.putArray("anchor"), a.anchor(), 0);
            ArrayNode d = o.putArray("deltas");
            for (float v : a.deltas()) {
                d.add(v);
            }
            box(o.putArray("box"), a.box(), 0);
        }
        scored(out.putObject("before_nms"), e.beforeNms());
        scored(out.putObject("after_nms"), e.afterNms());
        ArrayNode dets = out.putArray("detections");
        for (Explanation.Found f : e.detections()) {
            ObjectNode o = dets.addObject();
            o.put("label", f.label()).put("category_name", f.className()).put("score", f.score());
            box(o.putArray("box"), f.box(), 0);
            o.put("proposal", f.proposal());
        }
        millis(out, e.millis());
        return out;
    }

    /** {@code /v1/selective-search}: its time and its first boxes (the old pipeline's proposal step). */
    static ObjectNode selectiveSearch(ObjectMapper mapper, float[] boxes, double millis) {
        ObjectNode out = mapper.createObjectNode();
        out.put("count", boxes.length / 4);
        out.put("millis", round(millis, 1));
        ArrayNode list = out.putArray("boxes");
        for (int i = 0; i < Math.min(boxes.length / 4, 300); i++) {
            box(list.addArray(), boxes, i);
        }
        return out;
    }

    private static void scored(ObjectNode out, Explanation.ScoredBoxes s) {
        ArrayNode boxes = out.putArray("boxes");
        ArrayNode scores = out.putArray("scores");
        for (int i = 0; i < s.count(); i++) {
            ArrayNode b = boxes.addArray();
            for (int k = 0; k < 4; k++) {
                b.add(round(s.boxes()[4 * i + k], 2));
            }
            scores.add(round(s.scores()[i], 5));
        }
    }

    private static void box(ArrayNode out, float[] boxes, int i) {
        for (int k = 0; k < 4; k++) {
            out.add(boxes[4 * i + k]);
        }
    }

    private static void millis(ObjectNode out, Map<String, Double> millis) {
        ObjectNode ms = out.putObject("millis");
        millis.forEach((k, v) -> ms.put(k, round(v, 2)));
    }

    private static double round(double v, int digits) {
        double f = Math.pow(10, digits);
        return Math.round(v * f) / f;
    }
}
