package org.frcnn4j.nn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.frcnn4j.nn.ConvCheck.Errors;
import org.frcnn4j.nn.ConvCheck.Gradients;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The workarounds are testable on any CPU: each route, forced for the shapes issue #10 found wrong, equals the
 * definition (and the engine's own convolution wherever that checks out); a check that reports a wrong result makes
 * the guard choose the next route; the reference that checks use is the definition.
 */
@Tag("numerics")
class ConvGuardTest {
    /** Issue #10's shapes (in, out, kernel, stride, padding), and fc6 on a 7x7 RoI grid. */
    static final List<ConvShape> AFFECTED = List.of(ConvShape.of(24, 64, 5, 2, 2), ConvShape.of(72, 64, 5, 2, 2),
            ConvShape.of(80, 64, 5, 2, 2), ConvShape.of(72, 128, 5, 2, 2), ConvShape.of(72, 192, 5, 2, 2),
            ConvShape.of(72, 64, 3, 1, 1), ConvShape.of(12, 32, 5, 2, 2), ConvShape.of(3, 12, 7, 2, 3),
            ConvShape.of(3, 72, 7, 2, 3), new ConvShape(64, 64, 7, 1, 0, 1, 1, 7), new ConvShape(72, 72, 5, 2, 2, 1, 72, 0));

    @Test
    void everyWorkaroundEqualsTheDefinitionAndTheEnginesRightResults() {
        // the guard as on a CPU where the engine's own convolution is wrong for every one of these shapes: it picks the
        // first workaround that checks out, which must then equal the definition (and the engine, where that is right)
        ConvGuard workaroundsOnly = new ConvGuard((route, shape, g, layout) -> route instanceof ConvRoute.Direct
                ? new Errors(Double.NaN, -1, -1) : ConvCheck.run(route, shape, g, layout), null);
        List<String> wrong = new ArrayList<>();
        try (NDManager m = NDManager.newBaseManager()) {
            for (ConvShape s : AFFECTED) {
                boolean directRight = ConvCheck.run(new ConvRoute.Direct(), s, Gradients.BOTH).right();
                Result direct = run(m, new ConvRoute.Direct(), s);
                ConvRoute chosen = workaroundsOnly.verdict(s, Gradients.BOTH).route();
                // the route of last resort runs no convolution kernel: right on every CPU
                for (ConvRoute route : List.of(chosen, new ConvRoute.ShiftedProducts())) {
                    Result r = run(m, route, s);
                    double[] errors = r.errors(r.reference);
                    double[] fromDirect = directRight ? r.errors(direct) : new double[4];
                    for (int i = 0; i < 4; i++) {
                        if (!(errors[i] <= ConvCheck.TOLERANCE) || !(fromDirect[i] <= ConvCheck.TOLERANCE)) {
                            wrong.add(route.describe(s) + " for " + s.describe() + ": output " + i + " off by " + errors[i]
                                    + " from the definition, " + fromDirect[i] + " from the engine");
                        }
                    }
                }
                assertThat(chosen).as(s.describe()).isNotEqualTo(new ConvRoute.Direct());
            }
        }
        assertThat(wrong).isEmpty();
    }

    @Test
    void theChecksReferenceIsTheDefinition() {
        // ConvCheck's reference (float64 slices and matrix products, no oneDNN kernels): the definition, to double rounding
        try (NDManager m = NDManager.newBaseManager()) {
            for (ConvShape s : AFFECTED) {
                int n = 2;
                int h = s.inputSize() > 0 ? s.inputSize() : 11;
                int w = s.inputSize() > 0 ? s.inputSize() : 13;
                Random r = new Random(5);
                float[] x = ConvolutionSweepTest.normal(r, n * s.inChannels() * h * w, 1);
                float[] weight = ConvolutionSweepTest.normal(r, s.outChannels() * (s.inChannels() / s.groups()) * s.kernel() * s.kernel(), 0.1);
                float[] bias = ConvolutionSweepTest.normal(r, s.outChannels(), 1);
                ConvReference ref = new ConvReference(s, n, h, w, x, weight, bias,
                        new float[n * s.outChannels() * s.outputSize(h) * s.outputSize(w)]);
                NDArray y = ConvCheck.REFERENCE.forward(
                        m.create(x, new Shape(n, s.inChannels(), h, w)).toType(DataType.FLOAT64, false),
                        m.create(weight, new Shape(s.outChannels(), s.inChannels() / s.groups(), s.kernel(), s.kernel()))
                                .toType(DataType.FLOAT64, false),
                        m.create(bias).toType(DataType.FLOAT64, false), s);
                assertThat(ConvCheck.relative(y.toDoubleArray(), ref.output)).as(s.describe()).isLessThan(1e-12);
            }
        }
    }

    @Test
    void aWrongResultInTheCheckChoosesTheNextRoute() {
        ConvShape odd = ConvShape.of(72, 192, 5, 2, 2);
        ConvShape even = ConvShape.of(64, 64, 3, 1, 1);
        List<String> calls = new ArrayList<>();
        Errors right = new Errors(1e-7, 1e-7, 1e-7);
        // the engine's own result is wrong for both shapes, but only in the input gradient for `even`; padding to 16
        // is wrong for `odd`'s gradients
        ConvGuard guard = new ConvGuard((route, shape, g, layout) -> {
            calls.add(route.describe(shape) + " " + g);
            if (route instanceof ConvRoute.Direct) {
                return shape.equals(odd) ? new Errors(0.25, g.input() ? Double.NaN : -1, -1)
                        : new Errors(1e-7, g.input() ? 0.17 : -1, -1);
            }
            if (route.equals(new ConvRoute.PaddedChannels(16)) && g != Gradients.NONE) {
                return new Errors(1e-7, 0.1, 1e-7);
            }
            return right;
        }, null);
        assertThat(guard.verdict(odd, Gradients.NONE).route()).isEqualTo(new ConvRoute.PaddedChannels(16));
        assertThat(guard.verdict(odd, Gradients.BOTH).route()).isEqualTo(new ConvRoute.PaddedChannels(32));
        assertThat(guard.verdict(even, Gradients.NONE).route()).isEqualTo(new ConvRoute.Direct());
        // 64 channels are already a multiple of 16 and 32: padding changes nothing, so matrix products it is
        assertThat(guard.verdict(even, Gradients.BOTH).route()).isEqualTo(new ConvRoute.ShiftedProducts());
        assertThat(guard.verdict(odd, Gradients.BOTH).describe()).contains("WRONG in the engine", "forward 2.5e-01",
                "input gradient NaN", "zero-padded to 96 -> 192");
        // each shape and gradient set is checked once, then remembered
        int checks = calls.size();
        guard.verdict(odd, Gradients.BOTH);
        guard.verdict(even, Gradients.BOTH);
        assertThat(calls).hasSize(checks).hasSize(2 + 3 + 1 + 2);
        assertThat(guard.verdicts()).hasSize(4);
    }

    @Test
    void noRouteThatChecksOutStopsWithOneLineNamingTheShape() {
        ConvGuard guard = new ConvGuard((route, shape, g, layout) -> new Errors(0.2, -1, -1), null);
        assertThatThrownBy(() -> guard.verdict(ConvShape.of(72, 192, 5, 2, 2), Gradients.NONE))
                .isInstanceOf(ConvGuard.EngineDefectException.class)
                .hasMessage("convolution 72 -> 192, 5x5/2 pad 2 is computed wrong by this machine's engine "
                        + "(forward 2.0e-01) and no other route checks out; run 'frcnn doctor'");
    }

    @Test
    void aForcedRouteIsUsedUncheckedWhereItApplies() {
        ConvGuard guard = new ConvGuard((route, shape, g, layout) -> {
            throw new AssertionError("a forced route is not checked");
        }, ConvGuard.forcedRoute("padded"));
        assertThat(guard.verdict(ConvShape.of(72, 192, 5, 2, 2), Gradients.BOTH).route())
                .isEqualTo(new ConvRoute.PaddedChannels(32));
        assertThat(guard.verdict(ConvShape.of(64, 64, 3, 1, 1), Gradients.BOTH).route()).isEqualTo(new ConvRoute.Direct());
        assertThat(ConvGuard.forcedRoute("auto")).isNull();
        assertThat(ConvGuard.forcedRoute("products")).isEqualTo(new ConvRoute.ShiftedProducts());
        assertThatThrownBy(() -> ConvGuard.forcedRoute("fast")).hasMessageContaining("auto, direct, padded or products");
    }

    /** A route's output and gradients, and the definition's for the same data. */
    record Result(float[][] values, ConvReference reference) {
        double[] errors(ConvReference ref) {
            return new double[] {ConvReference.relativeError(values[0], ref.output),
                ConvReference.relativeError(values[1], ref.inputGradient),
                ConvReference.relativeError(values[2], ref.weightGradient),
                ConvReference.relativeError(values[3], ref.biasGradient)};
        }

        double[] errors(Result other) {
            double[] out = new double[4];
            for (int i = 0; i < 4; i++) {
                double[] d = new double[other.values[i].length];
                for (int j = 0; j < d.length; j++) {
                    d[j] = other.values[i][j];
                }
                out[i] = ConvReference.relativeError(values[i], d);
            }
            return out;
        }
    }

    static Result run(NDManager parent, ConvRoute route, ConvShape s) {
        return run(parent, route, s, DataType.FLOAT32);
    }

    static Result run(NDManager parent, ConvRoute route, ConvShape s, DataType type) {
        int n = 2;
        int h = s.inputSize() > 0 ? s.inputSize() : 23;
        int w = s.inputSize() > 0 ? s.inputSize() : 29;
        Random r = new Random(s.hashCode() + 7);
        float[] x = ConvolutionSweepTest.normal(r, n * s.inChannels() * h * w, 1);
        float[] weight = ConvolutionSweepTest.normal(r, s.outChannels() * (s.inChannels() / s.groups()) * s.kernel() * s.kernel(), 0.1);
        float[] bias = ConvolutionSweepTest.normal(r, s.outChannels(), 1);
        float[] gradOut = ConvolutionSweepTest.normal(r, n * s.outChannels() * s.outputSize(h) * s.outputSize(w), 1);
        try (NDManager m = parent.newSubManager()) {
            NDArray xa = m.create(x, new Shape(n, s.inChannels(), h, w)).toType(type, false);
            NDArray wa = m.create(weight, new Shape(s.outChannels(), s.inChannels() / s.groups(), s.kernel(), s.kernel()))
                    .toType(type, false);
            NDArray ba = m.create(bias).toType(type, false);
            for (NDArray a : new NDArray[] {xa, wa, ba}) {
                a.setRequiresGradient(true);
            }
            float[][] values = new float[4][];
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray y = route.forward(xa, wa, ba, s);
                values[0] = floats(y);
                gc.backward(y.mul(m.create(gradOut, y.getShape()).toType(type, false)).sum());
            }
            values[1] = floats(xa.getGradient());
            values[2] = floats(wa.getGradient());
            values[3] = floats(ba.getGradient());
            return new Result(values, new ConvReference(s, n, h, w, x, weight, bias, gradOut));
        }
    }

    private static float[] floats(NDArray a) {
        if (a.getDataType() == DataType.FLOAT32) {
            return a.toFloatArray();
        }
        double[] d = a.toDoubleArray();
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) {
            f[i] = (float) d[i];
        }
        return f;
    }

    @Test
    void countsTheConvolutionsFlopsAsTheirDefinitionsDo() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.randomUniform(-1, 1, new Shape(2, 3, 8, 10));
            NDArray w = m.randomUniform(-1, 1, new Shape(4, 3, 3, 3));
            NDArray w1 = m.randomUniform(-1, 1, new Shape(6, 4, 1, 1));
            long flops = ConvGuard.countFlops(() -> {
                NDArray y = ConvGuard.shared().forward(x, w, null, ConvShape.of(3, 4, 3, 1, 1), Gradients.NONE);
                // a strided 1x1 convolution counts as itself, not as the unstrided one it runs as
                ConvGuard.shared().forward(y, w1, null, ConvShape.of(4, 6, 1, 2, 0), Gradients.NONE);
            });
            // 2 per multiply-add: N * Cout * Hout * Wout * Cin * k * k
            assertThat(flops).isEqualTo(2L * 2 * 4 * 8 * 10 * 3 * 9 + 2L * 2 * 6 * 4 * 5 * 4);
            assertThat(ConvGuard.countFlops(() -> { })).isZero();
            // training's count: a gradient, of the input or the weight, as many as the forward pass
            long first = 2L * 2 * 4 * 8 * 10 * 3 * 9;
            long second = 2L * 2 * 6 * 4 * 5 * 4;
            ConvGuard.Flops before = ConvGuard.flopsSoFar();
            NDArray y = ConvGuard.shared().forward(x, w, null, ConvShape.of(3, 4, 3, 1, 1), Gradients.WEIGHT);
            ConvGuard.shared().forward(y, w1, null, ConvShape.of(4, 6, 1, 2, 0), Gradients.BOTH);
            ConvGuard.Flops done = ConvGuard.flopsSoFar().since(before);
            assertThat(done.forward()).isEqualTo(first + second);
            assertThat(done.backward()).isEqualTo(first + 2 * second);
            assertThat(done.total()).isEqualTo(2 * first + 3 * second);
            Ceiling.Peak peak = Ceiling.measure(m);
            assertThat(peak.convGflops()).isPositive().isFinite();
            assertThat(peak.gemmGflops()).isPositive().isFinite();
        }
    }
}
