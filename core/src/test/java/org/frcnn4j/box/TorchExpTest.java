package org.frcnn4j.box;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDManager;
import java.io.IOException;
import java.util.Map;
import org.frcnn4j.nn.TorchArithmeticTest;
import org.junit.jupiter.api.Test;

/**
 * exp and sigmoid as torch 1.13's vectorised CPU kernels compute them, to the bit
 * (tools/torchvision/make_arithmetic_fixture.py): 4,096 values from -110 to 110.
 */
class TorchExpTest {
    @Test
    void torchsExpAndSigmoidToTheBit() throws IOException {
        try (NDManager m = NDManager.newBaseManager()) {
            Map<String, float[]> f = TorchArithmeticTest.fixture(m);
            float[] x = f.get("exp_x");
            float[] exp = f.get("exp");
            float[] sigmoid = f.get("sigmoid");
            int differ = 0;
            for (int i = 0; i < x.length; i++) {
                assertThat(Float.floatToRawIntBits(TorchExp.exp(x[i]))).as("exp(%s)", x[i])
                        .isEqualTo(Float.floatToRawIntBits(exp[i]));
                assertThat(Float.floatToRawIntBits(TorchExp.sigmoid(x[i]))).as("sigmoid(%s)", x[i])
                        .isEqualTo(Float.floatToRawIntBits(sigmoid[i]));
                if ((float) Math.exp(x[i]) != exp[i]) {
                    differ++;
                }
            }
            // what makes the class necessary: torch's exp is not the correctly rounded one
            assertThat(differ).as("values where torch's exp is not the correctly rounded float").isGreaterThan(100);
        }
    }

    @Test
    void edgesAsTorchGivesThem() {
        assertThat(TorchExp.exp(0f)).isEqualTo(1f);
        assertThat(TorchExp.exp(Float.NEGATIVE_INFINITY)).isEqualTo(0f);
        assertThat(TorchExp.exp(-105f)).isEqualTo(0f);
        assertThat(TorchExp.exp(Float.POSITIVE_INFINITY)).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(TorchExp.exp(101f)).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(TorchExp.exp(Float.NaN)).isNaN();
        assertThat(TorchExp.sigmoid(0f)).isEqualTo(0.5f);
        assertThat(TorchExp.sigmoid(-200f)).isEqualTo(0f);
        assertThat(TorchExp.sigmoid(200f)).isEqualTo(1f);
    }
}
