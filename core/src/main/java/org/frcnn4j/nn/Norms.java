package org.frcnn4j.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;

/**
 * Batch normalisation and the activations of the newer backbones (ResNet, MobileNetV3), with torchvision's parameter
 * names and arithmetic.
 */
public final class Norms {
    private Norms() {}

    /**
     * Batch normalisation (Ioffe and Szegedy, 2015) over channels: {@code name.weight}, {@code name.bias},
     * {@code name.running_mean}, {@code name.running_var}. Frozen (torchvision's FrozenBatchNorm2d, what detection
     * backbones from ImageNet weights use), it is a fixed per-channel affine map and nothing of it trains; otherwise
     * (BatchNorm2d, the v2 model's FPN and box head) training normalises with the batch's statistics and updates the
     * running ones by momentum 0.1, and inference uses the running ones.
     */
    public record BatchNorm(NDArray gamma, NDArray beta, NDArray runningMean, NDArray runningVar, float eps,
                            boolean frozen, Inference inference) {
        /** How inference applies a batch normalisation: the same function, rounded three ways. */
        public enum Inference {
            /** Folded into the weights and bias of the convolution before it: no pass of its own (frcnn4j's). */
            FOLDED,
            /**
             * torch's batch-norm kernel on the convolution's output, as torchvision's BatchNorm2d runs in eval mode: one
             * fused multiply-add x * alpha + beta per value, alpha = gamma / sqrt(var + eps), beta = fma(-mean, alpha,
             * bias).
             */
            BATCH_NORM_2D,
            /**
             * torchvision's FrozenBatchNorm2d: scale = gamma * rsqrt(var + eps), shift = beta - mean * scale, then
             * x * scale + shift as two rounded operations.
             */
            FROZEN_BATCH_NORM_2D
        }

        /** Folded into the convolution before it at inference ({@link ConvBn}). */
        public static BatchNorm create(Parameters p, String name, int channels, float eps, boolean frozen) {
            return create(p, name, channels, eps, frozen, BatchNorm.Inference.FOLDED);
        }

        /** @param inference how inference applies it ({@link ConvBn}) */
        public static BatchNorm create(Parameters p, String name, int channels, float eps, boolean frozen,
                                       Inference inference) {
            Shape s = new Shape(channels);
            BatchNorm bn = new BatchNorm(p.get(name + ".weight", s, new Parameters.Constant(1f)),
                    p.get(name + ".bias", s, new Parameters.Constant(0f)),
                    p.get(name + ".running_mean", s, new Parameters.Constant(0f)),
                    p.get(name + ".running_var", s, new Parameters.Constant(1f)), eps, frozen, inference);
            p.markBuffer(name + ".running_mean");
            p.markBuffer(name + ".running_var");
            if (!frozen) {
                p.markBatchStatistics();
            }
            if (frozen) {
                p.markBuffer(name + ".weight");
                p.markBuffer(name + ".bias");
            }
            return bn;
        }

        public NDArray forward(NDArray x, boolean training) {
            boolean batchStatistics = training && !frozen;
            NDArray y = ai.djl.nn.norm.BatchNorm.batchNorm(x, runningMean, runningVar, gamma, beta, 1, 0.1f, eps,
                    batchStatistics).singletonOrThrow();
            return y;
        }

        /**
         * The per-channel scale and shift of the normalisation with running statistics, as FrozenBatchNorm2d computes
         * them in float32, each step rounded: scale = gamma * (1 / sqrt(var + eps)), shift = beta - mean * scale. On
         * the host, a few values per channel: the engine's pow(x, -0.5) is an ulp off that in some channels.
         */
        public NDArray[] affine(NDArray like) {
            float[] g = gamma.toFloatArray();
            float[] b = beta.toFloatArray();
            float[] mean = runningMean.toFloatArray();
            float[] var = runningVar.toFloatArray();
            float[] scale = new float[g.length];
            float[] shift = new float[g.length];
            for (int c = 0; c < g.length; c++) {
                float inverse = 1f / (float) Math.sqrt(var[c] + eps); // the float square root, correctly rounded
                scale[c] = g[c] * inverse;
                shift[c] = b[c] - mean[c] * scale[c];
            }
            ai.djl.ndarray.NDManager m = like.getManager();
            return new NDArray[] {m.create(scale), m.create(shift)};
        }
    }

    /**
     * A convolution followed by batch normalisation (torchvision's Conv2dNormActivation without its activation).
     * A frozen normalisation, and any in inference, is folded into the convolution (weights times the channel's scale,
     * bias the shift): one pass over the activations instead of two, the same values within float rounding. Where a
     * file from torchvision is to give torchvision's values to the bit, the normalisation runs after the convolution
     * as the file's module computes it ({@link BatchNorm.Inference}): those last-place differences decide which of two
     * equal-looking boxes NMS keeps when a network scores many boxes alike.
     */
    public record ConvBn(Layers.Conv conv, BatchNorm bn) {
        public NDArray forward(NDArray x, boolean training) {
            if (training && !bn.frozen()) {
                return bn.forward(conv.forward(x), true);
            }
            if (!training && bn.inference() == BatchNorm.Inference.BATCH_NORM_2D) {
                return bn.forward(conv.forward(x), false); // torch's kernel: the peer's own, the same floats
            }
            NDArray[] affine = bn.affine(x);
            if (!training && bn.inference() == BatchNorm.Inference.FROZEN_BATCH_NORM_2D) {
                long c = affine[0].getShape().get(0);
                return conv.forward(x).mul(affine[0].reshape(1, c, 1, 1)).add(affine[1].reshape(1, c, 1, 1));
            }
            NDArray weight = NativeArrays.viewIn(conv.weight(), x.getManager()).mul(affine[0].reshape(-1, 1, 1, 1));
            NDArray bias = conv.bias() == null ? affine[1]
                    : NativeArrays.viewIn(conv.bias(), x.getManager()).mul(affine[0]).add(affine[1]);
            return ConvGuard.shared().forward(x, weight, bias, conv.shape(),
                    ConvGuard.gradientsNeeded(conv.inputIsImage(), conv.weight()));
        }
    }

    /**
     * PyTorch's hardsigmoid: (x + 3) clipped to [0, 6], divided by 6. Without autograd libtorch's fused kernel computes
     * it (the same floats, one pass instead of three); with it, DJL's operators, whose gradients PyTorch records.
     */
    public static NDArray hardSigmoid(NDArray x) {
        if (!ai.djl.pytorch.jni.JniUtils.isGradMode()) {
            return ScriptedOps.hardSigmoid(x);
        }
        return Scalars.div(Scalars.add(x, 3f).clip(0, 6), 6f);
    }

    /** PyTorch's hardswish: x times (x + 3) clipped to [0, 6], divided by 6 (fused without autograd, as above). */
    public static NDArray hardSwish(NDArray x) {
        if (!ai.djl.pytorch.jni.JniUtils.isGradMode()) {
            return ScriptedOps.hardSwish(x);
        }
        return Scalars.div(x.mul(Scalars.add(x, 3f).clip(0, 6)), 6f);
    }

    public static NDArray relu(NDArray x) {
        return Activation.relu(x);
    }
}
