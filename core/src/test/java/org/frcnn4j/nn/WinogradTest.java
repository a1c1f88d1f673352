package org.frcnn4j.nn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.frcnn4j.nn.ConvCheck.Errors;
import org.frcnn4j.nn.ConvCheck.Gradients;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The Winograd route (NNPACK's F(6x6, 3x3)): its results against the definition in double precision on maps of many
 * tiles, partial ones at the edges included; when the guard asks for it; and what the guard does when it is wrong.
 */
@Tag("numerics")
class WinogradTest {

    @Test
    void theTransformEqualsTheDefinitionOnMapsOfManyTiles() {
        assumeTrue(ScriptedOps.nnpackAvailable(), "NNPACK does not run on this CPU");
        // (shape, batch, height, width): padded and unpadded, a batch of two (one NNPACK call per image), edges that
        // cut tiles (6x6 outputs from 8x8 inputs), and the few input channels of a backbone's first layer
        record Case(ConvShape shape, int n, int h, int w) {}
        List<Case> cases = List.of(new Case(ConvShape.of(32, 24, 3, 1, 1), 1, 40, 53),
                new Case(ConvShape.of(16, 8, 3, 1, 0), 2, 23, 31), new Case(ConvShape.of(3, 16, 3, 1, 1), 1, 37, 44),
                new Case(ConvShape.of(8, 8, 3, 1, 2), 1, 29, 20));
        // whole maps, and bands of six output rows (a workspace too small for more: the most cuts, a short last band)
        List<ConvRoute.Winograd> routes = List.of(new ConvRoute.Winograd(), new ConvRoute.Winograd(1));
        Random random = new Random(15);
        try (NDManager m = NDManager.newBaseManager()) {
            for (Case c : cases) {
                ConvShape s = c.shape();
                ConvReference.Drawn d = ConvReference.Drawn.of(m, random, s, c.n(), c.h(), c.w());
                NDArray input = d.input();
                NDArray weight = d.weight();
                NDArray bias = d.bias();
                for (ConvRoute.Winograd route : routes) {
                    NDArray y = route.forward(input, weight, bias, s);
                    assertThat(y.getShape()).isEqualTo(new Shape(c.n(), s.outChannels(), s.outputSize(c.h()), s.outputSize(c.w())));
                    double error = ConvReference.relativeError(y.toFloatArray(), d.output());
                    // float32's direct sums are near 1e-6; the transforms' rounding near 1e-5; a wrong tile would be ~1
                    assertThat(error).as(s.describe() + " " + route).isLessThan(1e-4);
                    // without bias: the route supplies the zeros NNPACK needs
                    NDArray unbiased = route.forward(input, weight, null, s);
                    assertThat(ConvReference.relativeError(unbiased.add(bias.reshape(1, -1, 1, 1)).toFloatArray(), d.output()))
                            .isLessThan(1e-4);
                }
            }
        }
    }

    @Test
    void inTrainingTheGradientsAreTheDefinitionsThroughTheTransformsForwardPass() {
        assumeTrue(ScriptedOps.nnpackAvailable(), "NNPACK does not run on this CPU");
        ConvShape s = ConvShape.of(12, 20, 3, 1, 1);
        int n = 2;
        int h = 26;
        int w = 31;
        Random random = new Random(16);
        float[] x = ConvReference.uniform(random, n * 12 * h * w, 1);
        float[] wt = ConvReference.uniform(random, 20 * 12 * 9, 0.1f);
        float[] b = ConvReference.uniform(random, 20, 1);
        float[] g = ConvReference.uniform(random, n * 20 * h * w, 1);
        ConvReference ref = new ConvReference(s, n, h, w, x, wt, b, g);
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray input = m.create(x, new Shape(n, 12, h, w));
            NDArray weight = m.create(wt, new Shape(20, 12, 3, 3));
            NDArray bias = m.create(b, new Shape(20));
            input.setRequiresGradient(true);
            weight.setRequiresGradient(true);
            bias.setRequiresGradient(true);
            float[] y;
            try (ai.djl.training.GradientCollector collector = ai.djl.engine.Engine.getInstance().newGradientCollector()) {
                NDArray out = new ConvRoute.Winograd(1).forward(input, weight, bias, s); // whole: no bands in training
                y = out.toFloatArray();
                collector.backward(out.mul(m.create(g, out.getShape())).sum());
            }
            assertThat(ConvReference.relativeError(y, ref.output)).isLessThan(1e-4);
            assertThat(ConvReference.relativeError(input.getGradient().toFloatArray(), ref.inputGradient)).isLessThan(1e-5);
            assertThat(ConvReference.relativeError(weight.getGradient().toFloatArray(), ref.weightGradient)).isLessThan(1e-5);
            assertThat(ConvReference.relativeError(bias.getGradient().toFloatArray(), ref.biasGradient)).isLessThan(1e-5);
        }
    }

    @Test
    void theRouteCoversThreeByThreeStrideOneConvolutionsAndPaysFromFortyTiles() {
        ConvRoute.Winograd route = new ConvRoute.Winograd();
        assertThat(route.covers(ConvShape.of(512, 512, 3, 1, 1))).isTrue();
        assertThat(route.covers(ConvShape.of(64, 64, 3, 1, 0))).isTrue();
        assertThat(route.covers(ConvShape.of(64, 64, 3, 2, 1))).isFalse(); // strided: not Winograd's
        assertThat(route.covers(ConvShape.of(96, 256, 5, 1, 2))).isFalse();
        assertThat(route.covers(new ConvShape(72, 72, 3, 1, 1, 1, 72, 0))).isFalse(); // depthwise
        assertThat(route.covers(new ConvShape(64, 64, 3, 1, 2, 2, 1, 0))).isFalse(); // dilated
        // tiles of 6x6 outputs, partial ones counted: 6 x 6 = 36 too few, 7 x 6 = 42 enough
        assertThat(ConvRoute.Winograd.pays(36, 36)).isFalse();
        assertThat(ConvRoute.Winograd.pays(37, 36)).isTrue();
        assertThat(ConvRoute.Winograd.pays(38, 63)).isTrue(); // VGG-16's conv5 at 600 x 1000
        assertThat(ConvRoute.Winograd.pays(19, 25)).isFalse();
        // bands keep NNPACK's workspace (256 bytes per tile and channel) near 128 MB: VGG-16's 64 -> 64 layer at
        // 600x1000 (167 tiles a row, 128 channels: 5.5 MB a tile row) in bands of 24 tile rows; its 512 -> 512 layer at
        // 37x62 whole
        assertThat(route.bandRows(ConvShape.of(64, 64, 3, 1, 1), 1000)).isEqualTo(6 * 24);
        assertThat(route.bandRows(ConvShape.of(512, 512, 3, 1, 1), 62)).isGreaterThan(37);
    }

    @Test
    void float32ForwardPassesOnRowMajorMapsAskForIt() {
        ConvShape s = ConvShape.of(64, 64, 3, 1, 1);
        boolean here = EngineFacts.winogradConvolutions();
        assertThat(ConvGuard.winograd(s, Precision.FP32, MemoryLayout.NCHW, Gradients.NONE)).isEqualTo(here);
        assertThat(ConvGuard.winograd(s, Precision.BF16, MemoryLayout.NCHW, Gradients.NONE)).isFalse();
        assertThat(ConvGuard.winograd(s, Precision.FP32, MemoryLayout.NHWC, Gradients.NONE)).isFalse();
        assertThat(ConvGuard.winograd(ConvShape.of(64, 64, 1, 1, 0), Precision.FP32, MemoryLayout.NCHW, Gradients.NONE)).isFalse();
        // training: NNPACK's forward pass (the engine's gradients); the products' route is for inference only
        assertThat(ConvGuard.winograd(s, Precision.FP32, MemoryLayout.NCHW, Gradients.BOTH))
                .isEqualTo(here && EngineFacts.winogradRoute() instanceof ConvRoute.Winograd);
        // on by default wherever a route runs (the products' only with an allocator that keeps freed memory); the
        // setting turns it off, or on whatever the allocator
        ConvRoute nnpack = new ConvRoute.Winograd();
        ConvRoute products = new ConvRoute.WinogradProducts();
        assertThat(EngineFacts.winogradWanted(null, nnpack, false)).isTrue();
        assertThat(EngineFacts.winogradWanted("auto", products, true)).isTrue();
        assertThat(EngineFacts.winogradWanted("auto", products, false)).isFalse();
        assertThat(EngineFacts.winogradWanted("on", nnpack, false)).isTrue();
        assertThat(EngineFacts.winogradWanted("on", products, false)).isTrue();
        assertThat(EngineFacts.winogradWanted("OFF", products, true)).isFalse();
        // Spark's setting: oneDNN's products (no per-thread workspace), never NNPACK's
        assertThat(EngineFacts.winogradWanted("products", products, true)).isTrue();
        assertThat(EngineFacts.winogradWanted("products", products, false)).isFalse();
        assertThat(EngineFacts.winogradWanted("products", nnpack, true)).isFalse();
        assertThatThrownBy(() -> EngineFacts.winogradWanted("fast", nnpack, true)).hasMessageContaining("auto, on, off or products");
    }

    /** bin/allocator.sh's settings keep freed memory; glibc's defaults, or trimming at a small size, do not. */
    @Test
    void theProductsRouteAsksForAnAllocatorThatKeepsFreedMemory() {
        assertThat(EngineFacts.allocatorKeepsMemory(EngineFacts.ALLOCATOR)).isTrue();
        assertThat(EngineFacts.allocatorKeepsMemory(java.util.Map.of())).isFalse();
        assertThat(EngineFacts.allocatorKeepsMemory(java.util.Map.of("MALLOC_MMAP_MAX_", "0"))).isFalse();
        assertThat(EngineFacts.allocatorKeepsMemory(java.util.Map.of("MALLOC_MMAP_MAX_", "65536",
                "MALLOC_TRIM_THRESHOLD_", "68719476736"))).isFalse();
        assertThat(EngineFacts.allocatorKeepsMemory(java.util.Map.of("MALLOC_MMAP_MAX_", "0",
                "MALLOC_TRIM_THRESHOLD_", "lots"))).isFalse();
    }

    @Test
    void theGuardChecksWinogradPerShapeAndFallsBackToTheEnginesRouteWhereItIsWrong() {
        // (fake checks: what the guard does with the answers, on any CPU; the Winograd route is this machine's)
        ConvRoute winograd = EngineFacts.winogradRoute();
        ConvShape right = ConvShape.of(64, 64, 3, 1, 1);
        ConvShape wrong = ConvShape.of(128, 128, 3, 1, 1);
        List<String> calls = new ArrayList<>();
        ConvGuard guard = new ConvGuard((route, shape, g, layout) -> {
            calls.add(route.describe(shape) + " " + shape.inChannels());
            return route.equals(winograd) && shape.equals(wrong) ? new Errors(0.3, -1, -1)
                    : new Errors(route.equals(winograd) ? 1.2e-5 : 1e-6, -1, -1);
        }, null);
        ConvGuard.Verdict fast = guard.verdict(right, Gradients.NONE, Precision.FP32, MemoryLayout.NCHW, true);
        assertThat(fast.route()).isEqualTo(winograd);
        assertThat(fast.workaround()).isFalse();
        assertThat(fast.describe()).contains("large maps", winograd.describe(right) + ", right (forward 1.2e-05)");
        ConvGuard.Verdict fallback = guard.verdict(wrong, Gradients.NONE, Precision.FP32, MemoryLayout.NCHW, true);
        assertThat(fallback.route()).isEqualTo(new ConvRoute.Direct());
        assertThat(fallback.workaround()).isTrue();
        assertThat(fallback.describe()).contains("WRONG by Winograd (forward 3.0e-01); using the engine's convolution");
        // small maps and training ask the engine's routes as before: verdicts of their own
        assertThat(guard.verdict(right, Gradients.NONE).route()).isEqualTo(new ConvRoute.Direct());
        assertThat(calls).containsExactly(winograd.describe(right) + " 64", winograd.describe(wrong) + " 128",
                "the engine's convolution 128", "the engine's convolution 64");
        assertThat(guard.verdicts()).hasSize(3);
    }

    @Test
    void aForcedRouteIsNotReplacedByWinograd() {
        assumeTrue(EngineFacts.winogradConvolutions(), "Winograd is not this machine's default");
        ConvGuard forced = new ConvGuard((route, shape, g, layout) -> {
            throw new AssertionError("a forced route is not checked");
        }, ConvGuard.forcedRoute("direct"));
        ConvShape s = ConvShape.of(8, 8, 3, 1, 1);
        try (NDManager m = NDManager.newBaseManager()) {
            forced.forward(m.ones(new Shape(1, 8, 48, 48)), m.ones(new Shape(8, 8, 3, 3)), null, s, Gradients.NONE);
        }
        assertThat(forced.verdicts()).singleElement().satisfies(v -> {
            assertThat(v.winograd()).isFalse();
            assertThat(v.route()).isEqualTo(new ConvRoute.Direct());
        });
    }
}
