package org.frcnn4j.nn;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * How much of the CPU time this machine wanted went to other guests of its hypervisor ("steal" in Linux's
 * {@code /proc/stat}). On this project's shared 2-core machines it was 0-3% on most days and 38-50% on others, which
 * made every timing of such a day about twice as slow as the same code on the same CPU kind the day before: timings
 * are then comparable only within one run, and benchmarks say how much was stolen beside their figures.
 */
public final class CpuSteal {
    private CpuSteal() {}

    /** The all-CPU counters of {@code /proc/stat} at one instant, in clock ticks. */
    public record Snapshot(long busy, long steal) {}

    /** Now, or empty where there is no {@code /proc/stat} (not Linux) or it reads oddly. */
    public static Optional<Snapshot> now() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/stat"))) {
                if (line.startsWith("cpu ")) {
                    return parse(line);
                }
            }
        } catch (IOException | RuntimeException e) {
            // no steal figure, not an error: the caller prints none
        }
        return Optional.empty();
    }

    /**
     * The aggregate "cpu" line: user nice system idle iowait irq softirq steal ... (proc(5)). Busy time is everything
     * but idle and iowait, steal included: the time the machine had work to run.
     */
    static Optional<Snapshot> parse(String line) {
        String[] f = line.trim().split("\\s+");
        if (f.length < 9 || !f[0].equals("cpu")) {
            return Optional.empty();
        }
        long busy = 0;
        for (int i : new int[] {1, 2, 3, 6, 7, 8}) {
            busy += Long.parseLong(f[i]);
        }
        return Optional.of(new Snapshot(busy, Long.parseLong(f[8])));
    }

    /** The stolen share of the busy time between two snapshots, 0..1, or NaN when nothing ran between them. */
    public static double share(Snapshot from, Snapshot to) {
        long busy = to.busy() - from.busy();
        return busy <= 0 ? Double.NaN : (double) (to.steal() - from.steal()) / busy;
    }
}
