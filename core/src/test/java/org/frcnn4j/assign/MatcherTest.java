package org.frcnn4j.assign;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import org.frcnn4j.box.Iou;
import org.junit.jupiter.api.Test;

class MatcherTest {
    @Test
    void thresholdsAndBestMatchRule() {
        float[] gt = {0, 0, 100, 100, 300, 300, 340, 340};
        float[] anchors = {
            0, 0, 100, 100,    // 0: IoU 1 with gt 0 -> positive (gt 0)
            0, 0, 100, 80,     // 1: IoU .8 -> positive
            0, 0, 100, 50,     // 2: IoU .5 -> ignored
            0, 0, 100, 20,     // 3: IoU .2 -> negative
            300, 300, 400, 400, // 4: IoU .16 with gt 1, its best anchor -> positive by the second rule
            500, 500, 600, 600, // 5: nothing -> negative
            300, 300, 400, 400, // 6: tie with 4 for gt 1 -> positive too
        };
        float[] iou = Iou.matrix(gt, anchors, false);
        int[] m = Matcher.rpnDefault().match(iou, 2, 7);
        assertThat(m).containsExactly(0, 0, Matcher.IGNORED, Matcher.NEGATIVE, 1, Matcher.NEGATIVE, 1);
        int[] noBest = new Matcher(0.7f, 0.3f, false).match(iou, 2, 7);
        assertThat(noBest[4]).isEqualTo(Matcher.NEGATIVE);
    }

    @Test
    void highThresholdIsInclusiveAsBothImplementations() {
        float[] iou = {0.7f, 0.3f, 0.29999f};
        assertThat(new Matcher(0.7f, 0.3f, false).match(iou, 1, 3))
                .containsExactly(0, Matcher.IGNORED, Matcher.NEGATIVE);
    }

    @Test
    void noGroundTruthGivesOnlyNegatives() {
        assertThat(Matcher.rpnDefault().match(new float[0], 0, 3)).containsOnly(Matcher.NEGATIVE);
    }

    @Test
    void samplerIsBalancedAndDeterministic() {
        int[] matches = new int[1000];
        for (int i = 0; i < 1000; i++) {
            matches[i] = i < 40 ? 0 : i < 100 ? Matcher.IGNORED : Matcher.NEGATIVE;
        }
        BalancedSampler s = new BalancedSampler(256, 0.5f);
        BalancedSampler.Sample a = s.sample(matches, new Random(11));
        BalancedSampler.Sample b = s.sample(matches, new Random(11));
        assertThat(a.positives()).hasSize(40); // fewer than 128 positives: all of them
        assertThat(a.negatives()).hasSize(216); // the rest of the 256 are negatives
        assertThat(a.positives()).containsExactly(b.positives());
        assertThat(a.negatives()).containsExactly(b.negatives());
        assertThat(java.util.Arrays.stream(a.negatives()).allMatch(i -> i >= 100)).isTrue();
        assertThat(a.negatives()).doesNotHaveDuplicates();

        int[] many = new int[1000]; // 500 positives, 500 negatives
        for (int i = 0; i < 1000; i++) {
            many[i] = i % 2 == 0 ? 3 : Matcher.NEGATIVE;
        }
        BalancedSampler.Sample c = s.sample(many, new Random(1));
        assertThat(c.positives()).hasSize(128);
        assertThat(c.negatives()).hasSize(128);
        assertThat(s.sample(many, new Random(2)).positives()).isNotEqualTo(c.positives());
        BalancedSampler.Sample rois = new BalancedSampler(128, 0.25f).sample(many, new Random(1));
        assertThat(rois.positives()).hasSize(32);
        assertThat(rois.negatives()).hasSize(96);
    }
}
