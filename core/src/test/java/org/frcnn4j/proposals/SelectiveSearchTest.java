package org.frcnn4j.proposals;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.frcnn4j.data.Annotation;
import org.frcnn4j.data.Dataset;
import org.frcnn4j.data.GroundTruthBox;
import org.frcnn4j.data.Images;
import org.frcnn4j.eval.ProposalRecall;
import org.frcnn4j.testing.SharedData;
import org.junit.jupiter.api.Test;

class SelectiveSearchTest {
    /** Four flat quadrants of distinct colours, plus a little noise. */
    static BufferedImage quadrants() {
        BufferedImage img = new BufferedImage(80, 60, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setColor(new Color(200, 30, 30));
        g.fillRect(0, 0, 40, 30);
        g.setColor(new Color(30, 200, 30));
        g.fillRect(40, 0, 40, 30);
        g.setColor(new Color(30, 30, 200));
        g.fillRect(0, 30, 40, 30);
        g.setColor(new Color(220, 220, 40));
        g.fillRect(40, 30, 40, 30);
        g.dispose();
        java.util.Random r = new java.util.Random(1);
        for (int i = 0; i < 300; i++) {
            int x = r.nextInt(80), y = r.nextInt(60);
            int c = img.getRGB(x, y) & 0xffffff;
            img.setRGB(x, y, c ^ 0x030303);
        }
        return img;
    }

    @Test
    void segmentationFindsTheFourRegions() {
        BufferedImage img = quadrants();
        float[][] planes = ColorSpaces.HSV.convert(img);
        int[] labels = GraphSegmentation.segment(planes, 80, 60, 0, 100, 20); // sigma 0: no blurred seams
        Set<Integer> distinct = new HashSet<>();
        for (int l : labels) {
            distinct.add(l);
        }
        assertThat(distinct).hasSize(4);
        // every quadrant is one label, and the quadrants' labels differ
        int[][] corners = {{5, 5}, {75, 5}, {5, 55}, {75, 55}};
        Set<Integer> seen = new HashSet<>();
        for (int[] c : corners) {
            int label = labels[c[1] * 80 + c[0]];
            seen.add(label);
            int qx = c[0] < 40 ? 0 : 40, qy = c[1] < 30 ? 0 : 30;
            for (int y = qy; y < qy + 30; y++) {
                for (int x = qx; x < qx + 40; x++) {
                    assertThat(labels[y * 80 + x]).isEqualTo(label);
                }
            }
        }
        assertThat(seen).hasSize(4);
    }

    @Test
    void smallKGivesMoreSegmentsThanLargeK() {
        BufferedImage img = Images.readRgb(SharedData.bundled("raccoon").resolve("JPEGImages/raccoon-17.jpg"));
        float[][] planes = ColorSpaces.LAB.convert(img);
        int w = img.getWidth(), h = img.getHeight();
        assertThat(count(GraphSegmentation.segment(planes, w, h, 0.8, 50, 50)))
                .isGreaterThan(count(GraphSegmentation.segment(planes, w, h, 0.8, 300, 300)));
    }

    private static int count(int[] labels) {
        int n = 0;
        for (int l : labels) {
            n = Math.max(n, l + 1);
        }
        return n;
    }

    @Test
    void similarityMeasuresOnHandCases() {
        SelectiveSearch.Region a = region(10, 0, 0, 4, 1, new float[] {1, 0}, new float[] {0.5f, 0.5f});
        SelectiveSearch.Region b = region(10, 5, 0, 9, 1, new float[] {0.25f, 0.75f}, new float[] {0.5f, 0.5f});
        double image = 100;
        // colour: min(1, .25) + min(0, .75) = .25; texture: .5 + .5 = 1
        assertThat(SelectiveSearch.similarity(a, b, EnumSet.of(SelectiveSearch.Similarity.COLOUR), image)).isCloseTo(0.25, within(1e-9));
        assertThat(SelectiveSearch.similarity(a, b, EnumSet.of(SelectiveSearch.Similarity.TEXTURE), image)).isCloseTo(1.0, within(1e-9));
        // size: 1 - 20/100; fill: the joint box 10x2 = 20 holds exactly both regions, so 1 - 0/100
        assertThat(SelectiveSearch.similarity(a, b, EnumSet.of(SelectiveSearch.Similarity.SIZE), image)).isCloseTo(0.8, within(1e-9));
        assertThat(SelectiveSearch.similarity(a, b, EnumSet.of(SelectiveSearch.Similarity.FILL), image)).isCloseTo(1.0, within(1e-9));
        SelectiveSearch.Region far = region(10, 50, 7, 54, 8, new float[] {1, 0}, new float[] {0.5f, 0.5f});
        // fill for distant regions: box 55 x 9 = 495 minus 20 covered: 1 - 475/100 (negative: a bad merge)
        assertThat(SelectiveSearch.similarity(a, far, EnumSet.of(SelectiveSearch.Similarity.FILL), image)).isCloseTo(1 - 475.0 / 100, within(1e-9));
    }

    private static SelectiveSearch.Region region(int size, int x1, int y1, int x2, int y2, float[] colour, float[] texture) {
        SelectiveSearch.Region r = new SelectiveSearch.Region();
        r.size = size;
        r.x1 = x1;
        r.y1 = y1;
        r.x2 = x2;
        r.y2 = y2;
        r.colour = colour;
        r.texture = texture;
        return r;
    }

    @Test
    void hierarchyEndsWithTheWholeImage() {
        BufferedImage img = quadrants();
        float[][] planes = ColorSpaces.HSV.convert(img);
        int[] labels = GraphSegmentation.segment(planes, 80, 60, 0, 100, 20); // sigma 0: no blurred seams
        List<int[]> boxes = SelectiveSearch.group(planes, labels, 80, 60, EnumSet.allOf(SelectiveSearch.Similarity.class));
        assertThat(boxes).hasSize(4 + 3); // 4 regions, 3 merges
        assertThat(boxes.get(boxes.size() - 1)).containsExactly(0, 0, 79, 59);
    }

    @Test
    void findsMostRaccoonsOnRealImages() {
        Dataset test = Dataset.open(SharedData.bundled("raccoon"), "test", null);
        Dataset few = new Dataset(test.format(), test.classes(), test.images().subList(0, 8), List.of());
        SelectiveSearch ss = SelectiveSearch.of(SelectiveSearch.Mode.FAST);
        Map<String, float[]> proposals = new HashMap<>();
        for (Annotation a : few.images()) {
            proposals.put(a.imageId(), ss.propose(Images.readRgb(a.imageFile()), 2000, 0));
        }
        ProposalRecall recall = ProposalRecall.of(few, proposals, 2000, false);
        assertThat(recall.recall(0.5)).isGreaterThanOrEqualTo(0.75);
    }
}
