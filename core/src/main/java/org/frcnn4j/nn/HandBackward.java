package org.frcnn4j.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
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

    /**
     * Marks {@code leaf} as the output of a part whose backward pass is registered here: autograd's graph ends at it, so
     * a later hand-written pass may send gradients into it by a backward call of its own ({@link DenseTape}).
     */
    static void markLeaf(NDArray leaf) {
        Scope s = CURRENT.get();
        if (s == null) {
            throw new IllegalStateException("no hand-written backward scope is open on this thread");
        }
        s.leaves.add(leaf);
    }

    /** Whether {@code a} is a leaf that a pass registered on this thread carries on ({@link #markLeaf}). */
    public static boolean isLeaf(NDArray a) {
        Scope s = CURRENT.get();
        return s != null && s.leaves.contains(a);
    }

    /**
     * What lies below a layer whose input gradient a hand-written pass would compute: nothing that learns, a leaf of a
     * hand-written pass ({@link #isLeaf}: a second backward call from the layer's input reaches it through a graph of
     * its own), or layers recorded for autograd, whose graph the first backward call also walks (through the RPN) and
     * frees, so that the layer must be recorded for autograd too.
     */
    public enum Below {
        FROZEN,
        HAND_WRITTEN,
        RECORDED
    }

    /** Whether {@code parameter} (a stored parameter, not a view of it) trains in this step. */
    static boolean trains(NDArray parameter) {
        return parameter != null && JniUtils.requiresGrad((PtNDArray) parameter);
    }

    /**
     * Adds a gradient into a parameter's own, as autograd's accumulation does (a parameter that trains). Under the
     * parameter's lock: the trainer's data-parallel images run their backward passes side by side, and autograd's own
     * accumulation locks the same way.
     */
    static void accumulate(NDArray parameter, NDArray gradient) {
        if (trains(parameter)) {
            synchronized (parameter) {
                add(parameter, gradient);
            }
        }
        gradient.close();
    }

    private static void add(NDArray parameter, NDArray gradient) {
        PtNDArray own = JniUtils.getGradient((PtNDArray) parameter);
        if (own != null) {
            own.addi(gradient);
            own.close(); // the handle, not the gradient
        } else {
            // the first gradient: a leaf's backward pass is its accumulator alone, which keeps an ordinary copy
            // (the scripted operations' results are inference tensors, which later in-place additions refuse)
            try (NDArray copy = gradient.duplicate()) {
                JniUtils.backward((PtNDArray) parameter, (PtNDArray) copy, false, false);
            }
        }
    }

    /** The passes registered on a thread between {@link #open} and {@link #close}. */
    public static final class Scope implements AutoCloseable {
        private final Scope outer;
        private final List<Runnable> passes = new ArrayList<>();
        private final java.util.Set<NDArray> leaves = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());

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
            leaves.clear();
            CURRENT.set(outer);
        }
    }
}
