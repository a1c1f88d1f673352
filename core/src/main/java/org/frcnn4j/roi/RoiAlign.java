package org.frcnn4j.roi;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import org.frcnn4j.nn.NativeArrays;

/**
 * RoIAlign with torchvision's semantics ({@code roi_align}: spatial scale, sampling ratio, {@code aligned} half-pixel
 * shift; no quantisation): each of size x size bins averages a grid of bilinear samples.
 *
 * <p>The whole operation is linear in the feature map: output (n * size * size, C) = S (n * size * size, H * W) times
 * the map as (H * W, C), where row (r, ph, pw) of S holds the averaged bilinear weights of that bin's samples. Bilinear
 * sampling is separable, so those weights are products wy(row) * wx(column) of per-axis weights, and torchvision's
 * out-of-range rule (a sample with y or x outside [-1, extent] counts 0) is a product of per-axis conditions too. S has
 * at most 16 non-zeros per row (2 x 2 samples, 2 x 2 cells each), so it is built in Java as a sparse COO matrix and
 * applied with one native sparse-dense product (a third of the time of per-region crops and products, whose ~1500
 * small native calls cost more than the arithmetic); its backward is one product with S's transpose.
 */
public final class RoiAlign implements RoiFeatureExtractor {
    private final int size;
    private final float spatialScale;
    private final int samplingRatio;
    private final boolean aligned;
    /**
     * The sparse weights' scratch arrays, reused across calls but never shared between threads: a model used from
     * several threads at once (DJL predictors) must not see another call's weights.
     */
    private static final class Scratch {
        long[] index = new long[0];
        float[] value = new float[0];
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    public RoiAlign(int size, float spatialScale, int samplingRatio, boolean aligned) {
        this.size = size;
        this.spatialScale = spatialScale;
        this.samplingRatio = samplingRatio;
        this.aligned = aligned;
    }

    @Override
    public NDArray extract(NDArray features, float[] rois, boolean training) {
        if (rois.length == 0) {
            return features.getManager().zeros(new Shape(0, features.getShape().get(1), size, size));
        }
        return extractBySparseProduct(features, rois);
    }

    /**
     * The (y, x) axis weights of region i, following torchvision's roi_align (scale, half-pixel offset when aligned,
     * extent at least 1 when not), or null when no sample falls inside the map.
     */
    private AxisWeights[] regionWeights(float[] rois, int i, int height, int width) {
        float offset = aligned ? 0.5f : 0f;
        float x1 = rois[4 * i] * spatialScale - offset;
        float y1 = rois[4 * i + 1] * spatialScale - offset;
        float roiW = rois[4 * i + 2] * spatialScale - offset - x1;
        float roiH = rois[4 * i + 3] * spatialScale - offset - y1;
        if (!aligned) {
            roiW = Math.max(roiW, 1f);
            roiH = Math.max(roiH, 1f);
        }
        AxisWeights wy = axisWeights(y1, roiH, height);
        AxisWeights wx = axisWeights(x1, roiW, width);
        return wy == null || wx == null ? null : new AxisWeights[] {wy, wx};
    }

    /** All bins at once as a sparse (n * size * size, H * W) matrix times the map. */
    private NDArray extractBySparseProduct(NDArray features, float[] rois) {
        int n = rois.length / 4;
        long channels = features.getShape().get(1);
        int height = (int) features.getShape().get(2);
        int width = (int) features.getShape().get(3);
        NDManager manager = features.getManager();
        AxisWeights[] ys = new AxisWeights[n];
        AxisWeights[] xs = new AxisWeights[n];
        int nnz = 0;
        for (int i = 0; i < n; i++) {
            AxisWeights[] w = regionWeights(rois, i, height, width);
            if (w == null) {
                continue; // every sample outside the map: the region's bins stay 0
            }
            ys[i] = w[0];
            xs[i] = w[1];
            nnz += ys[i].nonZeros() * xs[i].nonZeros();
        }
        // one pass to count, one to fill: the index is (2, nnz) = all rows, then all columns; the buffers are reused
        // across calls, so that a detection leaves no large garbage on the Java heap
        Scratch scratch = SCRATCH.get();
        if (scratch.index.length < 2 * nnz) {
            scratch.index = new long[2 * nnz];
            scratch.value = new float[nnz];
        }
        long[] index = scratch.index;
        float[] value = scratch.value;
        int k = 0;
        for (int i = 0; i < n; i++) {
            AxisWeights wy = ys[i];
            AxisWeights wx = xs[i];
            if (wy == null) {
                continue;
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
                                index[k] = row;
                                index[nnz + k] = cellRow + wx.first + b;
                                value[k++] = vy * vx;
                            }
                        }
                    }
                }
            }
        }
        // (H * W, C) as the transposed view of the row-major map, not a row-major copy: libtorch 2.7.1's sparse product
        // walks the dense operand's columns, and took 2.5x as long over a row-major (H * W, C) map (a 19 x 29 x 192 map,
        // 256 regions, in training). A duplicate would not change this: it keeps the view's strides.
        NDArray map = features.reshape(channels, (long) height * width).transpose(1, 0);
        // The indices and values live in the step's manager: the sparse tensor views them, and the backward pass
        // reads them after this method returns (NDManager.createCoo would free them at once).
        NDArray indexArray = NativeArrays.of(manager, index, 2 * nnz, new Shape(2, nnz));
        NDArray values = NativeArrays.of(manager, value, nnz, new Shape(nnz));
        NDArray sparse = JniUtils.createSparseCoo((PtNDArray) indexArray, (PtNDArray) values,
                new Shape((long) n * size * size, (long) height * width));
        NDArray pooled = sparse.matMul(map); // (n * size * size, C)
        return pooled.reshape(n, size, size, channels).transpose(0, 3, 1, 2);
    }

    /** Per-axis weights of one region: {@code weights} is size x count, over cells first..first+count-1. */
    private record AxisWeights(int first, int count, float[] weights) {
        /** The number of non-zero weights over all bins: a region has this many times its other axis' entries. */
        int nonZeros() {
            int nz = 0;
            for (float w : weights) {
                nz += w != 0f ? 1 : 0;
            }
            return nz;
        }
    }

    /**
     * The averaged bilinear weights along one axis, following torchvision's {@code bilinear_interpolate} (float
     * arithmetic, the same clamping), or null when no sample of the region falls inside the map.
     */
    private AxisWeights axisWeights(float start, float extent, int cells) {
        float bin = extent / size;
        int grid = samplingRatio > 0 ? samplingRatio : (int) Math.ceil(extent / size);
        if (grid <= 0) {
            return null; // an empty (or inverted) region with adaptive sampling has no samples, as in torchvision
        }
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
