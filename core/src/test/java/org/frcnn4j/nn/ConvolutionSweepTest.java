package org.frcnn4j.nn;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The library's convolution layer, on whatever CPU runs this, against the definition computed in plain Java: forward,
 * input gradient and weight gradient for a sweep of shapes (input channels 1-128 and the presets' own, output channels
 * 12-288, kernels 1, 3, 5, 7, strides 1 and 2, dense and depthwise, odd sizes). On a CPU whose engine computes some of
 * these wrong (issue #10's table) this passes only because {@link ConvGuard} routes around them. Run by CI with the
 * default ISA and with ONEDNN_MAX_CPU_ISA=AVX2.
 */
@Tag("numerics")
class ConvolutionSweepTest {
    /** Multiply-adds per direction the plain-Java reference may spend on one shape. */
    private static final long BUDGET = 12_000_000L;

    /** Output sizes tried, largest first: odd, so that no kernel's width or height blocking comes out even. */
    private static final int[][] OUTPUTS = {{9, 11}, {7, 9}, {5, 7}, {3, 5}, {3, 3}};

    @Test
    void everyShapeEqualsTheDefinitionForwardAndBackward() {
        List<String> wrong = new ArrayList<>();
        try (NDManager m = NDManager.newBaseManager()) {
            for (ConvShape s : shapes()) {
                String problem = compare(m, s);
                if (problem != null) {
                    wrong.add(s.describe() + ": " + problem);
                }
            }
        }
        assertThat(wrong).as("convolutions that differ from the definition").isEmpty();
    }

    static Set<ConvShape> shapes() {
        Set<ConvShape> out = new LinkedHashSet<>();
        // issue #10's table, and the input channel counts that were right there
        int[][] table = {{24, 64, 5, 2, 2}, {72, 64, 5, 2, 2}, {80, 64, 5, 2, 2}, {72, 128, 5, 2, 2}, {72, 192, 5, 2, 2},
            {72, 64, 3, 1, 1}, {12, 32, 5, 2, 2}, {3, 12, 7, 2, 3}, {3, 72, 7, 2, 3}};
        for (int[] t : table) {
            out.add(ConvShape.of(t[0], t[1], t[2], t[3], t[4]));
        }
        for (int in : new int[] {16, 32, 48, 64, 96, 128, 192, 288}) {
            out.add(ConvShape.of(in, 64, 3, 1, 1));
            out.add(ConvShape.of(in, 64, 5, 2, 2));
        }
        // the presets' own: tiny (ZF/8), small (ZF x 3/4), ZF, VGG-16, their RPN heads, fc6 on the 7x7 grid, ZF's LRN
        int[][] presets = {{3, 12, 7, 2, 3}, {12, 32, 5, 2, 2}, {32, 48, 3, 1, 1}, {48, 48, 3, 1, 1}, {48, 32, 3, 1, 1},
            {32, 32, 3, 1, 1}, {32, 15, 1, 1, 0}, {32, 60, 1, 1, 0},
            {3, 72, 7, 2, 3}, {72, 192, 5, 2, 2}, {192, 288, 3, 1, 1}, {288, 288, 3, 1, 1}, {288, 192, 3, 1, 1},
            {192, 256, 3, 1, 1}, {256, 15, 1, 1, 0}, {256, 60, 1, 1, 0},
            {3, 96, 7, 2, 3}, {96, 256, 5, 2, 2}, {256, 384, 3, 1, 1}, {384, 384, 3, 1, 1}, {384, 256, 3, 1, 1},
            {256, 18, 1, 1, 0}, {256, 36, 1, 1, 0}, {3, 64, 3, 1, 1}, {64, 128, 3, 1, 1}, {256, 512, 3, 1, 1},
            {512, 512, 3, 1, 1}};
        for (int[] t : presets) {
            out.add(ConvShape.of(t[0], t[1], t[2], t[3], t[4]));
        }
        // ResNet-50's downsampling shortcuts: on the family-26 EPYC libtorch's input gradient of the middle two is a
        // SIGFPE in oneDNN (the guard runs them as stride-1 convolutions of every other pixel)
        for (int[] t : new int[][] {{64, 256, 1}, {256, 512, 2}, {512, 1024, 2}, {1024, 2048, 2}}) {
            out.add(ConvShape.of(t[0], t[1], 1, t[2], 0));
        }
        out.add(new ConvShape(32, 64, 7, 1, 0, 1, 1, 7));
        out.add(new ConvShape(192, 512, 7, 1, 0, 1, 1, 7));
        out.add(new ConvShape(96, 96, 3, 1, 1, 1, 96, 0));
        out.add(new ConvShape(256, 256, 3, 1, 1, 1, 256, 0));
        // a sweep: input channels 1..128, output channels cycling through 12..288, every kernel and stride
        int[] ins = {1, 2, 3, 4, 7, 8, 12, 15, 16, 17, 20, 24, 31, 32, 33, 40, 47, 48, 56, 64, 72, 80, 88, 96, 104, 112,
            120, 127, 128};
        int[] outs = {12, 16, 24, 32, 48, 64, 72, 96, 128, 192, 256, 288};
        int i = 0;
        for (int k : new int[] {1, 3, 5, 7}) {
            for (int stride : new int[] {1, 2}) {
                for (int in : ins) {
                    out.add(ConvShape.of(in, outs[i++ % outs.length], k, stride, k / 2));
                }
            }
        }
        // depthwise (MobileNet's kind): 3x3 and 5x5, strides 1 and 2
        for (int c : new int[] {1, 8, 12, 16, 24, 40, 72, 96, 120, 200}) {
            for (int k : new int[] {3, 5}) {
                for (int stride : new int[] {1, 2}) {
                    out.add(new ConvShape(c, c, k, stride, k / 2, 1, c, 0));
                }
            }
        }
        return out;
    }

    /** null when the layer's output and gradients equal the definition's, else what differs. */
    static String compare(NDManager parent, ConvShape s) {
        int n = 2;
        int oh = 1;
        int ow = 1;
        long perPosition = (long) n * s.outChannels() * (s.inChannels() / s.groups()) * s.kernel() * s.kernel();
        for (int[] o : OUTPUTS) {
            oh = o[0];
            ow = o[1];
            if (perPosition * oh * ow <= BUDGET) {
                break;
            }
        }
        int h = s.inputSize() > 0 ? s.inputSize() : s.inputSizeFor(oh);
        int w = s.inputSize() > 0 ? s.inputSize() : s.inputSizeFor(ow);
        Random r = new Random(s.hashCode());
        float[] x = normal(r, n * s.inChannels() * h * w, 1);
        float[] weight = normal(r, s.outChannels() * (s.inChannels() / s.groups()) * s.kernel() * s.kernel(),
                1 / Math.sqrt((double) s.inChannels() / s.groups() * s.kernel() * s.kernel()));
        float[] bias = normal(r, s.outChannels(), 1);
        float[] gradOut = normal(r, n * s.outChannels() * s.outputSize(h) * s.outputSize(w), 1);
        ConvReference ref = new ConvReference(s, n, h, w, x, weight, bias, gradOut);
        try (NDManager m = parent.newSubManager()) {
            NDArray xa = m.create(x, new Shape(n, s.inChannels(), h, w));
            NDArray wa = m.create(weight, new Shape(s.outChannels(), s.inChannels() / s.groups(), s.kernel(), s.kernel()));
            NDArray ba = m.create(bias);
            xa.setRequiresGradient(true);
            wa.setRequiresGradient(true);
            ba.setRequiresGradient(true);
            float[] y;
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray out = new Layers.Conv(wa, ba, s, false).forward(xa);
                y = out.toFloatArray();
                gc.backward(out.mul(m.create(gradOut, out.getShape())).sum());
            }
            double[] errors = {ConvReference.relativeError(y, ref.output),
                ConvReference.relativeError(xa.getGradient().toFloatArray(), ref.inputGradient),
                ConvReference.relativeError(wa.getGradient().toFloatArray(), ref.weightGradient),
                ConvReference.relativeError(ba.getGradient().toFloatArray(), ref.biasGradient)};
            String[] names = {"forward", "input gradient", "weight gradient", "bias gradient"};
            StringBuilder problem = new StringBuilder();
            for (int i = 0; i < errors.length; i++) {
                if (!(errors[i] <= ConvCheck.TOLERANCE)) {
                    problem.append(problem.length() == 0 ? "" : ", ").append(names[i]).append(' ').append(errors[i]);
                }
            }
            return problem.length() == 0 ? null : problem + " (on " + h + "x" + w + ")";
        }
    }

    static float[] normal(Random r, int size, double std) {
        float[] v = new float[size];
        for (int i = 0; i < size; i++) {
            v[i] = (float) (r.nextGaussian() * std);
        }
        return v;
    }
}
