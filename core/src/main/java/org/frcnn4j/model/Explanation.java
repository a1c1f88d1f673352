package org.frcnn4j.model;

import ai.djl.ndarray.NDManager;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.frcnn4j.anchor.AnchorConfig;
import org.frcnn4j.box.BoxCoder;
import org.frcnn4j.box.Boxes;
import org.frcnn4j.head.DetectionPostprocessor;
import org.frcnn4j.rpn.ProposalGenerator;
import org.frcnn4j.rpn.RegionProposalNetwork;
import org.frcnn4j.transform.ImageTransform;

/**
 * One image's way through the network, as the paper's figures draw it (Figure 1c, 2 and 3): the feature map's grid,
 * the k anchors of one sliding-window position with their objectness and regressed boxes, the objectness of every
 * position, the proposals before and after NMS, and which proposals the head turned into detections. Every box is in
 * the original image's pixels. Built by {@link #of}; the served page's "how it works" view draws it.
 *
 * @param width       the original image's width
 * @param height      its height
 * @param inputWidth  the network input's width (after the resize, before padding)
 * @param inputHeight its height
 * @param levels      each feature level's grid and objectness
 * @param cell        the asked-for sliding-window position
 * @param beforeNms   the best proposals that went into NMS, best first
 * @param afterNms    the proposals NMS kept (the head's input), best first
 * @param detections  the final detections, best first
 * @param millis      time per stage (transform, backbone, rpn, roi, head, postprocess)
 */
public record Explanation(int width, int height, int inputWidth, int inputHeight, List<Level> levels, Cell cell,
                          ScoredBoxes beforeNms, ScoredBoxes afterNms, List<Found> detections, Map<String, Double> millis) {

    /**
     * A feature level: a {@code rows x cols} grid whose positions are {@code cellWidth x cellHeight} original pixels
     * apart (the stride over the resize factor).
     *
     * @param objectness per position (row-major), the highest objectness of its anchors
     * @param bestAnchor per position, which of its anchors that was (0..k-1)
     */
    public record Level(String name, int rows, int cols, int strideY, int strideX, float cellWidth, float cellHeight,
                        List<Double> sizes, List<Double> ratios, float[] objectness, int[] bestAnchor) {}

    /**
     * A sliding-window position (paper, Figure 3): the 3x3 window the RPN's conv sees there and its k anchors.
     *
     * @param window the 3x3 window's extent (x1, y1, x2, y2)
     */
    public record Cell(int level, int row, int col, float[] window, List<CellAnchor> anchors) {}

    /**
     * One anchor of a position: its scale and aspect ratio, its box, the network's objectness and deltas
     * (tx, ty, tw, th) for it, and the box those deltas regress it to (paper, equation 2), clipped to the image.
     */
    public record CellAnchor(double size, double ratio, float[] anchor, float objectness, float[] deltas,
                             float[] box) {}

    /** Boxes (n x 4, flat) with their scores, best first. */
    public record ScoredBoxes(float[] boxes, float[] scores) {
        public int count() {
            return scores.length;
        }
    }

    /** A detection and the row of {@link #afterNms()} it came from. */
    public record Found(int label, String className, float score, float[] box, int proposal) {}

    /**
     * Runs the model on {@code image} and records what the figures need.
     *
     * @param level     the feature level of the cell to explain, or -1 for the position of highest objectness
     * @param row       its row (ignored when level is -1; clamped to the grid)
     * @param col       its column
     * @param maxBefore at most this many proposals before NMS are kept (the best ones)
     */
    public static Explanation of(FasterRcnn model, BufferedImage image, int level, int row, int col, int maxBefore) {
        FasterRcnnConfig config = model.config();
        if (config.proposals() != FasterRcnnConfig.Proposals.RPN) {
            throw new IllegalStateException("this model takes Selective Search's boxes; it has no RPN to explain");
        }
        try (NDManager step = model.parameters().manager().newSubManager()) {
            long t0 = System.nanoTime();
            ImageTransform.Transformed t = model.transform().apply(image, step);
            double transformMs = (System.nanoTime() - t0) / 1e6;
            FasterRcnn.Forward f = model.forward(t);
            RegionProposalNetwork.Result rpn = f.rpn();
            RegionProposalNetwork.Trace trace = rpn.trace();
            float rx = t.ratioX();
            float ry = t.ratioY();
            List<Level> levels = new ArrayList<>();
            AnchorConfig anchors = config.anchors();
            for (int l = 0; l < trace.levels().size(); l++) {
                RegionProposalNetwork.Grid g = trace.levels().get(l);
                levels.add(level(f.features().names().get(l), g, trace.objectness(), rx, ry, anchors.sizesOf(l),
                        anchors.ratios()));
            }
            checkCell(levels.size(), level, row, col);
            Cell cell = cell(levels, trace, rpn, t, config.plusOne(), level, row, col);
            ProposalGenerator.Candidates c = trace.beforeNms();
            int[] order = bestFirst(c.scores(), maxBefore);
            ScoredBoxes before = new ScoredBoxes(t.toOriginal(Boxes.select(c.boxes(), order)), Boxes.select1(c.scores(), order));
            ProposalGenerator.Proposals p = rpn.proposals();
            ScoredBoxes after = new ScoredBoxes(t.toOriginal(p.boxes()), p.scores());
            DetectionPostprocessor.Result d = f.detections();
            float[] boxes = t.toOriginal(d.boxes());
            List<Found> found = new ArrayList<>();
            for (int i = 0; i < d.count(); i++) {
                int label = d.labels()[i];
                found.add(new Found(label, config.className(label), d.scores()[i],
                        Arrays.copyOfRange(boxes, 4 * i, 4 * i + 4), d.sources()[i]));
            }
            return new Explanation(t.originalWidth(), t.originalHeight(), t.width(), t.height(), List.copyOf(levels),
                    cell, before, after, List.copyOf(found), f.millisByStage(Map.of("transform", transformMs)));
        }
    }

    private static Level level(String name, RegionProposalNetwork.Grid g, float[] objectness, float rx, float ry,
                               double[] sizes, double[] ratios) {
        int positions = g.height() * g.width();
        int k = g.anchorsPerPosition();
        float[] best = new float[positions];
        int[] which = new int[positions];
        for (int p = 0; p < positions; p++) {
            int first = g.firstAnchor() + p * k;
            int arg = 0;
            for (int a = 1; a < k; a++) {
                if (objectness[first + a] > objectness[first + arg]) {
                    arg = a;
                }
            }
            best[p] = objectness[first + arg];
            which[p] = arg;
        }
        return new Level(name, g.height(), g.width(), g.strideY(), g.strideX(), g.strideX() * rx, g.strideY() * ry,
                Arrays.stream(sizes).boxed().toList(), Arrays.stream(ratios).boxed().toList(), best, which);
    }

    /** A cell asked for is -1 (the strongest) or on a level the model has, at a row and column of 0 or more. */
    private static void checkCell(int levels, int level, int row, int col) {
        if (level < -1 || level >= levels) {
            throw new org.frcnn4j.io.BadInputException("explain: level " + level + " is not one of this model's "
                    + levels + " feature levels (0.." + (levels - 1) + ", or -1 for the most object-like position)");
        }
        if (level >= 0 && (row < 0 || col < 0)) {
            throw new org.frcnn4j.io.BadInputException("explain: row and col must be 0 or more (past the grid they are "
                    + "clamped to its edge), got row " + row + ", col " + col);
        }
    }

    private static Cell cell(List<Level> levels, RegionProposalNetwork.Trace trace, RegionProposalNetwork.Result rpn,
                             ImageTransform.Transformed t, boolean plusOne, int level, int row, int col) {
        if (level < 0 || level >= levels.size()) {
            // the most object-like position of all levels
            float top = Float.NEGATIVE_INFINITY;
            for (int l = 0; l < levels.size(); l++) {
                float[] o = levels.get(l).objectness();
                for (int p = 0; p < o.length; p++) {
                    if (o[p] > top) {
                        top = o[p];
                        level = l;
                        row = p / levels.get(l).cols();
                        col = p % levels.get(l).cols();
                    }
                }
            }
        }
        Level lv = levels.get(level);
        RegionProposalNetwork.Grid g = trace.levels().get(level);
        row = Math.max(0, Math.min(lv.rows() - 1, row));
        col = Math.max(0, Math.min(lv.cols() - 1, col));
        int k = g.anchorsPerPosition();
        int first = g.firstAnchor() + (row * lv.cols() + col) * k;
        float[] anchorBoxes = Arrays.copyOfRange(rpn.anchors(), 4 * first, 4 * (first + k));
        float[] deltas = Arrays.copyOfRange(trace.deltas(), 4 * first, 4 * (first + k));
        // the RPN's coder: unit weights (torchvision's RPN and py-faster-rcnn's bbox_transform_inv alike)
        float[] regressed = new BoxCoder(new float[] {1, 1, 1, 1}, plusOne).decode(deltas, anchorBoxes);
        Boxes.clipInPlace(regressed, t.height(), t.width(), plusOne);
        float[] anchorsOriginal = t.toOriginal(anchorBoxes);
        float[] regressedOriginal = t.toOriginal(regressed);
        int nSizes = lv.sizes().size();
        List<CellAnchor> out = new ArrayList<>();
        for (int a = 0; a < k; a++) {
            // anchors are ratio-major at every position (py-faster-rcnn's generate_anchors, torchvision's
            // AnchorGenerator alike)
            out.add(new CellAnchor(lv.sizes().get(a % nSizes), lv.ratios().get(a / nSizes),
                    Arrays.copyOfRange(anchorsOriginal, 4 * a, 4 * a + 4), trace.objectness()[first + a],
                    Arrays.copyOfRange(deltas, 4 * a, 4 * a + 4), Arrays.copyOfRange(regressedOriginal, 4 * a, 4 * a + 4)));
        }
        float[] window = t.toOriginal(new float[] {(col - 1) * g.strideX(), (row - 1) * g.strideY(),
            (col + 2) * g.strideX(), (row + 2) * g.strideY()});
        return new Cell(level, row, col, window, List.copyOf(out));
    }

    /** Indices of the {@code n} highest scores, best first (equal scores in their original order). */
    private static int[] bestFirst(float[] scores, int n) {
        Integer[] idx = new Integer[scores.length];
        for (int i = 0; i < idx.length; i++) {
            idx[i] = i;
        }
        Arrays.sort(idx, (a, b) -> Float.compare(scores[b], scores[a]));
        int[] out = new int[Math.min(n, idx.length)];
        for (int i = 0; i < out.length; i++) {
            out[i] = idx[i];
        }
        return out;
    }
}
