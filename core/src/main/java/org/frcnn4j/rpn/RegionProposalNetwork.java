package org.frcnn4j.rpn;

import ai.djl.ndarray.NDArray;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import org.frcnn4j.anchor.AnchorConfig;
import org.frcnn4j.anchor.AnchorGenerator;
import org.frcnn4j.nn.FeatureMaps;
import org.frcnn4j.nn.Parameters;
import org.frcnn4j.nn.Scalars;
import org.frcnn4j.rpn.RpnConfig.Objectness;
import org.frcnn4j.rpn.RpnConfig.ProposalOrder;

/**
 * The Region Proposal Network (paper, section 3.1): the head slides over each feature map, anchors tile every level,
 * and the best-scored anchors, moved by their deltas, become proposals. With a feature pyramid the same head runs on
 * every level and the levels' anchors follow one another, as torchvision's RPN concatenates them.
 */
public final class RegionProposalNetwork {
    private final RpnConfig config;
    private final RpnHead head;
    private final AnchorConfig anchorConfig;
    private final List<AnchorGenerator> anchors = new ArrayList<>();
    private final ProposalGenerator generator;
    private final int stride;
    private final boolean plusOne;
    private final Map<List<Integer>, float[]> grids = new ConcurrentHashMap<>();

    /**
     * @param stride  the first level's stride (the paper style's fixed one; torchvision's strides follow the sizes)
     * @param plusOne the box convention (py-faster-rcnn's +1 pixel widths, or torchvision's continuous ones)
     */
    public RegionProposalNetwork(RpnConfig config, AnchorConfig anchorConfig, boolean plusOne, Parameters params,
                                 int featureChannels, int stride) {
        this.config = config;
        this.plusOne = plusOne;
        this.anchorConfig = anchorConfig;
        this.head = new RpnHead(params, featureChannels, config.convChannels(), anchorConfig.anchorsPerPosition(),
                config.objectness(), config.convDepth());
        this.generator = new ProposalGenerator(plusOne, config.order(), config.nmsThreshold());
        this.stride = stride;
    }

    /**
     * What the RPN computed for one image.
     *
     * @param raw       the head's outputs, every level's in turn (kept for the training losses)
     * @param anchors   every anchor, in the head's order (n x 4, flat)
     * @param proposals the selected proposals in input-image pixels, best first
     */
    public record Result(RpnHead.Output raw, float[] anchors, ProposalGenerator.Proposals proposals,
                         Trace trace) {}

    /**
     * What the RPN saw and threw away, for pictures of it (the served page's "how it works"): nothing here is needed
     * to detect.
     *
     * @param levels      each feature level's grid
     * @param objectness  per anchor (the order of {@link Result#anchors()}), the probability that it is an object
     * @param deltas      per anchor, the head's (tx, ty, tw, th)
     * @param beforeNms   the boxes that went into NMS
     */
    public record Trace(List<Grid> levels, float[] objectness, float[] deltas, ProposalGenerator.Candidates beforeNms) {}

    /**
     * One level's anchor grid: {@code height x width} positions, {@code strideY, strideX} input pixels apart, each with
     * the same {@code anchorsPerPosition} anchors; the level's anchors start at index {@code firstAnchor}.
     */
    public record Grid(int height, int width, int strideY, int strideX, int anchorsPerPosition, int firstAnchor) {}

    /**
     * @param features   one image's feature maps
     * @param input      the network input (1 or N, 3, H, W), padding included: torchvision derives the anchor strides
     *                   from it
     * @param imageScale the input's resize factor: the paper's minimum size (16 px) is in original pixels
     */
    public Result forward(FeatureMaps features, NDArray input, int imageHeight, int imageWidth, float imageScale,
                          boolean training) {
        int levels = features.levels();
        if (anchorConfig.levelSizes() != null && anchorConfig.levels() != levels) {
            throw new IllegalStateException("the anchors have " + anchorConfig.levels() + " levels, the backbone "
                    + levels);
        }
        synchronized (anchors) {
            if (anchors.isEmpty()) {
                anchors.addAll(anchorConfig.generators(levels));
            }
        }
        List<RpnHead.Output> outputs = new ArrayList<>(levels);
        List<float[]> levelGrids = new ArrayList<>(levels);
        List<Grid> shapes = new ArrayList<>(levels);
        int[] counts = new int[levels];
        int first = 0;
        for (int l = 0; l < levels; l++) {
            NDArray map = features.get(l);
            RpnHead.Output raw = head.forward(map);
            int h = (int) map.getShape().get(2);
            int w = (int) map.getShape().get(3);
            int strideY = stride;
            int strideX = stride;
            if (anchors.get(l).style() == AnchorGenerator.Style.TORCHVISION) {
                // torchvision's AnchorGenerator: stride = padded input size // feature size, per axis (with pooling
                // that rounds up, e.g. 224 // 15 = 14, this is not the nominal 16)
                strideY = (int) (input.getShape().get(2) / h);
                strideX = (int) (input.getShape().get(3) / w);
            }
            float[] grid = anchorGrid(l, h, w, strideY, strideX);
            outputs.add(raw);
            levelGrids.add(grid);
            counts[l] = grid.length / 4;
            shapes.add(new Grid(h, w, strideY, strideX, anchors.get(l).anchorsPerPosition(), first));
            first += counts[l];
        }
        RpnHead.Output raw = levels == 1 ? outputs.get(0) : RpnHead.Output.concat(outputs);
        float[] grid = levels == 1 ? levelGrids.get(0) : concat(levelGrids);
        float[] logits = raw.logits().toFloatArray();
        float[] probs = RpnHead.objectnessProbabilities(logits, config.objectness());
        float[] ranking = config.objectness() == Objectness.SIGMOID ? logits : probs;
        float minSize = config.order() == ProposalOrder.PAPER ? config.minSize() * imageScale : config.minSize();
        int pre = training ? config.preNmsTopNTrain() : config.preNmsTopNTest();
        int post = training ? config.postNmsTopNTrain() : config.postNmsTopNTest();
        float[] deltas = raw.deltas().toFloatArray();
        ProposalGenerator.Traced traced = generator.generateTraced(ranking, probs, deltas, grid,
                counts, imageHeight, imageWidth, pre, post, minSize, config.scoreThreshold());
        return new Result(raw, grid, traced.proposals(), new Trace(List.copyOf(shapes), probs, deltas,
                traced.beforeNms()));
    }

    private static float[] concat(List<float[]> parts) {
        int n = 0;
        for (float[] p : parts) {
            n += p.length;
        }
        float[] out = new float[n];
        int at = 0;
        for (float[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }

    /** Anchors of a level's grid, cached by size and stride (images of one size share them). */
    private float[] anchorGrid(int level, int h, int w, int strideY, int strideX) {
        return grids.computeIfAbsent(List.of(level, h, w, strideY, strideX),
                k -> anchors.get(level).grid(h, w, strideY, strideX));
    }

    /**
     * The RPN's two training losses for one image (paper, equation 1): log loss over the sampled anchors, and lambda
     * times smooth L1 over the positive anchors' deltas, normalised as configured.
     *
     * @param objectness     log loss over the sampled anchors
     * @param box            the weighted box regression loss
     * @param sampledAnchors how many anchors were sampled (0 when none lies inside the image and the preset ignores
     *                       cross-boundary anchors: both losses are then 0)
     */
    public record Losses(NDArray objectness, NDArray box, int sampledAnchors) {}

    /** The losses of {@code r}, computed for an image of the given size and its ground truth (input pixels). */
    public Losses losses(Result r, float[] gtBoxes, int imageHeight, int imageWidth, RpnTraining training, Random random) {
        AnchorTargets.Sample s = new AnchorTargets(training, plusOne).sample(r.anchors(), gtBoxes, imageHeight, imageWidth,
                random);
        NDArray objectness = objectnessLoss(r.raw().logits(), s);
        int positions = r.anchors().length / 4 / anchorConfig.anchorsPerPosition();
        int sampled = s.positives().length + s.negatives().length;
        float norm = training.normalization() == RpnTraining.Normalization.PAPER ? positions : Math.max(1, sampled);
        NDArray box;
        if (s.positives().length == 0) {
            box = org.frcnn4j.nn.Losses.zero(r.raw().deltas());
        } else {
            long[] idx = new long[4 * s.positives().length];
            for (int i = 0; i < s.positives().length; i++) {
                for (int j = 0; j < 4; j++) {
                    idx[4 * i + j] = 4L * s.positives()[i] + j;
                }
            }
            NDArray pred = org.frcnn4j.nn.Losses.gather(r.raw().deltas(), idx);
            NDArray target = pred.getManager().create(s.regression());
            box = Scalars.mul(org.frcnn4j.nn.Losses.smoothL1Sum(pred, target, training.beta()), training.lambda() / norm);
        }
        return new Losses(objectness, box, sampled);
    }

    /**
     * Log loss of the sampled anchors: binary on torchvision's single logit, two-class softmax on the paper's pair. With
     * no anchor sampled (an image smaller than every anchor, cross-boundary anchors ignored) it is 0, as Caffe's loss
     * layer in py-faster-rcnn divides by at least 1; the mean of nothing would be NaN and stop training.
     */
    private NDArray objectnessLoss(NDArray logits, AnchorTargets.Sample s) {
        int p = s.positives().length;
        int q = s.negatives().length;
        if (p + q == 0) {
            return org.frcnn4j.nn.Losses.zero(logits);
        }
        long[] idx = new long[p + q];
        int[] labels = new int[p + q];
        for (int i = 0; i < p; i++) {
            idx[i] = s.positives()[i];
            labels[i] = 1;
        }
        for (int i = 0; i < q; i++) {
            idx[p + i] = s.negatives()[i];
        }
        if (config.objectness() == Objectness.SIGMOID) {
            NDArray x = org.frcnn4j.nn.Losses.gather(logits, idx);
            float[] y = new float[labels.length];
            for (int i = 0; i < p; i++) {
                y[i] = 1f;
            }
            return org.frcnn4j.nn.Losses.binaryLogLoss(x, x.getManager().create(y));
        }
        NDArray rows = logits.get(logits.getManager().create(idx));
        return org.frcnn4j.nn.Losses.softmaxLogLoss(rows, labels);
    }
}
