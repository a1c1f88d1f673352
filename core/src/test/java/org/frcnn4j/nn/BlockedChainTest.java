package org.frcnn4j.nn;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The blocked chain computes what the layers compute one by one (the same oneDNN kernels: the same values within float
 * rounding), with Caffe's and PyTorch's pool rounding on maps of odd sizes; it steps aside where it must.
 */
@org.junit.jupiter.api.Tag("numerics")
class BlockedChainTest {
    /** VGG-16's first five layers at a small map: 3 -> 64, 64 -> 64, pool, 64 -> 128, 128 -> 128, pool, 128 -> 256. */
    private static final int[][] LAYERS = {{3, 64}, {64, 64}, {64, 128}, {128, 128}, {128, 256}};
    private static final List<Boolean> POOL_AFTER = List.of(false, true, false, true, false);

    @Test
    void givesTheLayersOneByOne() {
        for (boolean ceilMode : new boolean[] {false, true}) {
            try (NDManager m = NDManager.newBaseManager(); Parameters p = new Parameters(m, 11)) {
                // oneDNN may block a small map's layers otherwise than a row-major call does: rounding, nothing more
                NDArray chained = againstTheLayers(m, p, ceilMode, 1e-5f);
                if (chained != null) {
                    // 45x71 -> 22x35 -> 11x17 (floor), 23x36 -> 12x18 (ceil)
                    assertThat(chained.getShape()).isEqualTo(ceilMode ? new Shape(1, 256, 12, 18) : new Shape(1, 256, 11, 17));
                }
            }
        }
    }

    /**
     * In bfloat16 the chain keeps bfloat16 maps where the layers round each input and output: the same values (a
     * bfloat16 step at most, where oneDNN blocks a small map's sums otherwise).
     */
    @Test
    void givesTheBfloat16LayersOneByOne() {
        boolean available = true;
        try {
            Precision.BF16.requireAvailable();
        } catch (Precision.UnsupportedPrecisionException e) {
            available = false;
        }
        org.junit.jupiter.api.Assumptions.assumeTrue(available, "no AVX512_BF16 or AMX on this CPU");
        try (NDManager m = NDManager.newBaseManager(); Parameters p = new Parameters(m, 11);
             Precision.Scope bf16 = Precision.use(Precision.BF16)) {
            againstTheLayers(m, p, false, 1e-2f);
        }
    }

    /**
     * The chain against the layers one by one on a 45x71 map, within {@code tolerance} of the largest value; its output,
     * or null where it stepped aside, as it must where a layer's route is not the engine's own on this CPU.
     */
    private static NDArray againstTheLayers(NDManager m, Parameters p, boolean ceilMode, float tolerance) {
        List<Layers.Conv> convs = convs(p);
        NDArray x = m.randomNormal(new Shape(1, 3, 45, 71));
        NDArray chained = BlockedChain.forward(x, convs, POOL_AFTER, 2, ceilMode);
        NDArray expected = LayerByLayer.forward(x, convs, POOL_AFTER, ceilMode);
        if (!allOnTheEngine(convs, 45, 71)) {
            assertThat(chained).isNull();
            return null;
        }
        assertThat(chained).isNotNull();
        assertThat(chained.getShape()).isEqualTo(expected.getShape());
        float scale = expected.abs().max().getFloat();
        assertThat(scale).isPositive();
        assertThat(chained.sub(expected).abs().max().getFloat() / scale).as("ceil " + ceilMode).isLessThan(tolerance);
        return chained;
    }

    /**
     * Layers of 256 channels on a map of enough 4x4 tiles take Winograd's F(4x4, 3x3) inside the chain where that is
     * this machine's route (AVX-512): the map leaves the blocked layout for it and comes back for the smaller map after
     * the pool. The same values as the layers one by one, which take the same routes.
     */
    @Test
    void runsWinogradLayersInsideTheChain() {
        org.junit.jupiter.api.Assumptions.assumeTrue(EngineFacts.winogradConvolutions()
                && EngineFacts.winogradRoute() instanceof ConvRoute.WinogradProducts, "Winograd's products are not this machine's route");
        List<Boolean> poolAfter = List.of(false, false, true, false);
        try (NDManager m = NDManager.newBaseManager(); Parameters p = new Parameters(m, 12)) {
            // 128 -> 256 (engine), 256 -> 256 at 42x46 (11 x 12 tiles: Winograd), pool, 256 -> 256 at 21x23 (36 tiles: engine)
            int[][] layers = {{128, 256}, {256, 256}, {256, 256}, {256, 256}};
            List<Layers.Conv> convs = new java.util.ArrayList<>();
            for (int i = 0; i < layers.length; i++) {
                convs.add(Layers.Conv.create(p, "w" + i, layers[i][0], layers[i][1], 3, 1, 1));
            }
            assertThat(ConvGuard.shared().inferenceRoute(convs.get(1).shape(), 42, 46)).isInstanceOf(ConvRoute.WinogradProducts.class);
            assertThat(ConvGuard.shared().inferenceRoute(convs.get(3).shape(), 21, 23)).isInstanceOf(ConvRoute.Direct.class);
            NDArray x = m.randomNormal(new Shape(1, 128, 42, 46));
            NDArray chained = BlockedChain.forward(x, convs, poolAfter, 2, false);
            NDArray expected = LayerByLayer.forward(x, convs, poolAfter, false);
            assertThat(chained).isNotNull();
            assertThat(chained.getShape()).isEqualTo(new Shape(1, 256, 21, 23));
            float scale = expected.abs().max().getFloat();
            assertThat(chained.sub(expected).abs().max().getFloat() / scale).isLessThan(1e-5f);
        }
    }

    @Test
    void stepsAsideForGradientsAndStridedViews() {
        try (NDManager m = NDManager.newBaseManager(); Parameters p = new Parameters(m, 11)) {
            List<Layers.Conv> convs = convs(p);
            NDArray x = m.randomNormal(new Shape(1, 3, 32, 32));
            try (GradMode on = GradMode.set(true)) {
                assertThat(BlockedChain.forward(x, convs, POOL_AFTER, 2, false)).isNull();
            }
            NDArray view = m.randomNormal(new Shape(1, 3, 32, 64)).get(new ai.djl.ndarray.index.NDIndex(":, :, :, ::2"));
            assertThat(BlockedChain.forward(view, convs, POOL_AFTER, 2, false)).isNull();
        }
    }

    @Test
    void poolSizesArePyTorchs() {
        // floor: (n - 2) / 2 + 1; ceil: rounded up
        assertThat(BlockedChain.pooledSize(75, 2, false)).isEqualTo(37);
        assertThat(BlockedChain.pooledSize(75, 2, true)).isEqualTo(38);
        assertThat(BlockedChain.pooledSize(600, 2, true)).isEqualTo(300);
        // a 3x3 pool of stride 3 over 7 in ceil mode: windows at 0, 3, 6 (the last starts inside)
        assertThat(BlockedChain.pooledSize(7, 3, true)).isEqualTo(3);
    }

    private static List<Layers.Conv> convs(Parameters p) {
        List<Layers.Conv> convs = new java.util.ArrayList<>();
        for (int i = 0; i < LAYERS.length; i++) {
            // PyTorch's default initialisation: biases that are not zero, so that they are part of the check
            convs.add(Layers.Conv.create(p, "c" + i, LAYERS[i][0], LAYERS[i][1], 3, 1, 1));
        }
        return convs;
    }

    private static boolean allOnTheEngine(List<Layers.Conv> convs, int h, int w) {
        return allOnTheEngine(convs, POOL_AFTER, h, w);
    }

    /** Whether every layer's inference route is one the chain runs: the engine's own, or Winograd from its products. */
    private static boolean allOnTheEngine(List<Layers.Conv> convs, List<Boolean> poolAfter, int h, int w) {
        for (int i = 0; i < convs.size(); i++) {
            ConvRoute route = ConvGuard.shared().inferenceRoute(convs.get(i).shape(), h, w);
            boolean bf16 = Precision.current() == Precision.BF16;
            if (!(bf16 ? route instanceof ConvRoute.Bfloat16
                    : route instanceof ConvRoute.Direct || route instanceof ConvRoute.WinogradProducts)) {
                return false;
            }
            if (poolAfter.get(i)) {
                h /= 2;
                w /= 2;
            }
        }
        return true;
    }
}
