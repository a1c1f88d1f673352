package org.frcnn4j.head;

import org.frcnn4j.io.Ranges;

/**
 * Read by {@link org.frcnn4j.head.FastRcnnHead} and {@link org.frcnn4j.head.DetectionPostprocessor}.
 *
 * @param numClasses           K + 1 (background is class 0)
 * @param fcSize               width of fc6 and fc7 (4096 in the paper; 1024 in torchvision's TwoMLPHead)
 * @param dropout              dropout after fc6 and fc7 in training (VGG-16 in the paper)
 * @param boxWeights           the head's box-coder weights (10, 10, 5, 5)
 * @param scoreThreshold       detections need a score above this (0.05 in py-faster-rcnn's test_net and torchvision)
 * @param nmsThreshold         per-class NMS (paper: 0.3; torchvision: 0.5)
 * @param detectionsPerImage   at most this many (100)
 * @param minBoxSize           detections smaller than this are dropped (torchvision: 0.01; paper: 0)
 * @param convLayers           3x3 convs (with batch norm and ReLU) before one fc layer of {@code fcSize}:
 *                             torchvision's FastRCNNConvFCHead (the v2 model: 256, 256, 256, 256); null or empty for
 *                             the two fc layers fc6 and fc7 of Fast R-CNN (torchvision's TwoMLPHead)
 */
public record HeadConfig(int numClasses, int fcSize, boolean dropout, float[] boxWeights, float scoreThreshold,
                         float nmsThreshold, int detectionsPerImage, float minBoxSize, java.util.List<Integer> convLayers) {
    public HeadConfig {
        // a value no detection could meet, or a negative count, is the configuration's mistake: say so on loading
        Ranges.atLeast("head.numClasses (the K classes and the background)", numClasses, 1);
        Ranges.atLeast("head.fcSize", fcSize, 1);
        Ranges.positive("head.boxWeights", boxWeights, 4);
        Ranges.unitInterval("head.scoreThreshold", scoreThreshold);
        Ranges.unitInterval("head.nmsThreshold", nmsThreshold);
        Ranges.atLeast("head.detectionsPerImage", detectionsPerImage, 1);
        Ranges.nonNegative("head.minBoxSize", minBoxSize);
        if (convLayers != null && !convLayers.isEmpty()) { // empty: Fast R-CNN's two fc layers
            Ranges.atLeast("head.convLayers", convLayers, 1);
        }
        convLayers = convLayers == null ? java.util.List.of() : java.util.List.copyOf(convLayers);
    }

    /** Fast R-CNN's two fc layers. */
    public HeadConfig(int numClasses, int fcSize, boolean dropout, float[] boxWeights, float scoreThreshold,
                      float nmsThreshold, int detectionsPerImage, float minBoxSize) {
        this(numClasses, fcSize, dropout, boxWeights, scoreThreshold, nmsThreshold, detectionsPerImage, minBoxSize, null);
    }

    public HeadConfig withNumClasses(int n) {
        return new HeadConfig(n, fcSize, dropout, boxWeights, scoreThreshold, nmsThreshold, detectionsPerImage, minBoxSize,
                convLayers);
    }

    public HeadConfig withPostprocess(float score, float nms, int perImage) {
        return new HeadConfig(numClasses, fcSize, dropout, boxWeights, score, nms, perImage, minBoxSize, convLayers);
    }
}
