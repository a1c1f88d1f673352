package org.frcnn4j.box;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

class IouTest {
    @Test
    void continuousConvention() {
        // two 10x10 boxes overlapping in a 5x10 strip: 50 / 150
        assertThat(Iou.of(0, 0, 10, 10, 5, 0, 15, 10, false)).isCloseTo(1.0 / 3, within(1e-12));
        float[] m = Iou.matrix(new float[] {0, 0, 10, 10}, new float[] {5, 0, 15, 10, 20, 20, 30, 30}, false);
        assertThat(m[0]).isCloseTo(1f / 3, within(1e-6f));
        assertThat(m[1]).isZero();
    }

    @Test
    void vocPlusOneConvention() {
        // pixels 0..9 and 5..14: 11x... widths 10, overlap 5 columns: 50 / (100 + 100 - 50)
        assertThat(Iou.of(0, 0, 9, 9, 5, 0, 14, 9, true)).isCloseTo(1.0 / 3, within(1e-12));
        // touching boxes share a pixel column under +1, none without it
        assertThat(Iou.of(0, 0, 9, 9, 9, 0, 18, 9, true)).isCloseTo(10.0 / 190, within(1e-12));
        assertThat(Iou.of(0, 0, 9, 9, 9, 0, 18, 9, false)).isZero();
    }

    @Test
    void matrixIsRowMajorAndSymmetric() {
        float[] a = BoxCoderTest.randomBoxes(new java.util.Random(1), 7);
        float[] b = BoxCoderTest.randomBoxes(new java.util.Random(2), 5);
        float[] ab = Iou.matrix(a, b, true);
        float[] ba = Iou.matrix(b, a, true);
        for (int i = 0; i < 7; i++) {
            for (int j = 0; j < 5; j++) {
                assertThat(ab[i * 5 + j]).isCloseTo(ba[j * 7 + i], within(1e-6f));
                assertThat((double) ab[i * 5 + j]).isCloseTo(Iou.of(a[4 * i], a[4 * i + 1], a[4 * i + 2], a[4 * i + 3],
                        b[4 * j], b[4 * j + 1], b[4 * j + 2], b[4 * j + 3], true), within(1e-6));
            }
        }
    }

    @Test
    void clipAndSmallBoxRemoval() {
        float[] boxes = {-5, -5, 700, 300, 10, 10, 20, 20, 10, 10, 40, 12};
        Boxes.clipInPlace(boxes, 200, 600, true);
        assertThat(boxes).startsWith(0, 0, 599, 199);
        Boxes.clipInPlace(boxes, 200, 600, false);
        assertThat(Boxes.keepAtLeast(boxes, 11, true)).containsExactly(0, 1); // 11x11 kept, 31x3 dropped
        assertThat(Boxes.keepAtLeast(boxes, 11, false)).containsExactly(0);
    }
}
