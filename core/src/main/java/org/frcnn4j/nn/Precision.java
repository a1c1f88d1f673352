package org.frcnn4j.nn;

import java.util.List;
import java.util.Locale;

/**
 * The arithmetic of inference. {@link #FP32} is the default and what every check and parity test holds to;
 * {@link #BF16} runs convolutions and fully connected layers with bfloat16 inputs and float32 sums (oneDNN's AVX512_BF16
 * or AMX kernels), about twice as fast where the CPU has those instructions and a little less exact (a bfloat16 has 8
 * significant bits). Training runs in float32 unless asked otherwise ({@code Trainer.withPrecision}): then the
 * convolutions and their gradients run in bfloat16 too, through a call autograd records ({@link ScriptedOps#conv2dTrained}),
 * while the fully connected layers, the normalisation and the weights stay float32.
 *
 * <p>The precision in force is per thread ({@link #use}), so that two detectors in one process can differ; a model
 * sets it around its own forward pass.
 */
public enum Precision {
    FP32, BF16;

    /** A precision and the bfloat16 copies of weights kept for it ({@link ScriptedOps#keep}: weight to index). */
    private record Context(Precision precision, java.util.Map<ai.djl.ndarray.NDArray, Integer> kept) {}

    private static final Context DEFAULT = new Context(FP32, java.util.Map.of());
    private static final ThreadLocal<Context> CURRENT = ThreadLocal.withInitial(() -> DEFAULT);

    /** The precision of this thread's inference right now. */
    public static Precision current() {
        return CURRENT.get().precision();
    }

    /** Sets this thread's precision until the returned scope closes (then restores the one before). */
    public static Scope use(Precision p) {
        return use(p, java.util.Map.of());
    }

    /**
     * As {@link #use(Precision)}, with the bfloat16 copies a model keeps of its large weights (identity of the
     * weight array to {@link ScriptedOps#keep}'s index), so that layers use them instead of rounding on every call.
     */
    public static Scope use(Precision p, java.util.Map<ai.djl.ndarray.NDArray, Integer> kept) {
        Context before = CURRENT.get();
        CURRENT.set(new Context(p, kept));
        return () -> CURRENT.set(before);
    }

    /** The index of the bfloat16 copy kept of {@code weight} in this thread's scope, or -1. */
    public static int keptIndex(ai.djl.ndarray.NDArray weight) {
        Integer i = CURRENT.get().kept().get(weight);
        return i == null ? -1 : i;
    }

    /** Restores the precision that was in force before {@link #use}. */
    @FunctionalInterface
    public interface Scope extends AutoCloseable {
        @Override
        void close();
    }

    /** {@code fp32} or {@code bf16}, as the command line spells it. */
    public static Precision parse(String name) {
        for (Precision p : values()) {
            if (p.name().equalsIgnoreCase(name)) {
                return p;
            }
        }
        throw new IllegalArgumentException("precision must be fp32 or bf16, not '" + name + "'");
    }

    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT);
    }

    /**
     * Whether a CPU with these flags ({@link EngineFacts.thisCpu()}) computes bfloat16 products in hardware. Without
     * AVX512_BF16 or AMX oneDNN would emulate them, slower than float32: no reason to give up exactness.
     */
    public boolean availableWith(List<String> cpuFlags) {
        return this == FP32 || cpuFlags.contains("avx512_bf16") || cpuFlags.contains("amx_bf16");
    }

    /** This precision, or an exception with one line saying why this CPU cannot use it. */
    public Precision requireAvailable() {
        String[] cpu = EngineFacts.thisCpu();
        List<String> flags = cpu[1].isBlank() ? List.of() : List.of(cpu[1].split(" "));
        if (!availableWith(flags)) {
            throw new UnsupportedPrecisionException("--precision " + this + " needs a CPU with AVX512_BF16 or AMX; this "
                    + cpu[0] + " has " + (flags.isEmpty() ? "neither" : String.join(" ", flags) + " but neither"));
        }
        String isa = System.getenv("ONEDNN_MAX_CPU_ISA");
        if (this == BF16 && !isaAllowsBf16(isa)) {
            throw new UnsupportedPrecisionException("--precision " + this + " needs oneDNN's AVX512_BF16 or AMX kernels, "
                    + "which ONEDNN_MAX_CPU_ISA=" + isa + " rules out");
        }
        return this;
    }

    /**
     * Whether oneDNN runs this process's bfloat16 convolutions on AMX tiles: the CPU has AMX_BF16 and
     * {@code ONEDNN_MAX_CPU_ISA} does not cap oneDNN below it.
     */
    public static boolean amxKernels() {
        String[] cpu = EngineFacts.thisCpu();
        return List.of(cpu[1].split(" ")).contains("amx_bf16") && isaAllowsAmx(System.getenv("ONEDNN_MAX_CPU_ISA"));
    }

    /** Whether oneDNN, capped at this ISA (null: not capped), may use its AMX kernels. */
    static boolean isaAllowsAmx(String isa) {
        if (isa == null || isa.isBlank()) {
            return true;
        }
        String v = isa.toUpperCase(Locale.ROOT);
        return v.equals("ALL") || v.equals("DEFAULT") || v.contains("AMX");
    }

    /** Whether oneDNN, capped at this ISA (null: not capped), may use its bfloat16 instructions. */
    public static boolean isaAllowsBf16(String isa) {
        if (isa == null || isa.isBlank()) {
            return true;
        }
        String v = isa.toUpperCase(Locale.ROOT);
        return v.equals("ALL") || v.equals("DEFAULT") || v.contains("BF16") || v.contains("AMX") || v.contains("FP16")
                || v.startsWith("AVX10");
    }

    /** A precision this CPU does not compute in hardware. */
    public static final class UnsupportedPrecisionException extends org.frcnn4j.io.BadInputException {
        public UnsupportedPrecisionException(String message) {
            super(message);
        }
    }
}
