package org.frcnn4j.box;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import org.junit.jupiter.api.Test;

class NmsTest {
    @Test
    void handMadeCluster() {
        float[] boxes = {
            0, 0, 10, 10, // 0: score .9
            1, 1, 11, 11, // 1: .95, overlaps 0 (IoU 81/119 = .68)
            50, 50, 60, 60, // 2: .3, alone
            0, 0, 10, 10.5f, // 3: .95 tie with 1, overlaps 0 and 1
        };
        float[] scores = {0.9f, 0.95f, 0.3f, 0.95f};
        assertThat(Nms.apply(boxes, scores, 0.5f, false)).containsExactly(1, 2);
        // at a high threshold nothing of the cluster but near-duplicates go
        assertThat(Nms.apply(boxes, scores, 0.9f, false)).containsExactly(1, 3, 2);
        assertThat(Nms.apply(boxes, scores, 0.5f, false, 1)).containsExactly(1);
    }

    @Test
    void propertiesOnRandomBoxes() {
        Random r = new Random(3);
        float[] boxes = BoxCoderTest.randomBoxes(r, 400);
        float[] scores = new float[400];
        for (int i = 0; i < 400; i++) {
            scores[i] = r.nextFloat();
        }
        for (boolean plusOne : new boolean[] {true, false}) {
            int[] keep = Nms.apply(boxes, scores, 0.5f, plusOne);
            float[] kept = Boxes.select(boxes, keep);
            float[] iou = Iou.matrix(kept, kept, plusOne);
            for (int i = 0; i < keep.length; i++) {
                for (int j = 0; j < keep.length; j++) {
                    if (i != j) {
                        assertThat(iou[i * keep.length + j]).isLessThanOrEqualTo(0.5f);
                    }
                }
                if (i > 0) {
                    assertThat(scores[keep[i]]).isLessThanOrEqualTo(scores[keep[i - 1]]);
                }
            }
            // the best box of the image is always kept, and every dropped box overlaps a kept, higher one
            assertThat(keep[0]).isEqualTo(Nms.argsortDescending(scores)[0]);
            float[] all = Iou.matrix(boxes, kept, plusOne);
            for (int b = 0; b < 400; b++) {
                final int box = b;
                if (java.util.Arrays.stream(keep).noneMatch(k -> k == box)) {
                    boolean covered = false;
                    for (int k = 0; k < keep.length; k++) {
                        covered |= all[b * keep.length + k] > 0.5f && scores[keep[k]] >= scores[b];
                    }
                    assertThat(covered).isTrue();
                }
            }
        }
    }

    /**
     * Nms visits boxes in score-order copies and skips no pair; the greedy rule written plainly (skip suppressed and
     * non-overlapping pairs, IoU by division) must give the same indices: touching and empty boxes, equal scores,
     * thresholds 0 to 1, both pixel conventions, a cap on the kept count.
     */
    @Test
    void sameDecisionsAsThePlainGreedyRule() {
        Random r = new Random(11);
        for (int trial = 0; trial < 20; trial++) {
            int n = 50 + r.nextInt(300);
            float[] boxes = new float[4 * n];
            float[] scores = new float[n];
            for (int i = 0; i < n; i++) {
                float x = r.nextInt(60), y = r.nextInt(60);
                float w = r.nextInt(4) == 0 ? 0 : r.nextInt(30), h = r.nextInt(5) == 0 ? 0 : r.nextInt(30);
                boxes[4 * i] = x;
                boxes[4 * i + 1] = y;
                boxes[4 * i + 2] = x + w;
                boxes[4 * i + 3] = y + h;
                scores[i] = r.nextInt(20) / 20f; // many ties
            }
            for (boolean plusOne : new boolean[] {true, false}) {
                for (float t : new float[] {0f, 0.3f, 0.5f, 0.7f, 1f}) {
                    assertThat(Nms.apply(boxes, scores, t, plusOne)).containsExactly(plainGreedy(boxes, scores, t, plusOne, n));
                    assertThat(Nms.apply(boxes, scores, t, plusOne, 7)).containsExactly(plainGreedy(boxes, scores, t, plusOne, 7));
                }
            }
        }
    }

    private static int[] plainGreedy(float[] boxes, float[] scores, float threshold, boolean plusOne, int maxKeep) {
        int n = scores.length;
        int[] order = Nms.argsortDescending(scores);
        float one = plusOne ? 1 : 0;
        boolean[] suppressed = new boolean[n];
        java.util.List<Integer> keep = new java.util.ArrayList<>();
        for (int oi = 0; oi < n && keep.size() < maxKeep; oi++) {
            int i = order[oi];
            if (suppressed[i]) {
                continue;
            }
            keep.add(i);
            float ai = (boxes[4 * i + 2] - boxes[4 * i] + one) * (boxes[4 * i + 3] - boxes[4 * i + 1] + one);
            for (int oj = oi + 1; oj < n; oj++) {
                int j = order[oj];
                float iw = Math.min(boxes[4 * i + 2], boxes[4 * j + 2]) - Math.max(boxes[4 * i], boxes[4 * j]) + one;
                float ih = Math.min(boxes[4 * i + 3], boxes[4 * j + 3]) - Math.max(boxes[4 * i + 1], boxes[4 * j + 1]) + one;
                if (suppressed[j] || iw <= 0 || ih <= 0) {
                    continue;
                }
                float aj = (boxes[4 * j + 2] - boxes[4 * j] + one) * (boxes[4 * j + 3] - boxes[4 * j + 1] + one);
                float inter = iw * ih;
                suppressed[j] = inter / (ai + aj - inter) > threshold;
            }
        }
        return keep.stream().mapToInt(Integer::intValue).toArray();
    }

    @Test
    void batchedNmsNeverSuppressesAcrossClasses() {
        float[] boxes = {0, 0, 10, 10, 0, 0, 10, 10, 0, 0, 10, 10};
        float[] scores = {0.5f, 0.9f, 0.7f};
        int[] classes = {0, 1, 0};
        assertThat(Nms.batched(boxes, scores, classes, 0.5f, false)).containsExactly(1, 2);
    }
}
