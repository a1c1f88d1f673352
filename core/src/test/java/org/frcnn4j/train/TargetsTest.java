package org.frcnn4j.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.Random;
import org.frcnn4j.head.HeadTraining;
import org.frcnn4j.head.ProposalTargets;
import org.frcnn4j.rpn.AnchorTargets;
import org.frcnn4j.rpn.RpnTraining;
import org.junit.jupiter.api.Test;

/** Training targets on hand-made layouts whose labels follow from the paper's rules. */
class TargetsTest {
    private static final RpnTraining PAPER_RPN = new RpnTraining(256, 0.5f, 0.7f, 0.3f, true, RpnTraining.Normalization.PAPER, 10f, 1f);

    @Test
    void anchorLabelsFollowSection312() {
        // image 200 x 200; one box [20, 20, 119, 119] (+1 pixels: 100 x 100)
        float[] gt = {20, 20, 119, 119};
        float[] anchors = {
            20, 20, 119, 119,   // 0: IoU 1 -> positive
            20, 20, 119, 109,   // 1: IoU 0.9 -> positive
            20, 20, 119, 69,    // 2: IoU 0.5 -> ignored
            150, 150, 199, 199, // 3: IoU 0 -> negative
            -10, -10, 89, 89,   // 4: crosses the boundary -> ignored even though it overlaps (IoU 0.35)
            20, 20, 119, 44,    // 5: IoU 0.25 -> negative
        };
        AnchorTargets.Sample s = new AnchorTargets(PAPER_RPN, true).sample(anchors, gt, 200, 200, new Random(0));
        assertThat(s.positives()).containsExactly(0, 1);
        assertThat(s.negatives()).containsExactly(3, 5);
        // regression targets: anchor 1 (100 x 90, centre y 64.5) to the box (100 x 100, centre y 69.5)
        assertThat(s.regression()[4]).isCloseTo(0f, within(1e-6f));
        assertThat(s.regression()[5]).isCloseTo(5f / 90, within(1e-6f));
        assertThat(s.regression()[7]).isCloseTo((float) Math.log(100.0 / 90), within(1e-6f));
        // the same layout with cross-boundary anchors kept (torchvision): anchor 4 is IoU 0.35 -> ignored, still not negative
        AnchorTargets.Sample all = new AnchorTargets(new RpnTraining(256, 0.5f, 0.7f, 0.3f, false, RpnTraining.Normalization.SAMPLED, 1f, 1f), true)
                .sample(anchors, gt, 200, 200, new Random(0));
        assertThat(all.negatives()).containsExactly(3, 5);
    }

    @Test
    void bestAnchorOfABoxIsPositiveBelowThePositiveThreshold() {
        float[] gt = {0, 0, 49, 49};
        float[] anchors = {0, 0, 99, 99, 100, 100, 199, 199}; // IoU 0.25 with the box, the best there is
        AnchorTargets.Sample s = new AnchorTargets(PAPER_RPN, true).sample(anchors, gt, 200, 200, new Random(0));
        assertThat(s.positives()).containsExactly(0);
        assertThat(s.negatives()).containsExactly(1);
    }

    @Test
    void imagesWithoutObjectsGiveOnlyNegativesCappedAt256() {
        float[] anchors = new float[4 * 400];
        for (int i = 0; i < 400; i++) {
            anchors[4 * i] = i % 20 * 9;
            anchors[4 * i + 1] = i / 20 * 9;
            anchors[4 * i + 2] = anchors[4 * i] + 15;
            anchors[4 * i + 3] = anchors[4 * i + 1] + 15;
        }
        AnchorTargets.Sample s = new AnchorTargets(PAPER_RPN, true).sample(anchors, new float[0], 200, 200, new Random(0));
        assertThat(s.positives()).isEmpty();
        assertThat(s.negatives()).hasSize(256);
    }

    @Test
    void proposalTargetsAddGroundTruthAndSplitForegroundBackground() {
        float[] gt = {10, 10, 109, 109};
        int[] labels = {3};
        float[] proposals = {
            10, 10, 109, 99,    // IoU 0.9 -> foreground, class 3
            10, 10, 109, 59,    // IoU 0.5 -> foreground
            10, 10, 109, 40,    // IoU 0.31 -> background
            300, 300, 350, 350, // IoU 0 -> background with low 0, ignored with low 0.1
        };
        ProposalTargets t = new ProposalTargets(new HeadTraining(128, 0.25f, 0.5f, 0.0f, 1f, 1f), new float[] {10, 10, 5, 5}, true);
        ProposalTargets.Sample s = t.sample(proposals, gt, labels, new Random(0));
        assertThat(s.foreground()).isEqualTo(3); // two proposals and the ground truth itself
        assertThat(s.labels()).containsExactly(3, 3, 3, 0, 0);
        // the ground truth regresses to itself: zero deltas
        assertThat(java.util.Arrays.copyOfRange(s.regression(), 8, 12)).containsExactly(0f, 0f, 0f, 0f);
        // proposal 0 (100 x 90) to the box: ty = 10 * (5 / 90), th = 5 * log(100 / 90)
        assertThat(s.regression()[1]).isCloseTo(10f * 5 / 90, within(1e-5f));
        assertThat(s.regression()[3]).isCloseTo(5f * (float) Math.log(100.0 / 90), within(1e-5f));
        ProposalTargets low = new ProposalTargets(new HeadTraining(128, 0.25f, 0.5f, 0.1f, 1f, 1f), new float[] {10, 10, 5, 5}, true);
        assertThat(low.sample(proposals, gt, labels, new Random(0)).labels()).containsExactly(3, 3, 3, 0);
    }

    @Test
    void foregroundIsCappedAtAQuarterOfTheBatch() {
        float[] gt = {0, 0, 99, 99};
        float[] proposals = new float[4 * 100];
        for (int i = 0; i < 100; i++) {
            boolean fg = i < 60;
            proposals[4 * i] = fg ? 0 : 200;
            proposals[4 * i + 1] = fg ? i % 5 : 200;
            proposals[4 * i + 2] = fg ? 99 : 250;
            proposals[4 * i + 3] = fg ? 99 : 250;
        }
        ProposalTargets t = new ProposalTargets(new HeadTraining(64, 0.25f, 0.5f, 0.0f, 1f, 1f), new float[] {10, 10, 5, 5}, true);
        ProposalTargets.Sample s = t.sample(proposals, gt, new int[] {1}, new Random(0));
        assertThat(s.foreground()).isEqualTo(16);
        assertThat(s.labels()).hasSize(56); // 16 fg + all 40 backgrounds (fewer than the 48 allowed)
    }
}
