package org.frcnn4j.head;

import java.util.Arrays;
import org.frcnn4j.box.BoxCoder;
import org.frcnn4j.box.Boxes;
import org.frcnn4j.box.Nms;

/**
 * From the head's outputs to detections (py-faster-rcnn's {@code test_net}, torchvision's
 * {@code postprocess_detections}): softmax over the classes, each proposal's box decoded per class and clipped,
 * background dropped, scores above the threshold kept, tiny boxes dropped, NMS within each class, the best N kept.
 */
public final class DetectionPostprocessor {
    private final HeadConfig config;
    private final BoxCoder coder;
    private final boolean plusOne;

    public DetectionPostprocessor(HeadConfig config, boolean plusOne) {
        this.config = config;
        this.coder = new BoxCoder(config.boxWeights(), plusOne);
        this.plusOne = plusOne;
    }

    /**
     * Detections of one image, best first, in input-image pixels.
     *
     * @param labels  1..K (0 is background)
     * @param sources per detection, the row of the proposal (the head's input) it was regressed from
     */
    public record Result(float[] boxes, float[] scores, int[] labels, int[] sources) {
        /** Detections whose proposals are not known (boxes from elsewhere). */
        public Result(float[] boxes, float[] scores, int[] labels) {
            this(boxes, scores, labels, new int[0]);
        }

        public int count() {
            return scores.length;
        }

        /** The same detections with other boxes (e.g. in original pixels). */
        public Result withBoxes(float[] otherBoxes) {
            return new Result(otherBoxes, scores, labels, sources);
        }
    }

    /**
     * @param logits    (R x (K + 1)), row-major
     * @param deltas    (R x 4 (K + 1)), row-major
     * @param proposals (R x 4)
     */
    public Result apply(float[] logits, float[] deltas, float[] proposals, int imageHeight, int imageWidth) {
        int r = proposals.length / 4;
        int classes = config.numClasses();
        float[] probs = softmaxRows(logits, r, classes);
        // candidates in torchvision's order: proposal-major, then class 1..K. Only they are decoded and clipped (the
        // same arithmetic per box as decoding all R (K + 1) boxes first, as torchvision does, at a fraction of the cost)
        int max = r * (classes - 1);
        float[] cs = new float[max];
        int[] cl = new int[max];
        int[] src = new int[max];
        int n = 0;
        for (int i = 0; i < r; i++) {
            for (int c = 1; c < classes; c++) {
                float s = probs[i * classes + c];
                if (s > config.scoreThreshold()) {
                    cs[n] = s;
                    src[n] = i;
                    cl[n++] = c;
                }
            }
        }
        cs = Arrays.copyOf(cs, n);
        cl = Arrays.copyOf(cl, n);
        src = Arrays.copyOf(src, n);
        float[] candidateDeltas = new float[4 * n];
        float[] references = new float[4 * n];
        for (int k = 0; k < n; k++) {
            System.arraycopy(deltas, (src[k] * classes + cl[k]) * 4, candidateDeltas, 4 * k, 4);
            System.arraycopy(proposals, 4 * src[k], references, 4 * k, 4);
        }
        float[] cb = coder.decode(candidateDeltas, references);
        Boxes.clipInPlace(cb, imageHeight, imageWidth, plusOne);
        if (config.minBoxSize() > 0) {
            int[] big = Boxes.keepAtLeast(cb, config.minBoxSize(), plusOne);
            cb = Boxes.select(cb, big);
            cs = Boxes.select1(cs, big);
            cl = Boxes.select1(cl, big);
            src = Boxes.select1(src, big);
        }
        int[] keep = Nms.batched(cb, cs, cl, config.nmsThreshold(), plusOne);
        keep = Arrays.copyOf(keep, Math.min(keep.length, config.detectionsPerImage()));
        return new Result(Boxes.select(cb, keep), Boxes.select1(cs, keep), Boxes.select1(cl, keep),
                Boxes.select1(src, keep));
    }

    /** torch's vectorised CPU kernels hold this many floats (AVX2, the Debian peer's CPU capability). */
    private static final int LANES = 8;

    /**
     * Softmax of each row in float32 as torch's CPU kernel computes it for the last dimension (the peer's
     * {@code F.softmax(class_logits, -1)}): the row's maximum, exp of each logit minus it (torch's exp,
     * {@link org.frcnn4j.box.TorchExp}), their sum in {@value #LANES} lanes folded in halves (a row shorter than the
     * lanes summed in order), and each exp times the sum's reciprocal. torchvision's probabilities to the bit (all
     * 91,000 of a 91-class head on 1,000 proposals), so ties and near-ties rank as there.
     */
    static float[] softmaxRows(float[] logits, int rows, int cols) {
        float[] out = new float[logits.length];
        float[] lanes = new float[LANES];
        for (int i = 0; i < rows; i++) {
            int row = i * cols;
            float max = Float.NEGATIVE_INFINITY;
            for (int c = 0; c < cols; c++) {
                max = Math.max(max, logits[row + c]);
            }
            for (int c = 0; c < cols; c++) {
                out[row + c] = org.frcnn4j.box.TorchExp.exp(logits[row + c] - max);
            }
            float sum;
            if (cols < LANES) {
                sum = 0f;
                for (int c = 0; c < cols; c++) {
                    sum = c == 0 ? out[row] : sum + out[row + c];
                }
            } else {
                System.arraycopy(out, row, lanes, 0, LANES);
                int d = LANES;
                for (; d + LANES <= cols; d += LANES) {
                    for (int j = 0; j < LANES; j++) {
                        lanes[j] += out[row + d + j];
                    }
                }
                for (int j = 0; d + j < cols; j++) {
                    lanes[j] += out[row + d + j];
                }
                for (int half = LANES / 2; half >= 1; half /= 2) {
                    for (int j = 0; j < half; j++) {
                        lanes[j] += lanes[j + half];
                    }
                }
                sum = lanes[0];
            }
            float reciprocal = 1f / sum;
            for (int c = 0; c < cols; c++) {
                out[row + c] *= reciprocal;
            }
        }
        return out;
    }
}
