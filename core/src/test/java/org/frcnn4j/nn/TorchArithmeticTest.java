package org.frcnn4j.nn;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.io.InputStream;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * torchvision's float32 arithmetic to the bit where frcnn4j reproduces it (tools/torchvision/make_arithmetic_fixture.py,
 * torch 1.13): batch norm as BatchNorm2d (eval) and FrozenBatchNorm2d compute it after a convolution, and
 * squeeze-and-excitation's 1x1 convolutions of a pooled vector in BLAS's order ({@link GemmOrder}); the box head's
 * arithmetic: RoIAlign as torchvision's CPU loop, softmax as torch's vectorised kernel, and the products of small maps
 * and fully connected layers by the system's BLAS ({@link PeerBlas}), exact where that library runs the fixture's
 * kernels with its thread count (arithmetic.blas), within float rounding of the engine's elsewhere.
 */
@Tag("numerics")
public class TorchArithmeticTest {
    /** The fixture's arrays by name, as floats. */
    public static Map<String, float[]> fixture(NDManager m) throws IOException {
        Map<String, float[]> out = new HashMap<>();
        try (InputStream in = TorchArithmeticTest.class.getResourceAsStream("/fixtures/torchvision/arithmetic.npz")) {
            for (NDArray a : NDList.decode(m, in)) {
                out.put(a.getName().replace(".npy", ""), a.toFloatArray());
            }
        }
        return out;
    }

    @Test
    void batchNormAsEachOfTorchvisionsModulesComputesIt() throws IOException {
        try (NDManager m = NDManager.newBaseManager()) {
            Map<String, float[]> f = fixture(m);
            int c = f.get("bn_weight").length;
            NDArray x = m.create(f.get("bn_x"), new Shape(1, c, 5, 7));
            // a 1x1 convolution that copies its input exactly, so that what is checked is the normalisation
            float[] identity = new float[c * c];
            for (int i = 0; i < c; i++) {
                identity[i * c + i] = 1f;
            }
            Layers.Conv copy = new Layers.Conv(m.create(identity, new Shape(c, c, 1, 1)), null, ConvShape.of(c, c, 1, 1, 0),
                    false);
            for (Norms.BatchNorm.Inference inference : Norms.BatchNorm.Inference.values()) {
                Norms.BatchNorm bn = new Norms.BatchNorm(m.create(f.get("bn_weight")), m.create(f.get("bn_bias")),
                        m.create(f.get("bn_running_mean")), m.create(f.get("bn_running_var")), 1e-5f, true, inference);
                float[] y = new Norms.ConvBn(copy, bn).forward(x, false).toFloatArray();
                switch (inference) {
                    case BATCH_NORM_2D -> assertThat(y).as("as BatchNorm2d").containsExactly(f.get("bn_batch_norm_2d"));
                    case FROZEN_BATCH_NORM_2D -> assertThat(y).as("as FrozenBatchNorm2d").containsExactly(f.get("bn_frozen"));
                    case FOLDED -> {
                        // the same function, rounded otherwise: within a few units in the last place of both
                        assertThat(y).as("folded").containsExactly(f.get("bn_frozen"),
                                org.assertj.core.data.Offset.offset(1e-5f));
                        assertThat(y).as("folding rounds differently somewhere").isNotEqualTo(f.get("bn_batch_norm_2d"));
                    }
                    default -> throw new AssertionError(inference);
                }
            }
            // the two modules' own roundings differ: each is reproduced, not one for both
            assertThat(f.get("bn_batch_norm_2d")).isNotEqualTo(f.get("bn_frozen"));
        }
    }

    @Test
    void squeezeAndExcitationProductsInBlasOrder() throws IOException {
        try (NDManager m = NDManager.newBaseManager(); GradMode off = GradMode.set(false)) {
            Map<String, float[]> f = fixture(m);
            for (int k : new int[] {72, 240, 480, 672, 960}) {
                float[] w = f.get("se_" + k + "_weight");
                int out = w.length / k;
                Layers.Conv conv = new Layers.Conv(m.create(w, new Shape(out, k, 1, 1)), m.create(f.get("se_" + k + "_bias")),
                        ConvShape.of(k, out, 1, 1, 0), false);
                NDArray x = m.create(f.get("se_" + k + "_x"), new Shape(1, k, 1, 1));
                assertThat(GemmOrder.onPooled(conv, x).toFloatArray()).as("%d channels", k)
                        .containsExactly(f.get("se_" + k + "_y"));
            }
        }
    }

    @Test
    void smallMapConvolutionsAsTorchsOwnKernelSumsThem() throws IOException {
        try (NDManager m = NDManager.newBaseManager(); GradMode off = GradMode.set(false)) {
            Map<String, float[]> f = fixture(m);
            NDArray x = m.create(f.get("conv_x"), new Shape(1, 64, 3, 3));
            ConvShape shape = ConvShape.of(64, 8, 3, 1, 0);
            NDArray w = m.create(f.get("conv_weight"), new Shape(8, 64, 3, 3));
            NDArray b = m.create(f.get("conv_bias"));
            assertThat(GemmOrder.peerRunsNative(x.getShape(), shape)).isTrue();
            // one output position: torch 1.13's value to the bit
            assertThat(GemmOrder.convolution(x, w, b, shape).toFloatArray()).containsExactly(f.get("conv_y"));
            // several, padded: the same convolution as the engine's within float rounding
            NDArray map = m.randomNormal(new Shape(1, 64, 5, 8));
            ConvShape padded = ConvShape.of(64, 8, 3, 1, 1);
            float[] engine = ai.djl.nn.convolutional.Conv2d.conv2d(map, w, b, new Shape(1, 1), new Shape(1, 1),
                    new Shape(1, 1), 1).singletonOrThrow().toFloatArray();
            assertThat(GemmOrder.convolution(map, w, b, padded).toFloatArray())
                    .containsExactly(engine, org.assertj.core.data.Offset.offset(1e-4f));
        }
    }

    /**
     * The fixture's regenerable inputs (make_arithmetic_fixture.py's {@code hashed}): index plus salt times a 32-bit
     * multiplicative hash, its top 24 bits centred (exact in float32) and scaled. Python scales in double and rounds
     * once; here the float product rounds the same exact value (at most 26 significant bits for the scales used).
     */
    public static NDArray hashed(NDManager m, Shape shape, int salt, float scale) {
        float[] v = new float[(int) shape.size()];
        for (int i = 0; i < v.length; i++) {
            int bits = ((i + salt) * 0x9E3779B1) >>> 8;
            v[i] = (float) (bits / (double) (1 << 24) - 0.5) * scale;
        }
        return m.create(v, shape);
    }

    /** Whether this machine's BLAS sums as the fixture's did: the same kernels and threads (or none, then skipped). */
    private static boolean sameBlasAsFixture() throws IOException {
        try (InputStream in = TorchArithmeticTest.class.getResourceAsStream("/fixtures/torchvision/arithmetic.blas")) {
            String fixture = new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).strip();
            return PeerBlas.available() && PeerBlas.describe().equals(fixture);
        }
    }

    @Test
    void headProductsByTheSystemsBlas() throws IOException {
        try (NDManager m = NDManager.newBaseManager(); GradMode off = GradMode.set(false);
             Precision.Scope peer = PeerArithmetic.open()) {
            Map<String, float[]> f = fixture(m);
            NDArray x = hashed(m, new Shape(1, 256, 5, 8), 1, 4);
            NDArray w = hashed(m, new Shape(32, 256, 3, 3), 2, 1 / 16f);
            NDArray b = hashed(m, new Shape(32), 3, 1);
            ConvShape shape = ConvShape.of(256, 32, 3, 1, 1);
            float[] map = ConvGuard.shared().forward(x, w, b, shape, ConvCheck.Gradients.NONE).toFloatArray();
            NDArray in = hashed(m, new Shape(120, 1024), 4, 2);
            Layers.Dense dense = new Layers.Dense(hashed(m, new Shape(64, 1024), 5, 1 / 16f), hashed(m, new Shape(64), 6, 1));
            float[] linear = dense.forward(in).toFloatArray();
            // whatever BLAS this machine has (or none): torch's values within float rounding of sums of 1,024 and
            // 2,304 products
            assertThat(linear).containsExactly(f.get("linear_y"), org.assertj.core.data.Offset.offset(2e-5f));
            assertThat(map).containsExactly(f.get("map_y"), org.assertj.core.data.Offset.offset(2e-5f));
            Assumptions.assumeTrue(sameBlasAsFixture(), "this machine's BLAS is " + PeerBlas.describe()
                    + ", not the fixture's: its sums are in another order");
            assertThat(map).containsExactly(f.get("map_y"));
            assertThat(linear).containsExactly(f.get("linear_y"));
        }
    }

    @Test
    void roiAlignAsTorchvisionsLoop() throws IOException {
        try (NDManager m = NDManager.newBaseManager(); GradMode off = GradMode.set(false);
             Precision.Scope peer = PeerArithmetic.open()) {
            Map<String, float[]> f = fixture(m);
            NDArray feature = hashed(m, new Shape(1, 16, 13, 17), 7, 8);
            float[] boxes = f.get("roi_boxes");
            assertThat(new org.frcnn4j.roi.RoiAlign(7, 0.25f, 2, false).extract(feature, boxes, false).toFloatArray())
                    .containsExactly(f.get("roi_y"));
            assertThat(new org.frcnn4j.roi.RoiAlign(7, 0.25f, -1, true).extract(feature, boxes, false).toFloatArray())
                    .containsExactly(f.get("roi_adaptive_y"));
        }
    }

    @Test
    void whichConvolutionsTorchKeepsFromOneDnn() {
        ConvShape three = ConvShape.of(256, 256, 3, 1, 1);
        assertThat(GemmOrder.peerRunsNative(new Shape(1, 256, 5, 8), three)).as("10,240 values").isTrue();
        assertThat(GemmOrder.peerRunsNative(new Shape(1, 256, 10, 15), three)).as("38,400 values").isFalse();
        assertThat(GemmOrder.peerRunsNative(new Shape(2, 256, 5, 8), three)).as("two images").isFalse();
        assertThat(GemmOrder.peerRunsNative(new Shape(1, 256, 5, 8), ConvShape.of(256, 256, 5, 1, 2))).as("5x5").isFalse();
        assertThat(GemmOrder.peerRunsNative(new Shape(1, 256, 5, 8),
                new ConvShape(256, 256, 3, 1, 1, 1, 256, 0))).as("depthwise").isFalse();
    }

    @Test
    void reductionBlocksAsOpenBlasCutsThem() {
        assertThat(GemmOrder.blocks(72)).containsExactly(72);
        assertThat(GemmOrder.blocks(320)).containsExactly(320);
        assertThat(GemmOrder.blocks(480)).containsExactly(240, 240);
        assertThat(GemmOrder.blocks(672)).containsExactly(320, 176, 176);
        assertThat(GemmOrder.blocks(960)).containsExactly(320, 320, 320);
        assertThat(GemmOrder.blocks(650)).containsExactly(320, 176, 154);
    }
}
