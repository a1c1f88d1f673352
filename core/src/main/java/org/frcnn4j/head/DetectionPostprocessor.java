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

    static float[] softmaxRows(float[] logits, int rows, int cols) {
        float[] out = new float[logits.length];
        double[] exps = new double[cols];
        for (int i = 0; i < rows; i++) {
            float max = Float.NEGATIVE_INFINITY;
            for (int c = 0; c < cols; c++) {
                max = Math.max(max, logits[i * cols + c]);
            }
            double sum = 0;
            for (int c = 0; c < cols; c++) {
                double e = StrictMath.exp(logits[i * cols + c] - max);
                exps[c] = e;
                sum += e;
            }
            for (int c = 0; c < cols; c++) {
                out[i * cols + c] = (float) (exps[c] / sum);
            }
        }
        return out;
    }
}
