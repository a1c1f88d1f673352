package org.frcnn4j.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.core.Linear;

/** The two trainable layer kinds the detector is made of, as plain functions over named parameters. */
public final class Layers {
    private Layers() {}

    /**
     * A 2-D convolution with weight {@code name.weight} (out, in / groups, k, k) and bias {@code name.bias}, computed by
     * the route that {@link ConvGuard} finds right on this machine.
     */
    public record Conv(NDArray weight, NDArray bias, ConvShape shape, boolean inputIsImage) {
        public static Conv create(Parameters p, String name, int in, int out, int kernel, int stride, int padding,
                                  Parameters.Init weightInit, Parameters.Init biasInit) {
            return create(p, name, ConvShape.of(in, out, kernel, stride, padding), weightInit, biasInit);
        }

        /** Any convolution shape (depthwise, dilated); {@code biasInit} null for a layer without bias. */
        public static Conv create(Parameters p, String name, ConvShape shape, Parameters.Init weightInit,
                                  Parameters.Init biasInit) {
            int k = shape.kernel();
            NDArray w = p.get(name + ".weight", new Shape(shape.outChannels(), shape.inChannels() / shape.groups(), k, k),
                    weightInit);
            NDArray b = biasInit == null ? null : p.get(name + ".bias", new Shape(shape.outChannels()), biasInit);
            p.declareConvolution(shape);
            return new Conv(w, b, shape, false);
        }

        /** This layer applied to the network's input image, whose gradient nobody needs (a backbone's first layer). */
        public Conv onImage() {
            return new Conv(weight, bias, shape, true);
        }

        /** With PyTorch's default initialisation. */
        public static Conv create(Parameters p, String name, int in, int out, int kernel, int stride, int padding) {
            Parameters.Init init = new Parameters.KaimingUniform(in * kernel * kernel);
            return create(p, name, in, out, kernel, stride, padding, init, init);
        }

        public NDArray forward(NDArray x) {
            return ConvGuard.shared().forward(x, weight, bias, shape, ConvGuard.gradientsNeeded(inputIsImage, weight));
        }

        public int outChannels() {
            return shape.outChannels();
        }
    }

    /**
     * A backbone conv: He initialisation (normal, fan-out, as torchvision's VGG), zero bias; followed by group
     * normalisation when {@code groupNorm}.
     */
    public static Conv backboneConv(Parameters p, String name, int in, int out, int kernel, int stride, int padding) {
        return Conv.create(p, name, in, out, kernel, stride, padding,
                new Parameters.Normal(Math.sqrt(2.0 / (out * kernel * kernel))), new Parameters.Constant(0f));
    }

    /**
     * Group normalisation (Wu and He, 2018): per image, channels in groups, normalised to zero mean and unit variance
     * over each group, then scaled and shifted per channel ({@code name.weight}, {@code name.bias}). Up to 32 groups.
     */
    public record GroupNorm(NDArray gamma, NDArray beta, int groups) {
        public static GroupNorm create(Parameters p, String name, int channels) {
            int g = Math.min(32, channels);
            while (channels % g != 0) {
                g--;
            }
            return new GroupNorm(p.get(name + ".weight", new Shape(channels), new Parameters.Constant(1f)),
                    p.get(name + ".bias", new Shape(channels), new Parameters.Constant(0f)), g);
        }

        /**
         * libtorch's fused group norm (statistics, normalisation, scale and shift in one kernel each way). It replaced
         * batch normalisation over a (1, N * groups, rest) view followed by the per-channel scale and shift, the same
         * values within float rounding: on the Intel Xeon with AMX (2 threads, a loaded machine) the demo model's first
         * norm (2 x 48 x 144 x 224) took 115 -> 55 ms for a training pass with its backward, 42 -> 9 ms in inference.
         */
        public NDArray forward(NDArray x) {
            return ScriptedOps.groupNorm(x, groups, gamma, beta);
        }
    }

    /** A fully connected layer, weight {@code name.weight} (out, in) and bias {@code name.bias}. */
    public record Dense(NDArray weight, NDArray bias) {
        public static Dense create(Parameters p, String name, int in, int out, Parameters.Init weightInit,
                                   Parameters.Init biasInit) {
            return new Dense(p.get(name + ".weight", new Shape(out, in), weightInit),
                    p.get(name + ".bias", new Shape(out), biasInit));
        }

        public NDArray forward(NDArray x) {
            if (PeerBlas.active()) {
                return PeerBlas.linear(x, weight, bias); // torch 1.13's addmm, summed by the BLAS it calls
            }
            if (inBfloat16(x)) {
                int kept = Precision.keptIndex(weight);
                return kept >= 0 ? ScriptedOps.linearKept(x, kept, bias) : ScriptedOps.linear(x, weight, bias);
            }
            return Linear.linear(x, weight, bias).singletonOrThrow();
        }

        /** Bfloat16 is for inference: a call that needs gradients, or has no rows, runs in float32. */
        private static boolean inBfloat16(NDArray x) {
            return Precision.current() == Precision.BF16 && !ai.djl.pytorch.jni.JniUtils.isGradMode()
                    && x.getShape().get(0) > 0;
        }

        /**
         * The layer applied to (N, C, H, W) inputs flattened in that order. Where oneDNN has its AVX-512 kernels and the
         * matrix products have not ({@link EngineFacts#avx512Products}: AMD EPYCs), computed as an H x W convolution
         * without padding: the same weights and products (within float rounding), faster there than the BLAS behind
         * {@code addmm} (fc6 of VGG-16 on 300 RoIs, EPYC of family 26: 47 vs 80 ms). Elsewhere the product, as
         * torchvision computes it: with AVX2 only (EPYC of family 25) the convolution is 3-5 times slower (300 x 25088
         * -> 1024: 580-860 vs 120-200 ms), and on an Intel Xeon with AVX-512, whose products run MKL's AVX-512 kernels,
         * 1.5-1.9 times slower (133 vs 90 ms).
         */
        public NDArray forwardFlattened(NDArray x) {
            return forwardFlattened(x, HandBackward.Below.RECORDED);
        }

        /**
         * {@link #forwardFlattened} in a pass whose caller knows what lies {@code below} the layer: in training, where the
         * layer runs as a convolution, a hand-written backward pass may run ({@link HandBackward}) and nothing below
         * records for autograd, its gradients are computed by hand ({@link DenseTape}); else autograd's, as always.
         */
        public NDArray forwardFlattened(NDArray x, HandBackward.Below below) {
            return forwardFlattened(x, flattenedAsConvolution(), below);
        }

        /** Whether {@link #forwardFlattened} runs float32 inputs as a convolution on this machine (see there). */
        public static boolean flattenedAsConvolution() {
            return EngineFacts.avx512Convolutions() && !EngineFacts.avx512Products();
        }

        /** {@link #forwardFlattened} by the route asked for, whatever the machine (tests check both). */
        NDArray forwardFlattened(NDArray x, boolean asConvolution) {
            return forwardFlattened(x, asConvolution, HandBackward.Below.RECORDED);
        }

        /** {@link #forwardFlattened(NDArray, HandBackward.Below)} by the route asked for, whatever the machine. */
        NDArray forwardFlattened(NDArray x, boolean asConvolution, HandBackward.Below below) {
            Shape s = x.getShape();
            if (s.get(0) == 0 || inBfloat16(x) || !asConvolution || PeerBlas.active()) {
                // in bfloat16 the product with the weight kept rounded (a convolution would round it on every call)
                return forward(x.reshape(s.get(0), s.get(1) * s.get(2) * s.get(3)));
            }
            NDArray kernel = weight.reshape(weight.getShape().get(0), s.get(1), s.get(2), s.get(3));
            kernel.attach(x.getManager()); // a view of the parameter that closes with the step
            // row-major (N, C, H, W): a free view when x already is; a copy when x is a channels-last view (RoIAlign's
            // output), on which the convolution runs half as fast
            NDArray input = x.reshape(s.get(0), -1).reshape(s);
            ConvShape shape = flattenedShape((int) s.get(1), (int) s.get(2));
            NDArray y = below == HandBackward.Below.RECORDED ? null : DenseTape.forward(ConvGuard.shared(), input, kernel,
                    weight, bias, shape, below == HandBackward.Below.HAND_WRITTEN);
            if (y == null) {
                y = ConvGuard.shared().forward(input, kernel, bias, shape, ConvGuard.gradientsNeeded(false, weight));
            }
            return y.reshape(s.get(0), -1);
        }

        /** The convolution that {@link #forwardFlattened} runs for inputs of (channels, size, size). */
        public ConvShape flattenedShape(int channels, int size) {
            return new ConvShape(channels, (int) weight.getShape().get(0), size, 1, 0, 1, 1, size);
        }
    }
}
