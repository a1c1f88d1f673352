package org.frcnn4j.nn;

import java.util.ArrayList;
import java.util.List;

/**
 * Backward passes written out by hand, run after autograd's. A part of the network may compute its training forward
 * pass with autograd off, by routes that autograd cannot differentiate or not fast ({@link ChainTape}: Winograd's
 * transforms for the forward pass and the input gradients), hand the rest of the network an output that is a leaf
 * requiring gradients, and register here how to carry that leaf's gradient on into its parameters' gradients.
 *
 * <p>Only where the caller has opened a scope and promises to call {@link Scope#backward} right after autograd's
 * backward pass (the trainer); without a scope every part records for autograd as usual, so a caller that knows
 * nothing of this (a test, a parity check) gets the same gradients the ordinary way.
 */
public final class HandBackward {
    private static final ThreadLocal<Scope> CURRENT = new ThreadLocal<>();

    private HandBackward() {}

    /** Hand-written backward passes may be registered on this thread until the scope closes. */
    public static Scope open() {
        Scope s = new Scope(CURRENT.get());
        CURRENT.set(s);
        return s;
    }

    /**
     * Whether hand-written backward passes are allowed at all: {@code -Dfrcnn.backward=autograd} records every part
     * for autograd instead (to compare the two, or to step around a fault).
     */
    static boolean enabled() {
        return !"autograd".equals(System.getProperty("frcnn.backward"));
    }

    /** Whether this thread's caller will run hand-written backward passes (it opened a scope). */
    static boolean available() {
        return CURRENT.get() != null;
    }

    /** Registers a pass to run after autograd's backward pass; the scope must be open ({@link #available}). */
    static void defer(Runnable pass) {
        Scope s = CURRENT.get();
        if (s == null) {
            throw new IllegalStateException("no hand-written backward scope is open on this thread");
        }
        s.passes.add(pass);
    }

    /** The passes registered on a thread between {@link #open} and {@link #close}. */
    public static final class Scope implements AutoCloseable {
        private final Scope outer;
        private final List<Runnable> passes = new ArrayList<>();

        private Scope(Scope outer) {
            this.outer = outer;
        }

        /**
         * Runs the registered passes, the last registered first (the order of a backward pass), with autograd off,
         * once: call it right after autograd's backward pass of the same forward pass. Without that (a skipped step),
         * closing the scope drops them.
         */
        public void backward() {
            try (GradMode off = GradMode.set(false)) {
                for (int i = passes.size() - 1; i >= 0; i--) {
                    passes.get(i).run();
                }
            } finally {
                passes.clear();
            }
        }

        @Override
        public void close() {
            passes.clear();
            CURRENT.set(outer);
        }
    }
}
