package org.frcnn4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.frcnn4j.anchor.AnchorGenerator;
import org.frcnn4j.assign.BalancedSampler;
import org.frcnn4j.assign.Matcher;
import org.frcnn4j.box.BoxCoder;
import org.frcnn4j.box.Boxes;
import org.frcnn4j.box.Iou;
import org.frcnn4j.box.Nms;
import org.frcnn4j.data.Dataset;
import org.frcnn4j.data.Detection;
import org.frcnn4j.eval.CocoEvaluator;
import org.frcnn4j.eval.DetectionFiles;
import org.frcnn4j.eval.VocEvaluator;
import org.frcnn4j.testing.SharedData;
import org.junit.jupiter.api.Test;

/** The README's Java API example, line for line (paths from the repository root), with its stated results. */
class ReadmeExampleTest {
    @Test
    void readmeExampleRuns() {
        Path toyDir = SharedData.repoRoot().resolve("datasets/eval-golden/review-toyexample");
        // --- README ---
        Dataset toy = Dataset.open(toyDir, null, null);
        List<Detection> dets = DetectionFiles.read(toyDir.resolve("results"), toy);
        double ap07 = VocEvaluator.evaluate(toy, dets, VocEvaluator.Options.voc07()).mAP();
        double cocoAp = CocoEvaluator.evaluate(toy, dets).get("AP");

        float[] anchors = AnchorGenerator.paperDefault().grid(37, 62, 16);
        int[] inside = AnchorGenerator.insideImage(anchors, 600, 1000, 0);
        float[] gt = {80, 87, 521, 407};
        int[] matches = Matcher.rpnDefault().match(Iou.matrix(gt, anchors, true), 1, anchors.length / 4);
        BalancedSampler.Sample batch = new BalancedSampler(256, 0.5f).sample(matches, new Random(0));
        float[] positives = Boxes.select(anchors, batch.positives());
        BoxCoder rpnCoder = new BoxCoder(new float[] {1, 1, 1, 1}, true);
        float[] deltas = rpnCoder.encode(Boxes.select(gt, new int[batch.positives().length]), positives);
        int[] keep = Nms.apply(positives, Boxes.areas(positives, true), 0.7f, true);
        // --- end ---
        assertThat(ap07).isCloseTo(0.886364, within(1e-6));
        // COCOeval's bbox AP (IoU .50:.95, 101 recall points), as an independent numpy transcription of its accumulate()
        // gives for these 12 boxes and their detections: 0.5979231494578029
        assertThat(cocoAp).isCloseTo(0.597923149457803, within(1e-12));
        assertThat(anchors.length / 4).isEqualTo(20646);
        assertThat(inside).hasSize(8151);
        assertThat(batch.positives().length + batch.negatives().length).isEqualTo(256);
        assertThat(deltas).hasSize(positives.length);
        assertThat(keep.length).isBetween(1, batch.positives().length);
    }
}
