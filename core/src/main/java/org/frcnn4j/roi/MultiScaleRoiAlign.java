package org.frcnn4j.roi;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.List;
import org.frcnn4j.box.Boxes;
import org.frcnn4j.nn.FeatureMaps;

/**
 * RoIAlign over a feature pyramid, as torchvision's MultiScaleRoIAlign: each region is pooled from the one level that
 * suits its size (Lin et al., 2017, equation 1: k = floor(4 + log2(sqrt(w h) / 224)), clamped to the levels there
 * are), with that level's scale inferred from its size against the input's (the nearest power of two).
 */
public final class MultiScaleRoiAlign implements RoiFeatureExtractor {
    static final float CANONICAL_SCALE = 224f;
    static final float CANONICAL_LEVEL = 4f;
    static final float EPS = 1e-6f;

    private final RoiConfig config;

    public MultiScaleRoiAlign(RoiConfig config) {
        this.config = config;
    }

    @Override
    public NDArray extract(NDArray features, float[] rois, boolean training) {
        return new RoiAlign(config.outputSize(), 1f, config.samplingRatio(), config.aligned()).extract(features, rois, training);
    }

    @Override
    public NDArray extract(FeatureMaps features, float[] rois, int inputHeight, boolean training) {
        List<Integer> levels = features.poolingLevels();
        int n = Boxes.count(rois);
        float[] scales = new float[levels.size()];
        for (int i = 0; i < scales.length; i++) {
            scales[i] = inferScale(features.get(levels.get(i)).getShape().get(2), inputHeight);
        }
        int[] assigned = mapLevels(rois, scales);
        NDManager m = features.get(0).getManager();
        NDList parts = new NDList();
        long[] order = new long[n]; // where each region's rows land in the concatenation of the levels' outputs
        int at = 0;
        for (int l = 0; l < levels.size(); l++) {
            int count = 0;
            for (int a : assigned) {
                count += a == l ? 1 : 0;
            }
            if (count == 0) {
                continue;
            }
            int[] members = new int[count];
            for (int i = 0, k = 0; i < n; i++) {
                if (assigned[i] == l) {
                    members[k++] = i;
                    order[i] = at++;
                }
            }
            RoiAlign op = new RoiAlign(config.outputSize(), scales[l], config.samplingRatio(), config.aligned());
            parts.add(op.extract(features.get(levels.get(l)), Boxes.select(rois, members), training));
        }
        if (n == 0) {
            return m.zeros(new Shape(0, features.get(0).getShape().get(1), config.outputSize(), config.outputSize()));
        }
        NDArray all = parts.size() == 1 ? parts.get(0) : NDArrays.concat(parts, 0);
        return all.get(m.create(order));
    }

    /** torchvision's _infer_scale: 2 to the rounded log2 of feature size over input size (heights). */
    static float inferScale(long featureHeight, int inputHeight) {
        double approx = (double) (float) featureHeight / (float) inputHeight;
        return (float) Math.pow(2, Math.rint(log2((float) approx)));
    }

    /**
     * Each region's level index (0 = the first pooling level), as torchvision's LevelMapper computes it in float32:
     * floor(4 + log2(sqrt(area) / 224) + 1e-6), clamped to [k_min, k_max] and made relative to k_min.
     */
    static int[] mapLevels(float[] rois, float[] scales) {
        int kMin = Math.round(-log2(scales[0]));
        int kMax = Math.round(-log2(scales[scales.length - 1]));
        int n = Boxes.count(rois);
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            float area = (rois[4 * i + 2] - rois[4 * i]) * (rois[4 * i + 3] - rois[4 * i + 1]);
            float s = (float) Math.sqrt(area);
            float level = (float) Math.floor(CANONICAL_LEVEL + log2(s / CANONICAL_SCALE) + EPS);
            level = Math.max(kMin, Math.min(kMax, level));
            out[i] = (int) level - kMin;
        }
        return out;
    }

    private static float log2(float x) {
        return (float) (Math.log(x) / Math.log(2));
    }
}
