package org.frcnn4j.anchor;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class AnchorGeneratorTest {
    @Test
    void reproducesPyFasterRcnnBaseAnchors() {
        // generate_anchors() of py-faster-rcnn (base 16, ratios 0.5/1/2, scales 8/16/32)
        float[] expected = {
            -84, -40, 99, 55,
            -176, -88, 191, 103,
            -360, -184, 375, 199,
            -56, -56, 71, 71,
            -120, -120, 135, 135,
            -248, -248, 263, 263,
            -36, -80, 51, 95,
            -80, -168, 95, 183,
            -168, -344, 183, 359,
        };
        assertThat(AnchorGenerator.paperDefault().baseAnchors()).containsExactly(expected);
    }

    @Test
    void torchvisionStyleIsCentredAndRounded() {
        float[] a = AnchorGenerator.torchvision(new double[] {128, 256, 512}, new double[] {0.5, 1, 2}).baseAnchors();
        // ratio 0.5: w = 128 * sqrt(2) = 181.02, h = 90.51 -> [-91, -45, 91, 45] (round half to even)
        assertThat(a).startsWith(-91, -45, 91, 45);
        // ratio 1, size 256
        assertThat(java.util.Arrays.copyOfRange(a, 16, 20)).containsExactly(-128, -128, 128, 128);
        assertThat(a.length).isEqualTo(36);
    }

    @Test
    void gridOrderIsPositionThenAnchor() {
        AnchorGenerator g = AnchorGenerator.paperDefault();
        float[] grid = g.grid(2, 3, 16);
        assertThat(grid.length).isEqualTo(2 * 3 * 9 * 4);
        float[] base = g.baseAnchors();
        // cell (y=1, x=2), anchor 4 is row (1 * 3 + 2) * 9 + 4
        int row = ((1 * 3 + 2) * 9 + 4) * 4;
        assertThat(grid[row]).isEqualTo(base[16] + 32);
        assertThat(grid[row + 1]).isEqualTo(base[17] + 16);
    }

    @Test
    void aboutTwentyThousandAnchorsAndSixThousandInsideFor600x1000() {
        // VGG-16 / ZF at stride 16: 600x1000 -> a 37 x 62 feature map (floor at every pooling)
        int h = 600 / 16, w = 1000 / 16;
        float[] grid = AnchorGenerator.paperDefault().grid(h, w, 16);
        int total = grid.length / 4;
        int inside = AnchorGenerator.insideImage(grid, 600, 1000, 0).length;
        // paper, section 3.3: "roughly 20000 anchors in total"
        assertThat(total).isEqualTo(37 * 62 * 9).isBetween(19000, 21000);
        // Counted per anchor and axis: positions s = 16 i with x1 + s >= 0 and x2 + s < 1000 (likewise in y).
        // The definition gives 8151 for 600x1000; the paper rounds its figure to "about 6000".
        int expected = 0;
        float[] base = AnchorGenerator.paperDefault().baseAnchors();
        for (int a = 0; a < 9; a++) {
            int xs = 0, ys = 0;
            for (int i = 0; i < w; i++) {
                xs += base[4 * a] + 16 * i >= 0 && base[4 * a + 2] + 16 * i < 1000 ? 1 : 0;
            }
            for (int i = 0; i < h; i++) {
                ys += base[4 * a + 1] + 16 * i >= 0 && base[4 * a + 3] + 16 * i < 600 ? 1 : 0;
            }
            expected += xs * ys;
        }
        assertThat(inside).isEqualTo(expected).isEqualTo(8151);
        assertThat(inside).isBetween(5000, 9000);
    }

    @Test
    void anySetOfScalesAndRatios() {
        AnchorGenerator one = AnchorGenerator.paper(16, new double[] {1}, new double[] {8});
        assertThat(one.anchorsPerPosition()).isEqualTo(1);
        assertThat(one.baseAnchors()).containsExactly(-56, -56, 71, 71); // 128 x 128 centred on 7.5
        assertThat(AnchorGenerator.paper(16, new double[] {0.5, 1, 2}, new double[] {16}).anchorsPerPosition()).isEqualTo(3);
    }
}
