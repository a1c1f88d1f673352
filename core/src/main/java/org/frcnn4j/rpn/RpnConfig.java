package org.frcnn4j.rpn;

import org.frcnn4j.io.Ranges;

/**
 * Read by {@link org.frcnn4j.rpn.RpnHead} and {@link org.frcnn4j.rpn.ProposalGenerator}.
 *
 * @param convChannels   channels of the 3x3 conv (256 for ZF, 512 for VGG-16; the feature channels for an FPN)
 * @param preNmsTopNTest  proposals kept before NMS at test time (per pyramid level with several levels, as
 *                        torchvision's RPN counts them)
 * @param minSize        proposals smaller than this (input pixels) are dropped (paper: 16; torchvision: 0.001)
 * @param nmsThreshold   0.7
 * @param convDepth      3x3 convs before the two sibling layers (1; torchvision's v2 model: 2)
 * @param scoreThreshold proposals whose objectness probability is below this are dropped before NMS (torchvision's
 *                       rpn_score_thresh: 0, 0.05 for the MobileNetV3 320 model)
 */
public record RpnConfig(Objectness objectness, int convChannels, ProposalOrder order, int preNmsTopNTest,
                        int postNmsTopNTest, int preNmsTopNTrain, int postNmsTopNTrain, float nmsThreshold,
                        float minSize, int convDepth, float scoreThreshold) {
    public RpnConfig {
        Ranges.given("rpn.objectness", objectness);
        Ranges.given("rpn.order", order);
        Ranges.atLeast("rpn.convChannels", convChannels, 1);
        Ranges.atLeast("rpn.preNmsTopNTest", preNmsTopNTest, 1);
        Ranges.atLeast("rpn.postNmsTopNTest", postNmsTopNTest, 1);
        Ranges.atLeast("rpn.preNmsTopNTrain", preNmsTopNTrain, 1);
        Ranges.atLeast("rpn.postNmsTopNTrain", postNmsTopNTrain, 1);
        Ranges.unitInterval("rpn.nmsThreshold", nmsThreshold);
        Ranges.nonNegative("rpn.minSize", minSize);
        Ranges.unitInterval("rpn.scoreThreshold", scoreThreshold);
        Ranges.atLeast("rpn.convDepth", convDepth, 0);
        convDepth = Math.max(1, convDepth); // absent (0) from configurations written before it existed
    }

    /** One 3x3 conv and no score threshold (the paper's head). */
    public RpnConfig(Objectness objectness, int convChannels, ProposalOrder order, int preNmsTopNTest,
                     int postNmsTopNTest, int preNmsTopNTrain, int postNmsTopNTrain, float nmsThreshold, float minSize) {
        this(objectness, convChannels, order, preNmsTopNTest, postNmsTopNTest, preNmsTopNTrain, postNmsTopNTrain,
                nmsThreshold, minSize, 1, 0f);
    }

    public RpnConfig withTopN(int preTest, int postTest) {
        return new RpnConfig(objectness, convChannels, order, preTest, postTest, preNmsTopNTrain, postNmsTopNTrain,
                nmsThreshold, minSize, convDepth, scoreThreshold);
    }

    public RpnConfig withNmsThreshold(float t) {
        return new RpnConfig(objectness, convChannels, order, preNmsTopNTest, postNmsTopNTest, preNmsTopNTrain,
                postNmsTopNTrain, t, minSize, convDepth, scoreThreshold);
    }

    public RpnConfig withScoreThreshold(float t) {
        return new RpnConfig(objectness, convChannels, order, preNmsTopNTest, postNmsTopNTest, preNmsTopNTrain,
                postNmsTopNTrain, nmsThreshold, minSize, convDepth, t);
    }

    /** How the RPN scores objectness. */
    public enum Objectness {
        /** The paper: 2k scores, a two-class softmax per anchor. */
        SOFTMAX,
        /** torchvision: k logits, a sigmoid per anchor. */
        SIGMOID
    }

    /** The order of the proposal steps. */
    public enum ProposalOrder {
        /** py-faster-rcnn: decode, clip, drop small, top N by score, NMS, top N. */
        PAPER,
        /** torchvision: top N on raw scores, decode, clip, drop small, NMS, top N. */
        TORCHVISION
    }
}
