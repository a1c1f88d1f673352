package org.frcnn4j.assign;

import java.util.Arrays;
import java.util.Random;

/**
 * Samples a mini-batch of positives and negatives from one image (paper, section 3.1.3: 256 anchors with up to
 * half positive; section 3.3 / Fast R-CNN: 128 RoIs with up to 25% foreground). When there are too few positives
 * the batch is filled with negatives. Sampling is uniform without replacement from a seeded generator, so a given
 * seed always gives the same batch.
 */
public final class BalancedSampler {
    private final int batchSize;
    private final float positiveFraction;

    public BalancedSampler(int batchSize, float positiveFraction) {
        if (batchSize <= 0) {
            throw new IllegalArgumentException("batch size must be positive: " + batchSize);
        }
        if (!(positiveFraction >= 0 && positiveFraction <= 1)) {
            throw new IllegalArgumentException("positive fraction must be in [0, 1]: " + positiveFraction);
        }
        this.batchSize = batchSize;
        this.positiveFraction = positiveFraction;
    }

    /** The sampled candidate indices, each list in ascending index order. */
    public record Sample(int[] positives, int[] negatives) {}

    /**
     * Samples from the labels of a matcher: a label &gt;= 0 is positive, {@link Matcher#NEGATIVE} is negative and
     * anything else is ignored.
     */
    public Sample sample(int[] matches, Random random) {
        int[] pos = Arrays.stream(indices(matches.length)).filter(i -> matches[i] >= 0).toArray();
        int[] neg = Arrays.stream(indices(matches.length)).filter(i -> matches[i] == Matcher.NEGATIVE).toArray();
        int numPos = Math.min((int) (batchSize * positiveFraction), pos.length);
        int numNeg = Math.min(batchSize - numPos, neg.length);
        return new Sample(choose(pos, numPos, random), choose(neg, numNeg, random));
    }

    private static int[] indices(int n) {
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            out[i] = i;
        }
        return out;
    }

    /** {@code count} distinct entries of {@code from}, chosen uniformly (partial Fisher-Yates), sorted. */
    private static int[] choose(int[] from, int count, Random random) {
        int[] pool = from.clone();
        for (int i = 0; i < count; i++) {
            int j = i + random.nextInt(pool.length - i);
            int t = pool[i];
            pool[i] = pool[j];
            pool[j] = t;
        }
        int[] out = Arrays.copyOf(pool, count);
        Arrays.sort(out);
        return out;
    }
}
