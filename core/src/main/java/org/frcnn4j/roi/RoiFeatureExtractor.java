package org.frcnn4j.roi;

import ai.djl.ndarray.NDArray;
import org.frcnn4j.nn.FeatureMaps;

/**
 * Pools a fixed-size feature grid for each region of interest from the shared feature map (Fast R-CNN, section 2.1;
 * the paper's 7x7). Both implementations are differentiable with respect to the feature map, so training can pass
 * gradients through them; the region coordinates get none (approximate joint training, paper section 3.2).
 */
public interface RoiFeatureExtractor {
    /**
     * @param features (1, C, H, W), one image's feature map
     * @param rois     regions in input-image pixels (n x 4, flat)
     * @param training whether gradients will flow back (an implementation may pick a form with a cheaper backward)
     * @return (n, C, size, size)
     */
    NDArray extract(NDArray features, float[] rois, boolean training);

    /**
     * The regions pooled from one image's feature maps: a single map's own way, or by level for a pyramid.
     *
     * @param inputHeight the network input's height (torchvision infers a pyramid level's scale from it)
     */
    default NDArray extract(FeatureMaps features, float[] rois, int inputHeight, boolean training) {
        return extract(features.get(0), rois, training);
    }

    /** The extractor a configuration names, for a backbone of the given stride and number of pooling levels. */
    static RoiFeatureExtractor create(RoiConfig config, int stride, int levels) {
        if (levels > 1) {
            if (config.op() != RoiConfig.RoiOp.ALIGN) {
                throw new IllegalArgumentException("a feature pyramid pools regions with RoIAlign, not " + config.op());
            }
            return new MultiScaleRoiAlign(config);
        }
        float scale = 1f / stride;
        return switch (config.op()) {
            case POOL -> new RoiPool(config.outputSize(), scale);
            case ALIGN -> new RoiAlign(config.outputSize(), scale, config.samplingRatio(), config.aligned());
        };
    }
}
