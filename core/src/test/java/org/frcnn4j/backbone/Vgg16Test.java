package org.frcnn4j.backbone;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.frcnn4j.nn.Parameters;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * VGG-16's inference pass (its 13 layers chained in oneDNN's blocked layout where the engine is right) against its
 * training pass, layer by layer: the same map, with Caffe's and PyTorch's pool rounding, on a map of odd sizes.
 */
@Tag("numerics")
class Vgg16Test {
    @Test
    void inferenceGivesTheLayerByLayerMap() {
        for (boolean ceilMode : new boolean[] {false, true}) {
            try (NDManager m = NDManager.newBaseManager(); Parameters p = new Parameters(m, 5)) {
                // a quarter of the published widths: 16 to 128 channels
                Vgg16 vgg = new Vgg16(p, 0.25, ceilMode, false);
                NDArray x = m.randomNormal(new Shape(1, 3, 83, 101));
                NDArray inference = vgg.features(x, false);
                NDArray layerByLayer = vgg.features(x, true);
                // four pools: 83x101 -> 5x6 (floor), 6x7 (ceil)
                assertThat(inference.getShape()).isEqualTo(ceilMode ? new Shape(1, 128, 6, 7) : new Shape(1, 128, 5, 6));
                assertThat(inference.getShape()).isEqualTo(layerByLayer.getShape());
                float scale = layerByLayer.abs().max().getFloat();
                assertThat(scale).isPositive();
                assertThat(inference.sub(layerByLayer).abs().max().getFloat() / scale).as("ceil " + ceilMode)
                        .isLessThan(1e-5f);
            }
        }
    }
}
