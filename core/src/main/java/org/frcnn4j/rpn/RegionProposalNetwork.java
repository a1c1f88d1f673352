package org.frcnn4j.rpn;

import ai.djl.ndarray.NDArray;
import org.frcnn4j.anchor.AnchorGenerator;
import org.frcnn4j.model.FasterRcnnConfig;
import org.frcnn4j.model.FasterRcnnConfig.Objectness;
import org.frcnn4j.model.FasterRcnnConfig.ProposalOrder;
import org.frcnn4j.model.FasterRcnnConfig.RpnConfig;
import org.frcnn4j.nn.Parameters;

/** The Region Proposal Network (paper, section 3.1): the head over the feature map, anchors, and proposal selection. */
public final class RegionProposalNetwork {
    private final RpnConfig config;
    private final RpnHead head;
    private final AnchorGenerator anchors;
    private final ProposalGenerator generator;
    private final int stride;
    private int cachedH = -1;
    private int cachedW = -1;
    private long cachedStrides = -1;
    private float[] cachedGrid;

    public RegionProposalNetwork(FasterRcnnConfig config, Parameters params, int featureChannels, int stride) {
        this.config = config.rpn();
        this.anchors = config.anchors().generator();
        this.head = new RpnHead(params, featureChannels, this.config.convChannels(), anchors.anchorsPerPosition(),
                this.config.objectness());
        this.generator = new ProposalGenerator(config.plusOne(), this.config.order(), this.config.nmsThreshold());
        this.stride = stride;
    }

    /**
     * What the RPN computed for one image.
     *
     * @param raw       the head's outputs (kept for the training losses)
     * @param anchors   every anchor, in the head's order (n x 4, flat)
     * @param proposals the selected proposals in input-image pixels, best first
     */
    public record Result(RpnHead.Output raw, float[] anchors, ProposalGenerator.Proposals proposals) {}

    /**
     * @param input      the network input (1, 3, H, W), padding included: torchvision derives the anchor strides
     *                   from it
     * @param imageScale the input's resize factor: the paper's minimum size (16 px) is in original pixels
     */
    public Result forward(NDArray features, NDArray input, int imageHeight, int imageWidth, float imageScale,
                          boolean training) {
        RpnHead.Output raw = head.forward(features);
        int h = (int) features.getShape().get(2);
        int w = (int) features.getShape().get(3);
        int strideY = stride;
        int strideX = stride;
        if (anchors.style() == AnchorGenerator.Style.TORCHVISION) {
            // torchvision's AnchorGenerator: stride = padded input size // feature size, per axis (with pooling
            // that rounds up, e.g. 224 // 15 = 14, this is not the nominal 16)
            strideY = (int) (input.getShape().get(2) / h);
            strideX = (int) (input.getShape().get(3) / w);
        }
        float[] grid = anchorGrid(h, w, strideY, strideX);
        float[] logits = raw.logits().toFloatArray();
        float[] probs = RpnHead.objectnessProbabilities(logits, config.objectness());
        float[] ranking = config.objectness() == Objectness.SIGMOID ? logits : probs;
        float minSize = config.order() == ProposalOrder.PAPER ? config.minSize() * imageScale : config.minSize();
        int pre = training ? config.preNmsTopNTrain() : config.preNmsTopNTest();
        int post = training ? config.postNmsTopNTrain() : config.postNmsTopNTest();
        ProposalGenerator.Proposals proposals = generator.generate(ranking, probs, raw.deltas().toFloatArray(), grid,
                imageHeight, imageWidth, pre, post, minSize);
        return new Result(raw, grid, proposals);
    }

    private synchronized float[] anchorGrid(int h, int w, int strideY, int strideX) {
        long key = ((long) strideY << 16) | strideX;
        if (h != cachedH || w != cachedW || key != cachedStrides) {
            cachedGrid = anchors.grid(h, w, strideY, strideX);
            cachedH = h;
            cachedW = w;
            cachedStrides = key;
        }
        return cachedGrid;
    }
}
