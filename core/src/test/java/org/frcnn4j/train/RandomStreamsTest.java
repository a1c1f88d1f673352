package org.frcnn4j.train;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import org.frcnn4j.train.RandomStreams.Purpose;
import org.junit.jupiter.api.Test;

class RandomStreamsTest {
    @Test
    void neighbouringKeysDrawIndependently() {
        for (long seed = 0; seed < 4; seed++) {
            int heads = 0;
            int repeats = 0;
            int previous = -1;
            for (long k = 0; k < 2000; k++) {
                heads += RandomStreams.of(seed, Purpose.FLIP, k).nextBoolean() ? 1 : 0;
                int scale = RandomStreams.of(seed, Purpose.TRAINING_SCALE, k * 64).nextInt(5);
                repeats += scale == previous ? 1 : 0;
                previous = scale;
            }
            // a fair coin: 1000 +- 4.5 standard deviations; a uniform draw from 5 repeats 1 time in 5
            assertThat(heads).as("flips of seed " + seed).isBetween(900, 1100);
            assertThat(repeats).as("repeated scales of seed " + seed).isBetween(330, 470);
        }
    }

    @Test
    void aKeyAlwaysGivesTheSameSequenceAndPurposesDiffer() {
        Random a = RandomStreams.of(7, Purpose.SAMPLING, 12);
        Random b = RandomStreams.of(7, Purpose.SAMPLING, 12);
        for (int i = 0; i < 10; i++) {
            assertThat(a.nextLong()).isEqualTo(b.nextLong());
        }
        assertThat(RandomStreams.of(7, Purpose.SAMPLING, 12).nextLong())
                .isNotEqualTo(RandomStreams.of(7, Purpose.FLIP, 12).nextLong())
                .isNotEqualTo(RandomStreams.of(8, Purpose.SAMPLING, 12).nextLong())
                .isNotEqualTo(RandomStreams.of(7, Purpose.SAMPLING, 13).nextLong());
    }

    @Test
    void iterationAndImageKeysNeverCollide() {
        // the old key iteration * 64 + image gave (0, 64) and (1, 0) one stream: 65 images per iteration repeated samples
        java.util.Set<Long> firsts = new java.util.HashSet<>();
        for (int it = 0; it < 50; it++) {
            for (int b = 0; b < 130; b++) {
                firsts.add(RandomStreams.of(3, Purpose.SAMPLING, it, b).nextLong());
            }
        }
        assertThat(firsts).hasSize(50 * 130);
        assertThat(RandomStreams.of(3, Purpose.SAMPLING, 0, 64).nextLong())
                .isNotEqualTo(RandomStreams.of(3, Purpose.SAMPLING, 1, 0).nextLong());
    }
}
