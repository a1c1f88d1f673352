package org.frcnn4j.roi;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;

/**
 * RoIAlign with torchvision's semantics ({@code roi_align}: spatial scale, sampling ratio, {@code aligned} half-pixel
 * shift; no quantisation): each of size x size bins averages a grid of bilinear samples.
 *
 * <p>Bilinear sampling is separable: a sample's value is the sum over cells of wy(row) * wx(column) * F(row, column),
 * and torchvision's out-of-range rule (a sample with y or x outside [-1, extent] counts 0) is a product of per-axis
 * conditions too. So a bin's average is Wy F Wx^T, with Wy (size x rows) and Wx (size x columns) holding the
 * per-axis weights averaged over the bin's samples. Each region costs one crop and two small matrix products, all
 * differentiable.
 */
public final class RoiAlign implements RoiFeatureExtractor {
    private final int size;
    private final float spatialScale;
    private final int samplingRatio;
    private final boolean aligned;

    public RoiAlign(int size, float spatialScale, int samplingRatio, boolean aligned) {
        this.size = size;
        this.spatialScale = spatialScale;
        this.samplingRatio = samplingRatio;
        this.aligned = aligned;
    }

    @Override
    public NDArray extract(NDArray features, float[] rois) {
        int n = rois.length / 4;
        long channels = features.getShape().get(1);
        int height = (int) features.getShape().get(2);
        int width = (int) features.getShape().get(3);
        NDManager manager = features.getManager();
        if (n == 0) {
            return manager.zeros(new Shape(0, channels, size, size));
        }
        float offset = aligned ? 0.5f : 0f;
        NDList pooled = new NDList(n);
        for (int i = 0; i < n; i++) {
            float x1 = rois[4 * i] * spatialScale - offset;
            float y1 = rois[4 * i + 1] * spatialScale - offset;
            float x2 = rois[4 * i + 2] * spatialScale - offset;
            float y2 = rois[4 * i + 3] * spatialScale - offset;
            float roiW = x2 - x1;
            float roiH = y2 - y1;
            if (!aligned) {
                roiW = Math.max(roiW, 1f);
                roiH = Math.max(roiH, 1f);
            }
            AxisWeights wy = axisWeights(y1, roiH, height);
            AxisWeights wx = axisWeights(x1, roiW, width);
            if (wy == null || wx == null) {
                pooled.add(manager.zeros(new Shape(1, channels, size, size)));
                continue;
            }
            NDArray crop = features.get(new NDIndex(":, :, {}:{}, {}:{}", wy.first, wy.first + wy.count, wx.first, wx.first + wx.count));
            NDArray rowsW = manager.create(wy.weights, new Shape(size, wy.count));
            NDArray colsWt = manager.create(transpose(wx.weights, size, wx.count), new Shape(wx.count, size));
            pooled.add(rowsW.matMul(crop).matMul(colsWt));
        }
        return NDArrays.concat(pooled, 0);
    }

    /** Per-axis weights of one region: {@code weights} is size x count, over cells first..first+count-1. */
    private record AxisWeights(int first, int count, float[] weights) {}

    /**
     * The averaged bilinear weights along one axis, following torchvision's {@code bilinear_interpolate} (float
     * arithmetic, the same clamping), or null when no sample of the region falls inside the map.
     */
    private AxisWeights axisWeights(float start, float extent, int cells) {
        float bin = extent / size;
        int grid = samplingRatio > 0 ? samplingRatio : (int) Math.ceil(extent / size);
        grid = Math.max(grid, 1);
        float[] full = new float[size * cells];
        int lo = Integer.MAX_VALUE;
        int hi = -1;
        for (int p = 0; p < size; p++) {
            for (int s = 0; s < grid; s++) {
                float v = start + p * bin + (s + .5f) * bin / grid;
                if (v < -1.0f || v > cells) {
                    continue; // contributes 0
                }
                if (v <= 0) {
                    v = 0;
                }
                int low = (int) v;
                int high;
                if (low >= cells - 1) {
                    high = low = cells - 1;
                    v = low;
                } else {
                    high = low + 1;
                }
                float l = v - low;
                full[p * cells + low] += (1 - l) / grid;
                full[p * cells + high] += l / grid;
                lo = Math.min(lo, low);
                hi = Math.max(hi, high);
            }
        }
        if (hi < 0) {
            return null;
        }
        int count = hi - lo + 1;
        float[] w = new float[size * count];
        for (int p = 0; p < size; p++) {
            System.arraycopy(full, p * cells + lo, w, p * count, count);
        }
        return new AxisWeights(lo, count, w);
    }

    private static float[] transpose(float[] m, int rows, int cols) {
        float[] t = new float[m.length];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                t[c * rows + r] = m[r * cols + c];
            }
        }
        return t;
    }
}
