package org.frcnn4j.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;

/** The two trainable layer kinds the detector is made of, as plain functions over named parameters. */
public final class Layers {
    private Layers() {}

    /** A 2-D convolution with weight {@code name.weight} (out, in, k, k) and bias {@code name.bias}. */
    public record Conv(NDArray weight, NDArray bias, int stride, int padding) {
        public static Conv create(Parameters p, String name, int in, int out, int kernel, int stride, int padding,
                                  Parameters.Init weightInit, Parameters.Init biasInit) {
            NDArray w = p.get(name + ".weight", new Shape(out, in, kernel, kernel), weightInit);
            NDArray b = p.get(name + ".bias", new Shape(out), biasInit);
            return new Conv(w, b, stride, padding);
        }

        /** With PyTorch's default initialisation. */
        public static Conv create(Parameters p, String name, int in, int out, int kernel, int stride, int padding) {
            Parameters.Init init = new Parameters.KaimingUniform(in * kernel * kernel);
            return create(p, name, in, out, kernel, stride, padding, init, init);
        }

        public NDArray forward(NDArray x) {
            return Conv2d.conv2d(x, weight, bias, new Shape(stride, stride), new Shape(padding, padding), new Shape(1, 1))
                    .singletonOrThrow();
        }

        public int outChannels() {
            return (int) weight.getShape().get(0);
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
            return Linear.linear(x, weight, bias).singletonOrThrow();
        }
    }
}
