package org.frcnn4j.roi;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import java.util.Arrays;

/**
 * RoIAlign with torchvision's semantics ({@code roi_align}: spatial scale, sampling ratio, {@code aligned} half-pixel
 * shift; no quantisation): each of size x size bins averages a grid of bilinear samples.
 *
 * <p>The whole operation is linear in the feature map: output (n * size * size, C) = S (n * size * size, H * W) times
 * the map as (H * W, C), where row (r, ph, pw) of S holds the averaged bilinear weights of that bin's samples. Bilinear
 * sampling is separable, so those weights are products wy(row) * wx(column) of per-axis weights, and torchvision's
 * out-of-range rule (a sample with y or x outside [-1, extent] counts 0) is a product of per-axis conditions too. S has
 * at most 16 non-zeros per row (2 x 2 samples, 2 x 2 cells each), so it is built in Java as a sparse COO matrix and
 * applied with one native sparse-dense product; its backward is one product with S's transpose.
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
        Coo s = new Coo(n * size * size * 16);
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
                continue; // every sample outside the map: the region's bins stay 0
            }
            for (int ph = 0; ph < size; ph++) {
                for (int pw = 0; pw < size; pw++) {
                    long row = ((long) i * size + ph) * size + pw;
                    for (int a = 0; a < wy.count; a++) {
                        float vy = wy.weights[ph * wy.count + a];
                        if (vy == 0f) {
                            continue;
                        }
                        long cellRow = (long) (wy.first + a) * width;
                        for (int b = 0; b < wx.count; b++) {
                            float vx = wx.weights[pw * wx.count + b];
                            if (vx != 0f) {
                                s.add(row, cellRow + wx.first + b, vy * vx);
                            }
                        }
                    }
                }
            }
        }
        NDArray map = features.reshape(channels, (long) height * width).transpose(1, 0); // (H * W, C)
        // The indices and values live in the step's manager: the sparse tensor views them, and the backward pass
        // reads them after this method returns (NDManager.createCoo would free them at once).
        long[] indices = new long[2 * s.count];
        System.arraycopy(s.rows, 0, indices, 0, s.count);
        System.arraycopy(s.cols, 0, indices, s.count, s.count);
        NDArray index = manager.create(indices, new Shape(2, s.count));
        NDArray values = manager.create(Arrays.copyOf(s.values, s.count));
        NDArray sparse = JniUtils.createSparseCoo((PtNDArray) index, (PtNDArray) values,
                new Shape((long) n * size * size, (long) height * width));
        NDArray pooled = sparse.matMul(map); // (n * size * size, C)
        return pooled.reshape(n, size, size, channels).transpose(0, 3, 1, 2);
    }

    /** A growing list of (row, column, value) entries. */
    private static final class Coo {
        long[] rows;
        long[] cols;
        float[] values;
        int count;

        Coo(int capacity) {
            rows = new long[capacity];
            cols = new long[capacity];
            values = new float[capacity];
        }

        void add(long row, long col, float value) {
            if (count == values.length) {
                int grown = Math.max(16, count * 2);
                rows = Arrays.copyOf(rows, grown);
                cols = Arrays.copyOf(cols, grown);
                values = Arrays.copyOf(values, grown);
            }
            rows[count] = row;
            cols[count] = col;
            values[count++] = value;
        }
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

}
