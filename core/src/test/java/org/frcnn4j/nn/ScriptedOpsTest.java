package org.frcnn4j.nn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.List;
import org.frcnn4j.nn.ConvCheck.Gradients;
import org.junit.jupiter.api.Test;

/**
 * Bfloat16 inference (issue #15): the generated TorchScript module loads into libtorch, its convolutions and products
 * are the float32 ones within bfloat16's rounding (and are rounded: a float32 result would mean nothing changed), the
 * guard checks the bfloat16 route per shape and falls back to float32 where it is wrong, and calls that need
 * gradients stay float32. oneDNN runs bfloat16 on every x86 CPU (emulated where AVX512_BF16 is missing), so these
 * run everywhere; only the speed needs the instructions.
 */
class ScriptedOpsTest {
    private static double relative(NDArray got, NDArray want) {
        return got.sub(want).abs().max().getFloat() / want.abs().max().getFloat();
    }

    @Test
    void convolutionsAndProductsAreFloat32sWithinBfloat16Rounding() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.randomUniform(-1, 1, new Shape(2, 32, 9, 11));
            for (ConvShape s : List.of(ConvShape.of(32, 48, 3, 1, 1), ConvShape.of(32, 16, 5, 2, 2),
                    new ConvShape(32, 32, 3, 1, 1, 1, 32, 0))) {
                NDArray w = m.randomNormal(0, 0.2f, new Shape(s.outChannels(), 32 / s.groups(), s.kernel(), s.kernel()),
                        DataType.FLOAT32);
                NDArray b = m.randomNormal(new Shape(s.outChannels()));
                NDArray exact = new ConvRoute.ShiftedProducts().forward(x, w, b, s);
                NDArray y = ScriptedOps.conv2d(x, w, b, s);
                assertThat(y.getDataType()).isEqualTo(DataType.FLOAT32);
                assertThat(y.getShape()).isEqualTo(exact.getShape());
                double e = relative(y, exact);
                assertThat(e).as(s.describe()).isLessThan(ConvRoute.Bfloat16.TOLERANCE).isGreaterThan(1e-5);
                assertThat(relative(ScriptedOps.conv2d(x, w, null, s), exact.sub(b.reshape(1, -1, 1, 1))))
                        .as("no bias").isLessThan(ConvRoute.Bfloat16.TOLERANCE);
            }

            NDArray rows = m.randomUniform(-1, 1, new Shape(7, 300));
            NDArray weight = m.randomNormal(0, 0.05f, new Shape(40, 300), DataType.FLOAT32);
            NDArray bias = m.randomNormal(new Shape(40));
            NDArray exact = rows.matMul(weight.transpose()).add(bias);
            NDArray cast = ScriptedOps.linear(rows, weight, bias);
            assertThat(relative(cast, exact)).isLessThan(ConvRoute.Bfloat16.TOLERANCE).isGreaterThan(1e-5);
            // a kept copy is the same rounding done once: the same numbers
            int kept = ScriptedOps.keep(weight);
            assertThat(ScriptedOps.linearKept(rows, kept, bias).toFloatArray()).containsExactly(cast.toFloatArray());
            ScriptedOps.forget(kept);
            assertThatThrownBy(() -> ScriptedOps.linearKept(rows, kept, bias)).isNotNull();
        }
    }

    @Test
    void theGuardChecksBfloat16PerShapeAndFallsBackToFloat32WhereItIsWrong() {
        ConvShape right = ConvShape.of(16, 16, 3, 1, 1);
        ConvShape wrong = ConvShape.of(24, 16, 3, 1, 1);
        // as on a CPU whose bfloat16 kernel is wrong for 24 input channels only
        ConvGuard guard = new ConvGuard((route, shape, g, layout) -> route instanceof ConvRoute.Bfloat16 && shape.equals(wrong)
                ? new ConvCheck.Errors(Double.NaN, -1, -1) : ConvCheck.run(route, shape, g, layout), null);
        ConvGuard.Verdict ok = guard.verdict(right, Gradients.NONE, Precision.BF16, MemoryLayout.NCHW, false);
        assertThat(ok.route()).isEqualTo(new ConvRoute.Bfloat16());
        assertThat(ok.workaround()).isFalse();
        assertThat(ok.routeErrors().forward()).isGreaterThan(1e-5).isLessThan(ConvRoute.Bfloat16.TOLERANCE);
        ConvGuard.Verdict fallback = guard.verdict(wrong, Gradients.NONE, Precision.BF16, MemoryLayout.NCHW, false);
        assertThat(fallback.route()).isNotInstanceOf(ConvRoute.Bfloat16.class);
        assertThat(fallback.routeErrors().right()).isTrue(); // float32's tolerance
        assertThat(fallback.describe()).contains("bf16").contains("WRONG");
        // float32 verdicts are separate: the same shape in float32 is the engine's own
        assertThat(guard.verdict(right, Gradients.NONE).route()).isEqualTo(new ConvRoute.Direct());

        // inside a bfloat16 scope a call that needs gradients runs in bfloat16 too (bfloat16 training), where the
        // shape is right in bfloat16 with gradients; outside it, in float32, exactly the engine's float32 result
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.randomUniform(-1, 1, new Shape(1, 16, 6, 6));
            NDArray w = m.randomNormal(0, 0.2f, new Shape(16, 16, 3, 3), DataType.FLOAT32);
            NDArray direct = new ConvRoute.Direct().forward(x, w, null, right);
            assertThat(guard.forward(x, w, null, right, Gradients.INPUT).toFloatArray()).containsExactly(direct.toFloatArray());
            try (Precision.Scope s = Precision.use(Precision.BF16)) {
                assertThat(relative(guard.forward(x, w, null, right, Gradients.INPUT), direct)).isGreaterThan(1e-5)
                        .isLessThan(ConvRoute.Bfloat16.TOLERANCE);
                assertThat(relative(guard.forward(x, w, null, right, Gradients.NONE), direct)).isGreaterThan(1e-5);
            }
        }
        assertThat(Precision.current()).isEqualTo(Precision.FP32); // the scope restored it
    }

    @Test
    void bfloat16IsRefusedWithOneLineWhereTheCpuLacksIt() {
        assertThat(Precision.BF16.availableWith(List.of("avx2", "fma", "avx512f"))).isFalse();
        assertThat(Precision.BF16.availableWith(List.of("avx512f", "avx512_bf16"))).isTrue();
        assertThat(Precision.BF16.availableWith(List.of("amx_tile", "amx_bf16"))).isTrue();
        assertThat(Precision.FP32.availableWith(List.of())).isTrue();
        assertThat(Precision.parse("BF16")).isEqualTo(Precision.BF16);
        assertThatThrownBy(() -> Precision.parse("fp16")).hasMessage("precision must be fp32 or bf16, not 'fp16'");
        assertThat(Precision.isaAllowsBf16(null)).isTrue();
        assertThat(Precision.isaAllowsBf16("avx512_core_bf16")).isTrue();
        assertThat(Precision.isaAllowsBf16("AVX512_CORE_AMX")).isTrue();
        assertThat(Precision.isaAllowsBf16("AVX2")).isFalse();
        assertThat(Precision.isaAllowsBf16("AVX512_CORE_VNNI")).isFalse();
        // AMX's kernels, and with them channels-last bfloat16 inference, only where the cap leaves them
        assertThat(Precision.isaAllowsAmx(null)).isTrue();
        assertThat(Precision.isaAllowsAmx("AVX512_CORE_AMX")).isTrue();
        assertThat(Precision.isaAllowsAmx("avx512_core_bf16")).isFalse();
        assertThat(MemoryLayout.preferred(Precision.FP32)).isEqualTo(MemoryLayout.NCHW);
        assertThat(MemoryLayout.preferred(Precision.BF16))
                .isEqualTo(Precision.amxKernels() ? MemoryLayout.NHWC : MemoryLayout.NCHW);
        String[] cpu = EngineFacts.thisCpu();
        if (Precision.BF16.availableWith(List.of(cpu[1].split(" ")))
                && Precision.isaAllowsBf16(System.getenv("ONEDNN_MAX_CPU_ISA"))) {
            assertThat(Precision.BF16.requireAvailable()).isEqualTo(Precision.BF16);
        } else {
            assertThatThrownBy(Precision.BF16::requireAvailable)
                    .isInstanceOf(Precision.UnsupportedPrecisionException.class)
                    .hasMessageStartingWith("--precision bf16 needs ")
                    .hasMessageNotContaining("\n");
        }
    }

    @Test
    void fusedHardswishAndHardsigmoidGiveTheFloatsOfTheOperatorsTheyReplace() {
        // MobileNetV3's activations: without autograd libtorch's fused kernels, with it DJL's four operators
        float[] x = new float[4099];
        java.util.Random r = new java.util.Random(5);
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (r.nextGaussian() * 4);
        }
        float[] edges = {-3f, 3f, 0f, -0f, Math.nextUp(-3f), Math.nextDown(3f), 1e-30f, -7e5f, 7e5f};
        System.arraycopy(edges, 0, x, 0, edges.length);
        try (NDManager m = NDManager.newBaseManager(); GradMode off = GradMode.set(false)) {
            NDArray a = m.create(x, new Shape(1, 1, 1, x.length));
            float[] swish;
            float[] sigmoid;
            try (GradMode on = GradMode.set(true)) {
                swish = Norms.hardSwish(a).toFloatArray();
                sigmoid = Norms.hardSigmoid(a).toFloatArray();
            }
            float[] fusedSwish = Norms.hardSwish(a).toFloatArray();
            float[] fusedSigmoid = Norms.hardSigmoid(a).toFloatArray();
            for (int i = 0; i < x.length; i++) {
                float clipped = Math.min(Math.max(x[i] + 3f, 0f), 6f);
                assertThat(fusedSwish[i]).as("hardswish(%s)", x[i]).isEqualTo(x[i] * clipped / 6f).isEqualTo(swish[i]);
                assertThat(fusedSigmoid[i]).as("hardsigmoid(%s)", x[i]).isEqualTo(clipped / 6f).isEqualTo(sigmoid[i]);
            }
        }
    }
    /** RoIAlign's weighted sums of rows: exact sums, an empty bag of zeros, and the table's gradient S^T g. */
    @Test
    void weightedBagsSumWeightedRowsAndGiveTheTableItsGradient() {
        try (NDManager m = NDManager.newBaseManager()) {
            // the table as RoIAlign passes it: the transposed view of a (C, T) map
            NDArray table = m.create(new float[] {1, 2, 3, 4, 10, 20, 30, 40}, new Shape(2, 4)).transpose(1, 0); // (4, 2)
            NDArray cells = m.create(new long[] {0, 3, 1, 3});
            NDArray starts = m.create(new long[] {0, 2, 2}); // bags {0, 3}, {}, {1, 3}
            NDArray weights = m.create(new float[] {0.5f, 0.25f, 2f, 1f});
            NDArray out = ScriptedOps.weightedBags(table, cells, starts, weights);
            assertThat(out.getShape()).isEqualTo(new Shape(3, 2));
            assertThat(out.toFloatArray()).containsExactly(0.5f * 1 + 0.25f * 4, 0.5f * 10 + 0.25f * 40, 0, 0,
                    2f * 2 + 4, 2f * 20 + 40);
            NDArray leaf = m.create(new float[] {1, 2, 3, 4, 10, 20, 30, 40}, new Shape(2, 4));
            leaf.setRequiresGradient(true);
            try (ai.djl.training.GradientCollector gc = ai.djl.engine.Engine.getInstance().newGradientCollector()) {
                NDArray y = ScriptedOps.weightedBags(leaf.transpose(1, 0), cells, starts, weights);
                gc.backward(y.mul(m.create(new float[] {1, 100, 7, 7, 3, 300}, new Shape(3, 2))).sum());
            }
            // d/d table[t, c] = sum over entries e with cell t of weight[e] * g[bag(e), c]; leaf is (C, T)
            assertThat(leaf.getGradient().toFloatArray()).containsExactly(
                    0.5f, 2f * 3, 0, 0.25f + 3,
                    50f, 2f * 300, 0, 25f + 300);
        }
    }
}
