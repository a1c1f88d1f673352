package org.frcnn4j.box;

/**
 * Encodes boxes as offsets from reference boxes and back (paper, equation 2):
 * tx = (x - xa) / wa, ty = (y - ya) / ha, tw = log(w / wa), th = log(h / ha), each multiplied by a weight.
 *
 * <p>Weights (1, 1, 1, 1) are the RPN's; (10, 10, 5, 5) are the Fast R-CNN head's, which equals
 * py-faster-rcnn's target normalisation by standard deviations (0.1, 0.1, 0.2, 0.2). When decoding, tw and th are
 * clipped at log(1000 / 16) so that exp cannot overflow (torchvision's {@code bbox_xform_clip}).
 */
// StrictMath and TorchExp (decode): Math.exp and Math.log may differ by an ulp between interpreted and JIT-compiled
// code, which made training runs in one JVM differ; both give the same bits every time.
public final class BoxCoder {
    /** torchvision's and Detectron's default clip for tw, th: log(1000 / 16). */
    public static final double DEFAULT_CLIP = StrictMath.log(1000.0 / 16);

    private final float wx;
    private final float wy;
    private final float ww;
    private final float wh;
    private final float clip;
    private final boolean plusOne;

    /**
     * @param weights the four weights (wx, wy, ww, wh)
     * @param clip    upper bound applied to the scaled tw, th before exp when decoding
     * @param plusOne whether widths are x2 - x1 + 1 (py-faster-rcnn) or x2 - x1 (torchvision)
     */
    public BoxCoder(float[] weights, double clip, boolean plusOne) {
        if (weights.length != 4) {
            throw new IllegalArgumentException("BoxCoder needs 4 weights, got " + weights.length);
        }
        this.wx = weights[0];
        this.wy = weights[1];
        this.ww = weights[2];
        this.wh = weights[3];
        this.clip = (float) clip;
        this.plusOne = plusOne;
    }

    public BoxCoder(float[] weights, boolean plusOne) {
        this(weights, DEFAULT_CLIP, plusOne);
    }

    public float[] weights() {
        return new float[] {wx, wy, ww, wh};
    }

    public boolean plusOne() {
        return plusOne;
    }

    /** Deltas that move each reference box onto the target box of the same row (both n x 4, flat). */
    public float[] encode(float[] targets, float[] references) {
        int n = Boxes.count(references);
        if (targets.length != references.length) {
            throw new IllegalArgumentException("encode: " + Boxes.count(targets) + " targets for " + n + " references");
        }
        float one = plusOne ? 1f : 0f;
        float[] out = new float[4 * n];
        for (int i = 0; i < n; i++) {
            int o = 4 * i;
            float rw = references[o + 2] - references[o] + one;
            float rh = references[o + 3] - references[o + 1] + one;
            float rx = references[o] + 0.5f * rw;
            float ry = references[o + 1] + 0.5f * rh;
            float tw = targets[o + 2] - targets[o] + one;
            float th = targets[o + 3] - targets[o + 1] + one;
            float tx = targets[o] + 0.5f * tw;
            float ty = targets[o + 1] + 0.5f * th;
            out[o] = wx * (tx - rx) / rw;
            out[o + 1] = wy * (ty - ry) / rh;
            out[o + 2] = ww * (float) StrictMath.log(tw / rw);
            out[o + 3] = wh * (float) StrictMath.log(th / rh);
        }
        return out;
    }

    /**
     * Boxes obtained by applying {@code deltas} (n x 4c, flat: c sets of deltas per row, e.g. one per class) to
     * the reference box of each row (n x 4). The result has the shape of {@code deltas}.
     */
    public float[] decode(float[] deltas, float[] references) {
        int n = Boxes.count(references);
        if (n == 0) {
            return new float[0];
        }
        if (deltas.length % (4 * n) != 0) {
            throw new IllegalArgumentException("decode: " + deltas.length + " deltas for " + n + " references");
        }
        int perRow = deltas.length / n;
        float one = plusOne ? 1f : 0f;
        float[] out = new float[deltas.length];
        for (int i = 0; i < n; i++) {
            int r = 4 * i;
            float rw = references[r + 2] - references[r] + one;
            float rh = references[r + 3] - references[r + 1] + one;
            float rx = references[r] + 0.5f * rw;
            float ry = references[r + 1] + 0.5f * rh;
            for (int c = 0; c < perRow; c += 4) {
                int o = i * perRow + c;
                float dx = deltas[o] / wx;
                float dy = deltas[o + 1] / wy;
                float dw = Math.min(deltas[o + 2] / ww, clip);
                float dh = Math.min(deltas[o + 3] / wh, clip);
                float cx = dx * rw + rx;
                float cy = dy * rh + ry;
                // torch.exp's float32 values, as torchvision's decode takes them (TorchExp)
                float w = TorchExp.exp(dw) * rw;
                float h = TorchExp.exp(dh) * rh;
                // py-faster-rcnn's bbox_transform_inv: x2 = cx + 0.5 w - 1 under the +1 convention.
                out[o] = cx - 0.5f * w;
                out[o + 1] = cy - 0.5f * h;
                out[o + 2] = cx + 0.5f * w - one;
                out[o + 3] = cy + 0.5f * h - one;
            }
        }
        return out;
    }
}
