package org.frcnn4j.roi;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;

/**
 * Caffe's RoI max pooling (Fast R-CNN; torchvision's {@code roi_pool}): the region's corners are scaled and rounded
 * to feature cells, its (inclusive) extent is split into size x size bins with edges floor(i * h / size) and
 * ceil((i + 1) * h / size), and each bin takes its maximum; a bin wholly outside the map is 0.
 *
 * <p>Those bin edges are exactly adaptive max pooling's, so each region is a crop followed by one native adaptive max
 * pool (gradients flow to the arg-max cells). Regions that reach past the map's bottom or right edge are cropped from
 * a copy padded with -FLT_MAX, which leaves partly covered bins their inside maximum, as Caffe clips them.
 */
public final class RoiPool implements RoiFeatureExtractor {
    private final int size;
    private final float spatialScale;

    public RoiPool(int size, float spatialScale) {
        this.size = size;
        this.spatialScale = spatialScale;
    }

    @Override
    public NDArray extract(NDArray features, float[] rois, boolean training) {
        int n = rois.length / 4;
        long channels = features.getShape().get(1);
        int height = (int) features.getShape().get(2);
        int width = (int) features.getShape().get(3);
        if (n == 0) {
            return features.getManager().zeros(new Shape(0, channels, size, size));
        }
        int[][] cells = new int[n][];
        int padH = 0;
        int padW = 0;
        for (int i = 0; i < n; i++) {
            int x1 = roundHalfAway(rois[4 * i] * spatialScale);
            int y1 = roundHalfAway(rois[4 * i + 1] * spatialScale);
            int x2 = roundHalfAway(rois[4 * i + 2] * spatialScale);
            int y2 = roundHalfAway(rois[4 * i + 3] * spatialScale);
            x1 = Math.max(0, x1); // proposals are clipped to the image, so only rounding can reach past an edge
            y1 = Math.max(0, y1);
            int w = Math.max(x2 - x1 + 1, 1);
            int h = Math.max(y2 - y1 + 1, 1);
            cells[i] = new int[] {y1, x1, h, w};
            padH = Math.max(padH, y1 + h - height);
            padW = Math.max(padW, x1 + w - width);
        }
        NDArray map = features;
        if (padH > 0 || padW > 0) {
            if (padW > 0) {
                map = map.concat(map.getManager().full(new Shape(1, channels, height, padW), -Float.MAX_VALUE), 3);
            }
            if (padH > 0) {
                map = map.concat(map.getManager().full(new Shape(1, channels, padH, width + padW), -Float.MAX_VALUE), 2);
            }
        }
        NDList pooled = new NDList(n);
        Shape out = new Shape(size, size);
        for (int[] c : cells) {
            NDArray crop = map.get(new NDIndex(":, :, {}:{}, {}:{}", c[0], c[0] + c[2], c[1], c[1] + c[3]));
            pooled.add(JniUtils.adaptiveMaxPool((PtNDArray) crop, out));
        }
        NDArray result = NDArrays.concat(pooled, 0);
        if (padH > 0 || padW > 0) {
            result = NDArrays.where(result.eq(-Float.MAX_VALUE), result.zerosLike(), result);
        }
        return result;
    }

    /** C's {@code round}: halves away from zero. */
    static int roundHalfAway(float v) {
        return (int) (v < 0 ? -Math.floor(-v + 0.5f) : Math.floor(v + 0.5f));
    }
}
