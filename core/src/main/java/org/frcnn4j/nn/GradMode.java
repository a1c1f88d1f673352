package org.frcnn4j.nn;

import ai.djl.pytorch.jni.JniUtils;

/**
 * Autograd on or off for this thread until closed, then as it was. The mode is per thread and leaks: DJL turns it off
 * on the thread that loads the engine, libtorch starts new threads with it on, and DJL's gradient collector restores
 * whatever it found; so code that needs one mode sets it itself and gives the thread's own back.
 */
public final class GradMode implements AutoCloseable {
    private final boolean before;

    private GradMode(boolean on) {
        before = JniUtils.isGradMode();
        JniUtils.setGradMode(on);
    }

    /** Autograd {@code on} until {@link #close()}. The engine must be loaded (any NDManager made before does it). */
    public static GradMode set(boolean on) {
        return new GradMode(on);
    }

    @Override
    public void close() {
        JniUtils.setGradMode(before);
    }
}
