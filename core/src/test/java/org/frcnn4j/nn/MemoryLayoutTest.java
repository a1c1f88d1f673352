package org.frcnn4j.nn;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.List;
import org.frcnn4j.nn.ConvCheck.Gradients;
import org.junit.jupiter.api.Test;

/**
 * Channels-last maps: the layout is read from the array, each shape is checked in the layout it is called with, 1x1
 * convolutions on channels-last maps are matrix products (oneDNN's own end the process on some CPUs), and every
 * route gives the row-major results.
 */
class MemoryLayoutTest {
    @Test
    void layoutsAreReadFromTheArrays() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray rowMajor = m.randomUniform(-1, 1, new Shape(1, 8, 5, 6));
            NDArray last = MemoryLayout.NHWC.apply(rowMajor);
            assertThat(MemoryLayout.of(rowMajor)).isEqualTo(MemoryLayout.NCHW);
            assertThat(MemoryLayout.of(last)).isEqualTo(MemoryLayout.NHWC);
            assertThat(last.toFloatArray()).containsExactly(rowMajor.toFloatArray()); // the same values, read in order
            assertThat(MemoryLayout.of(rowMajor.get(new NDIndex(":, :, ::2, ::2")))).isNull(); // a strided view
            assertThat(MemoryLayout.of(MemoryLayout.NCHW.apply(last))).isEqualTo(MemoryLayout.NCHW);
            // RoIAlign's output is a transposed (N, H, W, C) array: channels-last
            assertThat(MemoryLayout.of(m.zeros(new Shape(3, 7, 7, 16)).transpose(0, 3, 1, 2))).isEqualTo(MemoryLayout.NHWC);
        }
    }

    @Test
    void channelsLastConvolutionsAreTheRowMajorOnesAndCheckedApart() {
        ConvGuard guard = new ConvGuard(ConvCheck::run, null);
        List<ConvShape> shapes = List.of(ConvShape.of(32, 64, 1, 1, 0), ConvShape.of(16, 32, 3, 1, 1),
                ConvShape.of(32, 64, 1, 2, 0), ConvShape.of(16, 16, 3, 2, 1));
        try (NDManager m = NDManager.newBaseManager()) {
            for (ConvShape s : shapes) {
                NDArray x = m.randomUniform(-1, 1, new Shape(2, s.inChannels(), 9, 12));
                NDArray w = m.randomNormal(0, 0.2f, new Shape(s.outChannels(), s.inChannels(), s.kernel(), s.kernel()),
                        DataType.FLOAT32);
                NDArray b = m.randomNormal(new Shape(s.outChannels()));
                NDArray rowMajor = guard.forward(x, w, b, s, Gradients.NONE);
                NDArray channelsLast = guard.forward(MemoryLayout.NHWC.apply(x), w, b, s, Gradients.NONE);
                double diff = channelsLast.sub(rowMajor).abs().max().getFloat();
                assertThat(diff).as(s.describe()).isLessThan(1e-4);
            }
        }
        ConvGuard.Verdict pointwise = guard.verdict(shapes.get(0), Gradients.NONE, Precision.FP32, MemoryLayout.NHWC, false);
        assertThat(pointwise.route()).isEqualTo(new ConvRoute.PointwiseProduct(false));
        assertThat(pointwise.workaround()).isFalse();
        assertThat(pointwise.describe()).contains("channels-last").contains("matrix product");
        // the strided 1x1 runs as its stride-1 version on the subsampled map, channels-last too
        assertThat(guard.verdict(shapes.get(2), Gradients.NONE, Precision.FP32, MemoryLayout.NHWC, false).route())
                .isEqualTo(new ConvRoute.PointwiseProduct(false));
        assertThat(guard.verdict(shapes.get(0), Gradients.NONE).route()).isEqualTo(new ConvRoute.Direct());
        assertThat(guard.verdicts()).extracting(ConvGuard.Verdict::layout)
                .contains(MemoryLayout.NCHW, MemoryLayout.NHWC);
    }

    @Test
    void aModelDetectsTheSameInEitherLayout() {
        org.frcnn4j.data.Dataset d = org.frcnn4j.data.Dataset.open(org.frcnn4j.testing.SharedData.bundled("raccoon"),
                "test", null);
        org.frcnn4j.model.FasterRcnnConfig c = org.frcnn4j.model.Presets.TINY.config(d.classes().names());
        c = c.with(c.head().withPostprocess(0f, c.head().nmsThreshold(), 30));
        java.awt.image.BufferedImage image = org.frcnn4j.data.Images.readRgb(d.images().get(3).imageFile());
        try (NDManager m = NDManager.newBaseManager();
             org.frcnn4j.model.FasterRcnn model = org.frcnn4j.model.FasterRcnn.create(c, m, 3)) {
            var rowMajor = model.withLayout(MemoryLayout.NCHW).detect(image);
            var channelsLast = model.withLayout(MemoryLayout.NHWC).detect(image);
            assertThat(channelsLast.count()).isEqualTo(rowMajor.count()).isPositive();
            assertThat(channelsLast.labels()).containsExactly(rowMajor.labels());
            for (int i = 0; i < 4 * rowMajor.count(); i++) {
                assertThat(Math.abs(channelsLast.boxes()[i] - rowMajor.boxes()[i])).isLessThan(1e-2f);
            }
        }
    }

    @Test
    void aModelsLayoutFollowsItsPrecisionUnlessSet() {
        org.frcnn4j.model.FasterRcnnConfig c = org.frcnn4j.model.Presets.TINY.config(java.util.List.of("raccoon"));
        try (NDManager m = NDManager.newBaseManager();
             org.frcnn4j.model.FasterRcnn model = org.frcnn4j.model.FasterRcnn.create(c, m, 3)) {
            assertThat(model.layout()).isEqualTo(MemoryLayout.NCHW);
            if (Precision.BF16.availableWith(java.util.List.of(EngineFacts.thisCpu()[1].split(" ")))
                    && Precision.isaAllowsBf16(System.getenv("ONEDNN_MAX_CPU_ISA"))) {
                model.withPrecision(Precision.BF16);
                assertThat(model.layout()).isEqualTo(MemoryLayout.preferred(Precision.BF16));
                assertThat(model.withLayout(MemoryLayout.NCHW).layout()).isEqualTo(MemoryLayout.NCHW);
                model.withPrecision(Precision.FP32);
                assertThat(model.layout()).isEqualTo(MemoryLayout.NCHW);
            }
        }
    }
}
