package org.frcnn4j.nn;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Winograd's F(4x4, 3x3) from oneDNN's grouped products: its results against the definition in double precision on
 * maps of many tiles (partial ones at the edges, every padding, a batch of two), its kept kernel transforms (made
 * again when weights change), where it pays, and that it leaves training to the engine.
 */
@Tag("numerics")
class WinogradProductsTest {
    private final ConvRoute.WinogradProducts route = new ConvRoute.WinogradProducts();

    @Test
    void theTransformEqualsTheDefinitionOnMapsOfManyTiles() {
        // (shape, batch, height, width): outputs that are and are not multiples of 4, every padding the route covers,
        // a batch of two, a backbone's three input channels and a layer of 256
        record Case(ConvShape shape, int n, int h, int w) {}
        List<Case> cases = List.of(new Case(ConvShape.of(32, 24, 3, 1, 1), 1, 40, 53),
                new Case(ConvShape.of(16, 8, 3, 1, 0), 2, 23, 31), new Case(ConvShape.of(3, 16, 3, 1, 1), 1, 37, 44),
                new Case(ConvShape.of(8, 8, 3, 1, 2), 1, 29, 20), new Case(ConvShape.of(256, 256, 3, 1, 1), 1, 33, 38));
        Random random = new Random(44);
        try (NDManager m = NDManager.newBaseManager()) {
            for (Case c : cases) {
                ConvShape s = c.shape();
                ConvReference.Drawn d = ConvReference.Drawn.of(m, random, s, c.n(), c.h(), c.w());
                NDArray y = route.forward(d.input(), d.weight(), d.bias(), s);
                assertThat(y.getShape()).isEqualTo(new Shape(c.n(), s.outChannels(), s.outputSize(c.h()), s.outputSize(c.w())));
                // float32's direct sums are near 1e-6 of the range; the transforms' rounding a few times that (measured
                // 2e-6 on VGG-16's layers); a wrong tile or a misplaced block would be ~1
                assertThat(ConvReference.relativeError(y.toFloatArray(), d.output())).as(s.describe()).isLessThan(2e-5);
                NDArray unbiased = route.forward(d.input(), d.weight(), null, s);
                assertThat(ConvReference.relativeError(unbiased.add(d.bias().reshape(1, -1, 1, 1)).toFloatArray(), d.output()))
                        .isLessThan(2e-5);
            }
        }
    }

    @Test
    void aWeightsTransformIsKeptUntilWeightsChange() {
        ConvShape s = ConvShape.of(8, 8, 3, 1, 1);
        Random random = new Random(45);
        try (NDManager m = NDManager.newBaseManager()) {
            ConvReference.Drawn d = ConvReference.Drawn.of(m, random, s, 1, 20, 20);
            NDArray weight = d.weight();
            NDArray x = d.input();
            NDArray kept = WinogradKernels.of(weight);
            assertThat(WinogradKernels.of(weight)).isSameAs(kept);
            // an optimiser step writes new values into the same array: the next call transforms them
            NDArray grad = m.create(ConvReference.uniform(random, 8 * 8 * 9, 1), new Shape(8, 8, 3, 3));
            NDArray velocity = m.zeros(new Shape(8, 8, 3, 3));
            ScriptedOps.sgdStep(List.of(weight), List.of(grad), List.of(velocity), 0, 0.9, 0.5, true);
            NDArray y = route.forward(x, weight, null, s);
            NDArray direct = new ConvRoute.Direct().forward(x, weight, null, s);
            assertThat(y.sub(direct).abs().max().getFloat() / direct.abs().max().getFloat()).isLessThan(2e-5f);
            assertThat(WinogradKernels.of(weight)).isNotSameAs(kept);
            // a closed weight's transform is dropped
            NDArray other = ConvReference.Drawn.of(m, random, s, 1, 4, 4).weight();
            WinogradKernels.of(other);
            int before = WinogradKernels.kept();
            other.close();
            WinogradKernels.forgetClosed();
            assertThat(WinogradKernels.kept()).isEqualTo(before - 1);
        }
    }

    @Test
    void withGradientsTheEngineComputesTheConvolution() {
        ConvShape s = ConvShape.of(4, 6, 3, 1, 1);
        Random random = new Random(46);
        try (NDManager m = NDManager.newBaseManager()) {
            ConvReference.Drawn d = ConvReference.Drawn.of(m, random, s, 1, 12, 12);
            d.weight().setRequiresGradient(true);
            try (GradMode on = GradMode.set(true); ai.djl.training.GradientCollector c = m.getEngine().newGradientCollector()) {
                c.backward(route.forward(d.input(), d.weight(), null, s).sum());
            }
            NDArray g = d.weight().getGradient();
            // d(sum y)/dw[o][i][ky][kx] = the sum of the input under that tap: the same for every output channel
            assertThat(g.get(0).sub(g.get(5)).abs().max().getFloat()).isLessThan(1e-5f);
            assertThat(g.abs().sum().getFloat()).isPositive();
        }
    }

    @Test
    void coversPaddedThreeByThreeStrideOneConvolutionsAndPaysForWideLayersOnLargeMaps() {
        assertThat(route.covers(ConvShape.of(512, 512, 3, 1, 1))).isTrue();
        assertThat(route.covers(ConvShape.of(64, 64, 3, 1, 0))).isTrue();
        assertThat(route.covers(ConvShape.of(64, 64, 3, 2, 1))).isFalse(); // strided
        assertThat(route.covers(ConvShape.of(96, 256, 5, 1, 2))).isFalse();
        assertThat(route.covers(new ConvShape(72, 72, 3, 1, 1, 1, 72, 0))).isFalse(); // depthwise
        assertThat(route.covers(new ConvShape(64, 64, 3, 1, 2, 2, 1, 0))).isFalse(); // dilated
        // VGG-16 at 600x1000: conv3_2 on (256 channels, 150x250) and conv5 (512, 37x62) pay; conv3_1 (128 in) does not
        assertThat(ConvRoute.WinogradProducts.pays(ConvShape.of(256, 256, 3, 1, 1), 150, 250)).isTrue();
        assertThat(ConvRoute.WinogradProducts.pays(ConvShape.of(512, 512, 3, 1, 1), 37, 62)).isTrue();
        assertThat(ConvRoute.WinogradProducts.pays(ConvShape.of(128, 256, 3, 1, 1), 150, 250)).isFalse();
        // 4x4 tiles, partial ones counted: 8 x 8 = 64 enough, 7 x 9 = 63 too few (512 -> 512 at 19x25: 35)
        assertThat(ConvRoute.WinogradProducts.pays(ConvShape.of(512, 512, 3, 1, 1), 29, 32)).isTrue();
        assertThat(ConvRoute.WinogradProducts.pays(ConvShape.of(512, 512, 3, 1, 1), 28, 36)).isFalse();
        assertThat(ConvRoute.WinogradProducts.pays(ConvShape.of(512, 512, 3, 1, 1), 19, 25)).isFalse();
    }
}
