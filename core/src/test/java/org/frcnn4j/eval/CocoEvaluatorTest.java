package org.frcnn4j.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.ArrayList;
import java.util.List;
import org.frcnn4j.data.Annotation;
import org.frcnn4j.data.ClassList;
import org.frcnn4j.data.Dataset;
import org.frcnn4j.data.Detection;
import org.frcnn4j.data.GroundTruthBox;
import org.junit.jupiter.api.Test;

/** Hand cases whose COCOeval figures follow from its definitions. */
class CocoEvaluatorTest {
    private static GroundTruthBox box(int label, double x, double y, double w, double h, boolean crowd) {
        return new GroundTruthBox(label, x, y, x + w, y + h, false, crowd, w * h);
    }

    private static Dataset gt(List<Annotation> images, int classes) {
        List<String> names = new ArrayList<>();
        for (int i = 0; i < classes; i++) {
            names.add("c" + i);
        }
        return new Dataset(Dataset.Format.COCO, ClassList.of(names), images, List.of());
    }

    @Test
    void perfectDetectionsScoreOne() {
        Dataset g = gt(List.of(new Annotation("1", null, 640, 480, List.of(box(0, 10, 10, 50, 50, false), box(0, 200, 200, 150, 150, false)))), 1);
        List<Detection> d = List.of(new Detection("1", 0, 10, 10, 60, 60, 0.9), new Detection("1", 0, 200, 200, 350, 350, 0.8));
        CocoEvaluator.Result r = CocoEvaluator.evaluate(g, d);
        assertThat(r.get("AP")).isCloseTo(1.0, within(1e-12));
        assertThat(r.get("AR1")).isCloseTo(0.5, within(1e-12)); // one detection per image finds one of two boxes
        assertThat(r.get("AR100")).isCloseTo(1.0, within(1e-12));
        assertThat(r.get("APs")).isEqualTo(-1.0); // no small box: nothing to measure
        assertThat(r.get("APm")).isCloseTo(1.0, within(1e-12)); // 50x50 = 2500 is medium
        assertThat(r.get("APl")).isCloseTo(1.0, within(1e-12));
    }

    @Test
    void iouSixTenthsCountsAtThreeOfTenThresholds() {
        // detection [0,0,100,60] vs box [0,0,100,100]: IoU 0.6 >= .50, .55, .60 only
        Dataset g = gt(List.of(new Annotation("1", null, 640, 480, List.of(box(0, 0, 0, 100, 100, false)))), 1);
        CocoEvaluator.Result r = CocoEvaluator.evaluate(g, List.of(new Detection("1", 0, 0, 0, 100, 60, 0.5)));
        assertThat(r.get("AP")).isCloseTo(0.3, within(1e-12));
        assertThat(r.get("AP50")).isCloseTo(1.0, within(1e-12));
        assertThat(r.get("AP75")).isCloseTo(0.0, within(1e-12));
        assertThat(r.get("AR100")).isCloseTo(0.3, within(1e-12));
    }

    @Test
    void falsePositiveAboveTheTruePositive() {
        // FP at .9, TP at .8, one box: precision at recall 1 is 1/2 -> every recall point 0.5
        Dataset g = gt(List.of(new Annotation("1", null, 640, 480, List.of(box(0, 0, 0, 100, 100, false)))), 1);
        List<Detection> d = List.of(new Detection("1", 0, 300, 300, 400, 400, 0.9), new Detection("1", 0, 0, 0, 100, 100, 0.8));
        CocoEvaluator.Result r = CocoEvaluator.evaluate(g, d);
        assertThat(r.get("AP")).isCloseTo(0.5, within(1e-9));
        assertThat(r.get("AR1")).isCloseTo(0.0, within(1e-12)); // the single best-scored detection is the FP
    }

    @Test
    void crowdRegionsSwallowDetectionsAndCategoriesWithoutTruthAreSkipped() {
        // class 0: one real box and a crowd region; class 1: no ground truth at all
        Dataset g = gt(List.of(new Annotation("7", null, 640, 480, List.of(
                box(0, 0, 0, 100, 100, false), box(0, 300, 300, 200, 100, true)))), 2);
        List<Detection> d = List.of(
                new Detection("7", 0, 310, 310, 360, 360, 0.95), // inside the crowd: IoU = inter / det area = 1 -> ignored
                new Detection("7", 0, 400, 300, 450, 350, 0.94), // also inside the same crowd: crowds match many
                new Detection("7", 0, 0, 0, 100, 100, 0.5),
                new Detection("7", 1, 0, 0, 10, 10, 0.99));      // class without truth: left out of the mean
        CocoEvaluator.Result r = CocoEvaluator.evaluate(g, d);
        assertThat(r.get("AP")).isCloseTo(1.0, within(1e-9));
        assertThat(r.get("AR100")).isCloseTo(1.0, within(1e-9));
    }

    @Test
    void stableTieOrderAcrossImagesInIdOrder() {
        // equal scores: image 2's FP comes after image 10's TP? ids sort numerically (2 < 10), so image 2's FP first
        Dataset g = gt(List.of(
                new Annotation("10", null, 640, 480, List.of(box(0, 0, 0, 100, 100, false))),
                new Annotation("2", null, 640, 480, List.of())), 1);
        List<Detection> d = List.of(new Detection("10", 0, 0, 0, 100, 100, 0.7), new Detection("2", 0, 0, 0, 100, 100, 0.7));
        // sorted: FP (image 2) then TP (image 10): precision at recall 1 is 0.5
        assertThat(CocoEvaluator.evaluate(g, d).get("AP")).isCloseTo(0.5, within(1e-9));
    }

    @Test
    void maxDetsPerImageAndCategory() {
        List<GroundTruthBox> boxes = new ArrayList<>();
        List<Detection> dets = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            boxes.add(box(0, 40 * i, 0, 30, 30, false));
            dets.add(new Detection("1", 0, 40 * i, 0, 40 * i + 30, 30, 0.9 - 0.01 * i));
        }
        Dataset g = gt(List.of(new Annotation("1", null, 640, 480, boxes)), 1);
        CocoEvaluator.Result r = CocoEvaluator.evaluate(g, dets);
        assertThat(r.get("AR1")).isCloseTo(1.0 / 12, within(1e-12));
        assertThat(r.get("AR10")).isCloseTo(10.0 / 12, within(1e-12));
        assertThat(r.get("AR100")).isCloseTo(1.0, within(1e-12));
        assertThat(r.get("APs")).isCloseTo(1.0, within(1e-12)); // 30x30 = 900 < 32^2
    }

    @Test
    void proposalRecallArithmetic() {
        Dataset g = gt(List.of(new Annotation("1", null, 640, 480, List.of(
                box(0, 0, 0, 100, 100, false), box(0, 200, 200, 100, 100, false)))), 1);
        // proposal 0 covers box 0 with IoU 0.6; proposal 1 covers box 1 exactly but ranks second
        float[] p = {0, 0, 100, 60, 200, 200, 300, 300};
        ProposalRecall top1 = ProposalRecall.of(g, java.util.Map.of("1", p), 1, false);
        ProposalRecall top2 = ProposalRecall.of(g, java.util.Map.of("1", p), 2, false);
        assertThat(top1.recall(0.5)).isEqualTo(0.5);
        assertThat(top1.recall(0.7)).isEqualTo(0.0);
        assertThat(top2.recall(0.7)).isEqualTo(0.5);
        // box 1 at all 10 thresholds, box 0 at 3 (0.5, 0.55, 0.6): (10 + 3) / 20
        assertThat(top2.averageRecall()).isCloseTo(13.0 / 20, within(1e-12));
    }
}
