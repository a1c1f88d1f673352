package org.frcnn4j.nn;

/**
 * Whether this thread's inference rounds as the peer does: a model in torchvision's arithmetic
 * ({@code FasterRcnnConfig.Arithmetic.TORCHVISION}) opens it for its forward pass. While open, and only for float32
 * calls without gradients, the layers take the routes that give Debian's torch 1.13 float32 values: convolutions by
 * the engine's direct kernels, never the Winograd route ({@link ConvGuard}); the small maps torch 1.13 keeps from
 * oneDNN and the fully connected layers summed by the BLAS it calls ({@link PeerBlas}; without that library the
 * convolutions in OpenBLAS's order in Java, {@link GemmOrder}, and the fully connected layers by the engine);
 * RoIAlign as torchvision's CPU kernel loops ({@code roi.RoiAlign}). A shape the engine computes wrong on this CPU
 * still takes the route that checks out for it.
 */
public final class PeerArithmetic {
    private static final ThreadLocal<Boolean> OPEN = ThreadLocal.withInitial(() -> false);

    private PeerArithmetic() {}

    /** Until closed, this thread's inference rounds as the peer's. */
    public static Precision.Scope open() {
        boolean before = OPEN.get();
        OPEN.set(true);
        return () -> OPEN.set(before);
    }

    /** Whether {@link #open} holds on this thread, whatever the call. */
    static boolean opened() {
        return OPEN.get();
    }

    /** Whether a call now should round as the peer's: opened, float32, and no gradients recorded. */
    public static boolean active() {
        return OPEN.get() && Precision.current() == Precision.FP32 && !ai.djl.pytorch.jni.JniUtils.isGradMode();
    }
}
