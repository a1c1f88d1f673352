package org.frcnn4j.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/**
 * This machine's ceiling for the work a backbone does, measured in the same run as the figures it is compared with
 * (issue #15): the best GFLOP/s of a large 3x3 convolution through the engine (VGG-16's conv4 layers: 512 -> 512 on a
 * 38 x 63 map, the paper's 600 x 1000 input at stride 16) and of a 1024^3 matrix product, each the fastest of a series
 * of runs after a warm-up. A backbone's achieved GFLOP/s over the better of the two says how close to the limit it is.
 */
public final class Ceiling {
    private Ceiling() {}

    /**
     * @param convGflops  the 3x3 convolution's GFLOP/s
     * @param gemmGflops  the matrix product's GFLOP/s
     * @param stolenShare the share of the machine's busy time its hypervisor gave to other guests while measuring
     *                    ({@link CpuSteal}), NaN where unknown: a ceiling measured under steal is below the hardware's
     */
    public record Peak(double convGflops, double gemmGflops, double stolenShare) {
        public double best() {
            return Math.max(convGflops, gemmGflops);
        }
    }

    /** Measures both (about four seconds). */
    public static Peak measure(NDManager parent) {
        java.util.Optional<CpuSteal.Snapshot> before = CpuSteal.now();
        try (NDManager m = parent.newSubManager()) {
            NDArray x = m.randomUniform(-1, 1, new Shape(1, 512, 38, 63));
            NDArray w = m.randomUniform(-0.05f, 0.05f, new Shape(512, 512, 3, 3));
            double convFlops = 2.0 * 512 * 512 * 9 * 38 * 63;
            double conv = best(m, () -> ai.djl.nn.convolutional.Conv2d.conv2d(x, w, null, new Shape(1, 1),
                    new Shape(1, 1), new Shape(1, 1), 1).singletonOrThrow(), convFlops);
            NDArray a = m.randomUniform(-1, 1, new Shape(1024, 1024));
            NDArray b = m.randomUniform(-1, 1, new Shape(1024, 1024));
            double gemm = best(m, () -> a.matMul(b), 2.0 * 1024 * 1024 * 1024);
            java.util.Optional<CpuSteal.Snapshot> after = CpuSteal.now();
            double stolen = before.isPresent() && after.isPresent() ? CpuSteal.share(before.get(), after.get()) : Double.NaN;
            return new Peak(conv, gemm, stolen);
        }
    }

    private static double best(NDManager m, java.util.function.Supplier<NDArray> op, double flops) {
        // a cold process needs a while to reach its speed (oneDNN's kernels generated, pages mapped, the clock up: 177,
        // 196, 226 then 291 GFLOP/s for the convolution in one JVM's first four rounds of seven runs), so a second of
        // warm-up, then the fastest run of the next second (at least 12 runs)
        long fastest = Long.MAX_VALUE;
        long start = System.nanoTime();
        int counted = 0;
        while (counted < 12 || System.nanoTime() - start < 2_000_000_000L) {
            try (NDManager step = m.newSubManager()) {
                long t0 = System.nanoTime();
                NDArray y = op.get();
                y.tempAttach(step);
                y.toFloatArray(); // wait for the result, as the pipeline does
                long t = System.nanoTime() - t0;
                if (System.nanoTime() - start > 1_000_000_000L) {
                    fastest = Math.min(fastest, t);
                    counted++;
                }
            }
        }
        return flops / fastest; // FLOP per nanosecond = GFLOP/s
    }
}
