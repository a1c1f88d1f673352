package org.frcnn4j.nn;

/**
 * What a convolution layer computes, independent of the batch and the image size: the unit in which the engine's
 * results are checked ({@link ConvGuard}). Square kernels, strides, paddings and dilations, as every layer here has.
 *
 * @param inChannels  input channels
 * @param outChannels output channels
 * @param kernel      kernel height and width
 * @param stride      stride
 * @param padding     zero padding on each side
 * @param dilation    dilation (1: none)
 * @param groups      1, or {@code inChannels} for a depthwise convolution
 * @param inputSize   the input's height and width when the layer always sees one size (fc6 as a convolution over the
 *                    7x7 RoI grid), else 0
 */
public record ConvShape(int inChannels, int outChannels, int kernel, int stride, int padding, int dilation, int groups,
                        int inputSize) {
    public ConvShape {
        if (inChannels < 1 || outChannels < 1 || kernel < 1 || stride < 1 || padding < 0 || dilation < 1 || groups < 1
                || inChannels % groups != 0 || outChannels % groups != 0 || inputSize < 0) {
            throw new IllegalArgumentException("not a convolution: " + inChannels + " -> " + outChannels + ", kernel "
                    + kernel + ", stride " + stride + ", padding " + padding + ", dilation " + dilation + ", groups " + groups);
        }
    }

    /** A dense convolution (groups 1, no dilation) on inputs of any size. */
    public static ConvShape of(int in, int out, int kernel, int stride, int padding) {
        return new ConvShape(in, out, kernel, stride, padding, 1, 1, 0);
    }

    public boolean depthwise() {
        return groups > 1 && groups == inChannels && groups == outChannels;
    }

    /** Output size along one axis for an input of {@code size}. */
    public int outputSize(int size) {
        return (size + 2 * padding - dilation * (kernel - 1) - 1) / stride + 1;
    }

    /** The smallest input size (at least 1) whose output has {@code outSize} positions along one axis. */
    public int inputSizeFor(int outSize) {
        return Math.max(1, (outSize - 1) * stride + dilation * (kernel - 1) + 1 - 2 * padding);
    }

    /** As people write it: "72 -> 192, 5x5/2" (with padding, dilation, groups when they are not the plain case). */
    public String describe() {
        StringBuilder s = new StringBuilder().append(inChannels).append(" -> ").append(outChannels).append(", ")
                .append(kernel).append('x').append(kernel).append('/').append(stride);
        s.append(" pad ").append(padding);
        if (dilation != 1) {
            s.append(" dilation ").append(dilation);
        }
        if (depthwise()) {
            s.append(" depthwise");
        } else if (groups != 1) {
            s.append(" groups ").append(groups);
        }
        if (inputSize > 0) {
            s.append(" on ").append(inputSize).append('x').append(inputSize);
        }
        return s.toString();
    }
}
