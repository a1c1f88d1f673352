package org.frcnn4j.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.frcnn4j.data.Annotation;
import org.frcnn4j.data.ClassList;
import org.frcnn4j.data.Dataset;
import org.frcnn4j.data.Detection;
import org.frcnn4j.data.GroundTruthBox;
import org.frcnn4j.testing.SharedData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Published AP values for two public detection sets (datasets/eval-golden, see its SOURCE.md). */
class GoldenApTest {
    private static final Path ODM = SharedData.bundled("eval-golden").resolve("odm-person");
    private static final Path TOY = SharedData.bundled("eval-golden").resolve("review-toyexample");

    @ParameterizedTest
    @CsvSource({
        "0.10, 0.3371980676, 0.3333333333",
        "0.30, 0.2456866804, 0.2683982683",
        "0.50, 0.0222222222, 0.0303030303",
        "0.75, 0.0,          0.0",
    })
    void odmPerson(double iou, double everyPoint, double elevenPoint) throws IOException {
        Dataset gt = odmGroundTruth();
        List<Detection> dets = odmDetections();
        VocEvaluator.Result area = VocEvaluator.evaluate(gt, dets, new VocEvaluator.Options(iou, false, true));
        VocEvaluator.Result eleven = VocEvaluator.evaluate(gt, dets, new VocEvaluator.Options(iou, true, true));
        assertThat(area.perClass().get(0).positives()).isEqualTo(15);
        assertThat(area.mAP()).isCloseTo(everyPoint, within(1e-6));
        assertThat(eleven.mAP()).isCloseTo(elevenPoint, within(1e-6));
    }

    @Test
    void odmPersonWithoutThePlusOneConventionGivesOtherValues() throws IOException {
        // the set's SOURCE.md: without +1, IoU 0.1 every-point becomes 0.2801 and IoU 0.3 becomes 0.2254
        Dataset gt = odmGroundTruth();
        List<Detection> dets = odmDetections();
        assertThat(VocEvaluator.evaluate(gt, dets, new VocEvaluator.Options(0.1, false, false)).mAP())
                .isCloseTo(0.2801, within(5e-5));
        assertThat(VocEvaluator.evaluate(gt, dets, new VocEvaluator.Options(0.3, false, false)).mAP())
                .isCloseTo(0.2254, within(5e-5));
    }

    @Test
    void odmPersonTieOrderMatters() throws IOException {
        // reversed file order breaks the .95 tie the other way: 0.3283 at IoU 0.1 (SOURCE.md)
        List<Detection> dets = new ArrayList<>(odmDetections());
        List<Detection> reversed = new ArrayList<>();
        List<String> ids = dets.stream().map(Detection::imageId).distinct().toList();
        for (int i = ids.size() - 1; i >= 0; i--) {
            String id = ids.get(i);
            dets.stream().filter(d -> d.imageId().equals(id)).forEach(reversed::add);
        }
        assertThat(VocEvaluator.evaluate(odmGroundTruth(), reversed, new VocEvaluator.Options(0.1, false, true)).mAP())
                .isCloseTo(0.3283, within(5e-5));
    }

    /** Boxes are <left> <top> <width> <height>, corners x2 = left + width; files in name order, lines in order. */
    private static Dataset odmGroundTruth() throws IOException {
        List<Annotation> images = new ArrayList<>();
        for (Path f : sorted(ODM.resolve("groundtruths"))) {
            List<GroundTruthBox> boxes = new ArrayList<>();
            for (String line : Files.readAllLines(f)) {
                String[] t = line.trim().split("\\s+");
                if (t.length == 5) {
                    double x = Double.parseDouble(t[1]), y = Double.parseDouble(t[2]);
                    double w = Double.parseDouble(t[3]), h = Double.parseDouble(t[4]);
                    boxes.add(new GroundTruthBox(0, x, y, x + w, y + h, false, false, w * h));
                }
            }
            images.add(new Annotation(stem(f), f, 1000, 1000, boxes));
        }
        return new Dataset(Dataset.Format.VOC, ClassList.of(List.of("person")), images, List.of());
    }

    private static List<Detection> odmDetections() throws IOException {
        List<Detection> dets = new ArrayList<>();
        for (Path f : sorted(ODM.resolve("detections"))) {
            for (String line : Files.readAllLines(f)) {
                String[] t = line.trim().split("\\s+");
                if (t.length == 6) {
                    double x = Double.parseDouble(t[2]), y = Double.parseDouble(t[3]);
                    double w = Double.parseDouble(t[4]), h = Double.parseDouble(t[5]);
                    dets.add(new Detection(stem(f), 0, x, y, x + w, y + h, Double.parseDouble(t[1])));
                }
            }
        }
        return dets;
    }

    @ParameterizedTest
    @CsvSource({
        "0.50, 0.886364, 0.895833",
        "0.75, 0.492424, 0.509722",
    })
    void reviewToyExampleThroughVocFiles(double iou, double elevenPoint, double everyPoint) {
        // the bundled copy is a VOCdevkit folder with the detections as results/comp4_det_test_cat.txt
        Dataset gt = Dataset.open(TOY, null, null);
        assertThat(gt.objectCount()).isEqualTo(12);
        List<Detection> dets = DetectionFiles.read(TOY.resolve("results"), gt);
        assertThat(dets).hasSize(12);
        double e = VocEvaluator.evaluate(gt, dets, new VocEvaluator.Options(iou, true, true)).mAP();
        double a = VocEvaluator.evaluate(gt, dets, new VocEvaluator.Options(iou, false, true)).mAP();
        // published to 4 digits in percent; the SOURCE's independent run gives 6
        assertThat(e).isCloseTo(elevenPoint, within(1e-6));
        assertThat(a).isCloseTo(everyPoint, within(1e-6));
    }

    static List<Path> sorted(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.toString().endsWith(".txt") || p.toString().endsWith(".xml")).sorted().toList();
        }
    }

    static String stem(Path f) {
        String n = f.getFileName().toString();
        return n.substring(0, n.lastIndexOf('.'));
    }

    @Test
    void vocResultsWithZeroBasedCategoryIdsAreRecognised(@org.junit.jupiter.api.io.TempDir Path tmp) throws IOException {
        Dataset gt = Dataset.open(TOY, null, null);
        StringBuilder json = new StringBuilder("[");
        for (String line : Files.readAllLines(TOY.resolve("results/comp4_det_test_cat.txt"))) {
            String[] t = line.split(" ");
            double x1 = Double.parseDouble(t[2]) - 1, y1 = Double.parseDouble(t[3]) - 1;
            double x2 = Double.parseDouble(t[4]) - 1, y2 = Double.parseDouble(t[5]) - 1;
            json.append(json.length() > 1 ? "," : "").append(String.format(java.util.Locale.ROOT,
                    "{\"image_id\":\"%s\",\"category_id\":0,\"bbox\":[%s,%s,%s,%s],\"score\":%s}", t[0], x1, y1, x2 - x1, y2 - y1, t[1]));
        }
        Path f = tmp.resolve("zero.json");
        Files.writeString(f, json.append("]"));
        List<Detection> dets = DetectionFiles.read(f, gt);
        assertThat(VocEvaluator.evaluate(gt, dets, VocEvaluator.Options.voc07()).mAP()).isCloseTo(0.886364, within(1e-6));
    }
}
