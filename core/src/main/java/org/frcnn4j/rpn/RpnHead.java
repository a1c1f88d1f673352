package org.frcnn4j.rpn;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Activation;
import org.frcnn4j.nn.Layers.Conv;
import org.frcnn4j.nn.Parameters;
import org.frcnn4j.rpn.RpnConfig.Objectness;

/**
 * The RPN's small network (paper, section 3.1, Figure 3): a 3x3 conv with ReLU slides over the feature map, and two
 * sibling 1x1 convs give, per position, objectness for k anchors ({@code cls_logits}: 2k scores for the paper's
 * softmax, or k logits for torchvision's sigmoid) and 4k box deltas ({@code bbox_pred}). New layers start from
 * N(0, 0.01) with zero bias (paper, section 3.1.3).
 */
public final class RpnHead {
    private final Conv[] convs;
    private final Conv clsLogits;
    private final Conv bboxPred;
    private final Objectness objectness;
    private final int anchors;

    public RpnHead(Parameters p, int inChannels, int convChannels, int anchorsPerPosition, Objectness objectness) {
        this(p, inChannels, convChannels, anchorsPerPosition, objectness, 1);
    }

    /**
     * @param convDepth 3x3 convs with ReLU before the sibling layers: 1 ({@code rpn.head.conv}), or more as
     *                  torchvision's v2 RPNHead ({@code rpn.head.conv.0.0}, {@code rpn.head.conv.1.0}, ...)
     */
    public RpnHead(Parameters p, int inChannels, int convChannels, int anchorsPerPosition, Objectness objectness,
                   int convDepth) {
        Parameters.Init w = new Parameters.Normal(0.01);
        Parameters.Init b = new Parameters.Constant(0f);
        int scores = objectness == Objectness.SOFTMAX ? 2 * anchorsPerPosition : anchorsPerPosition;
        this.convs = new Conv[convDepth];
        for (int i = 0; i < convDepth; i++) {
            String name = convDepth == 1 ? "rpn.head.conv" : "rpn.head.conv." + i + ".0";
            convs[i] = Conv.create(p, name, i == 0 ? inChannels : convChannels, convChannels, 3, 1, 1, w, b);
        }
        this.clsLogits = Conv.create(p, "rpn.head.cls_logits", convChannels, scores, 1, 1, 0, w, b);
        this.bboxPred = Conv.create(p, "rpn.head.bbox_pred", convChannels, 4 * anchorsPerPosition, 1, 1, 0, w, b);
        this.objectness = objectness;
        this.anchors = anchorsPerPosition;
    }

    /**
     * The head's raw outputs for one image, reordered to the anchors' order (row y, column x, anchor a).
     *
     * @param logits per anchor: one logit (SIGMOID: objectness = sigmoid) or two (SOFTMAX: background, object),
     *               shape (H * W * k, 1) or (H * W * k, 2)
     * @param deltas (H * W * k, 4)
     */
    public record Output(NDArray logits, NDArray deltas) {
        /** Several levels' outputs, one after the other (torchvision's concatenation across pyramid levels). */
        public static Output concat(java.util.List<Output> levels) {
            ai.djl.ndarray.NDList logits = new ai.djl.ndarray.NDList();
            ai.djl.ndarray.NDList deltas = new ai.djl.ndarray.NDList();
            for (Output o : levels) {
                logits.add(o.logits());
                deltas.add(o.deltas());
            }
            return new Output(ai.djl.ndarray.NDArrays.concat(logits, 0), ai.djl.ndarray.NDArrays.concat(deltas, 0));
        }
    }

    public Output forward(NDArray features) {
        NDArray t = features;
        for (Conv c : convs) {
            t = Activation.relu(c.forward(t));
        }
        NDArray cls = clsLogits.forward(t); // (1, k or 2k, H, W)
        NDArray box = bboxPred.forward(t);  // (1, 4k, H, W), channel = a * 4 + coordinate
        NDArray deltas = box.transpose(0, 2, 3, 1).reshape(-1, 4);
        NDArray logits;
        if (objectness == Objectness.SIGMOID) {
            logits = cls.transpose(0, 2, 3, 1).reshape(-1, 1);
        } else {
            // Caffe's layout (py-faster-rcnn): channels 0..k-1 are background, k..2k-1 object, per anchor
            long h = cls.getShape().get(2);
            long w = cls.getShape().get(3);
            logits = cls.reshape(2, anchors, h, w).transpose(2, 3, 1, 0).reshape(-1, 2);
        }
        return new Output(logits, deltas);
    }

    /** Objectness probabilities from {@link Output#logits()} copied to the host (sigmoid or two-class softmax). */
    public static float[] objectnessProbabilities(float[] logits, Objectness objectness) {
        if (objectness == Objectness.SIGMOID) {
            float[] p = new float[logits.length];
            for (int i = 0; i < p.length; i++) {
                p[i] = org.frcnn4j.box.TorchExp.sigmoid(logits[i]); // torch.sigmoid's floats, as torchvision scores
            }
            return p;
        }
        float[] p = new float[logits.length / 2];
        for (int i = 0; i < p.length; i++) {
            // softmax over (background, object): object probability = sigmoid(object - background)
            p[i] = (float) (1.0 / (1.0 + StrictMath.exp(logits[2 * i] - logits[2 * i + 1])));
        }
        return p;
    }
}
