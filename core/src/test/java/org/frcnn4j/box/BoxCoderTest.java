package org.frcnn4j.box;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.Random;
import org.junit.jupiter.api.Test;

class BoxCoderTest {
    @Test
    void encodesThePapersParameterisation() {
        // anchor 0..15 (w = 16 with +1), target shifted by 8 px and twice as wide
        BoxCoder coder = new BoxCoder(new float[] {1, 1, 1, 1}, true);
        float[] anchor = {0, 0, 15, 15};
        float[] target = {0, 0, 31, 15};
        float[] d = coder.encode(target, anchor);
        // centres 7.5 -> 15.5: tx = 8 / 16; tw = log(32 / 16)
        assertThat(d[0]).isCloseTo(0.5f, within(1e-6f));
        assertThat(d[1]).isCloseTo(0f, within(1e-6f));
        assertThat(d[2]).isCloseTo((float) Math.log(2), within(1e-6f));
        assertThat(d[3]).isCloseTo(0f, within(1e-6f));
    }

    @Test
    void weightsScaleTheDeltas() {
        BoxCoder plain = new BoxCoder(new float[] {1, 1, 1, 1}, false);
        BoxCoder head = new BoxCoder(new float[] {10, 10, 5, 5}, false);
        float[] ref = {10, 20, 50, 60};
        float[] tgt = {12, 18, 70, 66};
        float[] a = plain.encode(tgt, ref);
        float[] b = head.encode(tgt, ref);
        assertThat(b[0]).isCloseTo(10 * a[0], within(1e-5f));
        assertThat(b[3]).isCloseTo(5 * a[3], within(1e-5f));
    }

    @Test
    void decodeInvertsEncodeInBothConventions() {
        Random r = new Random(7);
        for (boolean plusOne : new boolean[] {true, false}) {
            BoxCoder coder = new BoxCoder(new float[] {10, 10, 5, 5}, plusOne);
            int n = 500;
            float[] refs = randomBoxes(r, n);
            float[] tgts = jitter(r, refs); // within the decode clip of log(1000 / 16)
            float[] back = coder.decode(coder.encode(tgts, refs), refs);
            for (int i = 0; i < 4 * n; i++) {
                assertThat(back[i]).isCloseTo(tgts[i], within(2e-3f));
            }
        }
    }

    @Test
    void decodeClipsHugeSizeDeltas() {
        BoxCoder coder = new BoxCoder(new float[] {1, 1, 1, 1}, false);
        float[] out = coder.decode(new float[] {0, 0, 100, 100}, new float[] {0, 0, 16, 16});
        assertThat(out[2] - out[0]).isCloseTo(1000f, within(0.01f)); // exp(log(1000/16)) * 16
        for (float v : out) {
            assertThat(Float.isFinite(v)).isTrue();
        }
    }

    @Test
    void decodesSeveralDeltaSetsPerRow() {
        BoxCoder coder = new BoxCoder(new float[] {1, 1, 1, 1}, false);
        float[] out = coder.decode(new float[] {0, 0, 0, 0, 1, 0, 0, 0}, new float[] {0, 0, 10, 10});
        assertThat(out).containsExactly(0, 0, 10, 10, 10, 0, 20, 10);
    }

    /** Boxes moved and resized by up to a factor of 8 from the given ones. */
    static float[] jitter(Random r, float[] refs) {
        float[] out = new float[refs.length];
        for (int i = 0; i < refs.length; i += 4) {
            float w = refs[i + 2] - refs[i], h = refs[i + 3] - refs[i + 1];
            float cx = refs[i] + w / 2 + (r.nextFloat() - 0.5f) * w, cy = refs[i + 1] + h / 2 + (r.nextFloat() - 0.5f) * h;
            float nw = w * (float) Math.exp((r.nextFloat() - 0.5f) * 4), nh = h * (float) Math.exp((r.nextFloat() - 0.5f) * 4);
            out[i] = cx - nw / 2;
            out[i + 1] = cy - nh / 2;
            out[i + 2] = cx + nw / 2;
            out[i + 3] = cy + nh / 2;
        }
        return out;
    }

    static float[] randomBoxes(Random r, int n) {
        float[] b = new float[4 * n];
        for (int i = 0; i < n; i++) {
            float x = r.nextFloat() * 500, y = r.nextFloat() * 500;
            b[4 * i] = x;
            b[4 * i + 1] = y;
            b[4 * i + 2] = x + 2 + r.nextFloat() * 300;
            b[4 * i + 3] = y + 2 + r.nextFloat() * 300;
        }
        return b;
    }
}
