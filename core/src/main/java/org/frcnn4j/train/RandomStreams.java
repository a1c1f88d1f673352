package org.frcnn4j.train;

import java.util.Random;

/**
 * Independent random generators keyed by (seed, purpose, index), so that every draw of a run is a pure function of
 * its key (what makes resuming exact) without neighbouring keys drawing alike.
 *
 * <p>Why not {@code new Random(seed * 31 + k)}: java.util.Random scrambles its seed with one XOR and its first step
 * is one multiply, so seeds k and k + 1 start from states 2^-13 of the range apart; the first {@code nextBoolean}
 * is the same for thousands of consecutive k (a horizontal flip keyed that way flipped every image of every run), and
 * a first {@code nextInt} drifts slowly with k. Keys are therefore hashed with SplitMix64's finaliser (Steele, Lea and
 * Flood 2014; the mixer of Java's own SplittableRandom) before they seed a generator.
 */
public final class RandomStreams {
    /** What a stream is drawn for: separate purposes never share a stream for the same seed and index. */
    public enum Purpose { EPOCH_ORDER, FLIP, TRAINING_SCALE, SAMPLING, INITIALISATION }

    private RandomStreams() {}

    /** A generator for the given key: the same key always gives the same sequence. */
    public static Random of(long seed, Purpose purpose, long index) {
        long h = mix(seed);
        h = mix(h ^ (purpose.ordinal() + 1) * 0x9E3779B97F4A7C15L);
        return new Random(mix(h + index * 0xD1B54A32D192ED03L));
    }

    /**
     * A generator for a two-part key (iteration, image of the iteration): every pair is its own stream, however many
     * images an iteration has (a key {@code iteration * 64 + image} repeated above 64 images per iteration).
     */
    public static Random of(long seed, Purpose purpose, long index, long subIndex) {
        long h = mix(seed);
        h = mix(h ^ (purpose.ordinal() + 1) * 0x9E3779B97F4A7C15L);
        h = mix(h + index * 0xD1B54A32D192ED03L);
        return new Random(mix(h + (subIndex + 1) * 0x8CB92BA72F3D8DD7L));
    }

    /** SplitMix64's output function: a bijection of longs whose output bits each depend on every input bit. */
    static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
