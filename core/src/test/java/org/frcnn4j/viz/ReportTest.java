package org.frcnn4j.viz;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.frcnn4j.data.Annotation;
import org.frcnn4j.data.Dataset;
import org.frcnn4j.data.Detection;
import org.frcnn4j.data.GroundTruthBox;
import org.frcnn4j.eval.VocEvaluator;
import org.frcnn4j.model.FasterRcnn;
import org.frcnn4j.model.Presets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The report's numbers: each detection's VOC outcome (true positive of which box, false positive, or ignored), the
 * precision-recall curves, the loss and validation logs, the images beside the page.
 */
class ReportTest {
    private static final Path RACCOON = Path.of("").toAbsolutePath().getParent().resolve("datasets/raccoon");

    @Test
    void marksTrueAndFalsePositivesAsVocCountsThem(@TempDir Path run) throws Exception {
        Dataset test = Dataset.open(RACCOON, "test", null);
        List<Detection> dets = new ArrayList<>();
        int images = 0;
        for (Annotation a : test.images()) {
            GroundTruthBox b = a.objects().get(0);
            if (images++ % 4 == 3) {
                continue; // every fourth image: its box is missed
            }
            // the box itself, a second copy at a lower score (a false positive: the box is taken) and a stray box
            dets.add(new Detection(a.imageId(), 0, b.x1(), b.y1(), b.x2(), b.y2(), 0.9));
            dets.add(new Detection(a.imageId(), 0, b.x1() + 1, b.y1(), b.x2(), b.y2() - 1, 0.8));
            dets.add(new Detection(a.imageId(), 0, 0, 0, 5, 5, 0.3));
        }
        Files.writeString(run.resolve("log.csv"), "iteration,step,lr,rpn_objectness,rpn_box,classifier,box_regression,"
                + "total,seconds\n1,1,0.001,0.69,0.1,0.7,0.2,1.69,0.5\n2,1,0.002,0.5,0.05,0.4,0.2,1.15,0.5\n");
        Files.writeString(run.resolve("val.csv"), "iteration,voc07_mAP\n1,0.25\n2,0.5\n");
        double map = VocEvaluator.evaluate(test, dets, VocEvaluator.Options.voc07()).mAP();
        try (NDManager m = NDManager.newBaseManager();
             FasterRcnn model = FasterRcnn.create(Presets.TINY.config(test.classes().names()), m, 1)) {
            Report.write(run, model, test, dets, map, 0.5, "loss.png");
        }
        String js = Files.readString(run.resolve("report-data.js"));
        assertThat(js).startsWith("const REPORT = ");
        JsonNode data = new ObjectMapper().readTree(js.substring("const REPORT = ".length(), js.lastIndexOf(';')));
        assertThat(data.get("voc07_mAP").asDouble()).isEqualTo(map);
        int tp = 0;
        int fp = 0;
        int withoutDetections = 0;
        for (JsonNode img : data.get("images")) {
            assertThat(run.resolve(img.get("file").asText())).exists();
            JsonNode d = img.get("detections");
            if (d.isEmpty()) {
                withoutDetections++;
                continue;
            }
            assertThat(d.get(0).get("match").asInt()).isEqualTo(0); // the first object of the image
            assertThat(d.get(1).get("match").asInt()).isEqualTo(VocEvaluator.FALSE_POSITIVE);
            assertThat(d.get(2).get("match").asInt()).isEqualTo(VocEvaluator.FALSE_POSITIVE);
            tp++;
            fp += 2;
        }
        assertThat(withoutDetections).isEqualTo(10);
        assertThat(tp).isEqualTo(30);
        assertThat(fp).isEqualTo(60);
        // the curve ends at the recall and precision of all detections
        JsonNode pr = data.get("precision_recall").get(0);
        JsonNode recall = pr.get("recall");
        int positives = pr.get("positives").asInt();
        assertThat(positives).isEqualTo(44);
        assertThat(recall.get(recall.size() - 1).asDouble()).isCloseTo(30.0 / 44, org.assertj.core.data.Offset.offset(1e-4));
        assertThat(pr.get("precision").get(0).asDouble()).isEqualTo(1.0);
        assertThat(data.get("loss").get("total").get(1).asDouble()).isEqualTo(1.15);
        assertThat(data.get("validation").get("voc07_mAP").get(1).asDouble()).isEqualTo(0.5);
        for (String f : List.of("index.html", "draw.js", "report.js", "report.css")) {
            assertThat(run.resolve(f)).exists();
        }
        assertThat(Files.readString(run.resolve("index.html"))).contains("draw.js").contains("report-data.js");
    }

    @Test
    void matchesAgreeWithTheAveragePrecision() throws Exception {
        // VocEvaluator.matches and evaluate share one matching: the AP recomputed from the matches is evaluate's
        Dataset test = Dataset.open(RACCOON, "test", null);
        java.util.Random random = new java.util.Random(3);
        List<Detection> dets = new ArrayList<>();
        for (Annotation a : test.images()) {
            for (GroundTruthBox b : a.objects()) {
                for (int k = 0; k < 3; k++) {
                    double dx = random.nextGaussian() * 15;
                    dets.add(new Detection(a.imageId(), 0, b.x1() + dx, b.y1() + dx, b.x2() + dx, b.y2(),
                            random.nextDouble()));
                }
            }
        }
        int[] m = VocEvaluator.matches(test, dets, VocEvaluator.Options.voc07());
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < dets.size(); i++) {
            order.add(i);
        }
        order.sort((x, y) -> Double.compare(dets.get(y).score(), dets.get(x).score()));
        double[] recall = new double[order.size()];
        double[] precision = new double[order.size()];
        double tp = 0;
        double fp = 0;
        for (int k = 0; k < order.size(); k++) {
            int v = m[order.get(k)];
            tp += v >= 0 ? 1 : 0;
            fp += v == VocEvaluator.FALSE_POSITIVE ? 1 : 0;
            recall[k] = tp / 44;
            precision[k] = tp / (tp + fp);
        }
        assertThat(tp).isBetween(10.0, 44.0);
        assertThat(VocEvaluator.elevenPointAp(recall, precision))
                .isEqualTo(VocEvaluator.evaluate(test, dets, VocEvaluator.Options.voc07()).mAP());
    }
}
