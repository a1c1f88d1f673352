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
                            boolean frozen) {
        public static BatchNorm create(Parameters p, String name, int channels, float eps, boolean frozen) {
            Shape s = new Shape(channels);
            BatchNorm bn = new BatchNorm(p.get(name + ".weight", s, new Parameters.Constant(1f)),
                    p.get(name + ".bias", s, new Parameters.Constant(0f)),
                    p.get(name + ".running_mean", s, new Parameters.Constant(0f)),
                    p.get(name + ".running_var", s, new Parameters.Constant(1f)), eps, frozen);
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
         * The per-channel scale and shift of the normalisation with running statistics, gamma / sqrt(var + eps) and
         * beta - mean * scale (FrozenBatchNorm2d's own arithmetic), as arrays in {@code like}'s manager.
         */
        public NDArray[] affine(NDArray like) {
            ai.djl.ndarray.NDManager m = like.getManager();
            NDArray scale = NativeArrays.viewIn(gamma, m).mul(Scalars.pow(Scalars.add(NativeArrays.viewIn(runningVar, m), eps), -0.5f));
            NDArray shift = NativeArrays.viewIn(beta, m).sub(NativeArrays.viewIn(runningMean, m).mul(scale));
            return new NDArray[] {scale, shift};
        }
    }

    /**
     * A convolution followed by batch normalisation (torchvision's Conv2dNormActivation without its activation).
     * A frozen normalisation, and any in inference, is folded into the convolution (weights times the channel's scale,
     * bias the shift): one pass over the activations instead of two, the same values within float rounding.
     */
    public record ConvBn(Layers.Conv conv, BatchNorm bn) {
        public NDArray forward(NDArray x, boolean training) {
            if (training && !bn.frozen()) {
                return bn.forward(conv.forward(x), true);
            }
            NDArray[] affine = bn.affine(x);
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
