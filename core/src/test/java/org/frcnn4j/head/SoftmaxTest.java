package org.frcnn4j.head;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.util.Map;
import org.frcnn4j.nn.TorchArithmeticTest;
import org.junit.jupiter.api.Test;

/** The detections' class probabilities as torch's CPU softmax rounds them (tools/torchvision/make_arithmetic_fixture.py). */
public class SoftmaxTest {
    @Test
    void probabilitiesAsTorchsKernelRoundsThem() throws IOException {
        try (NDManager m = NDManager.newBaseManager()) {
            Map<String, float[]> f = TorchArithmeticTest.fixture(m);
            // 91 classes (COCO's), 21 (VOC's) and 3, fewer than the kernel's 8 lanes
            for (int k : new int[] {91, 21, 3}) {
                float[] logits = TorchArithmeticTest.hashed(m, new Shape(40, k), 8 + k, 24).toFloatArray();
                float[] p = DetectionPostprocessor.softmaxRows(logits, 40, k);
                assertThat(p).as("%d classes", k).containsExactly(f.get("softmax_" + k + "_y"));
                double sum = 0;
                for (int c = 0; c < k; c++) {
                    sum += p[c];
                }
                assertThat(sum).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-5));
            }
        }
    }
}
