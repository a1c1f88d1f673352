package org.frcnn4j.nn;

import ai.djl.pytorch.jni.JniUtils;
import java.util.concurrent.ThreadFactory;

/**
 * Daemon threads that compute with one engine (libtorch intra-op) thread each. A new libtorch thread takes the
 * process-wide count of the moment it first computes, and {@code setNumThreads} changes that count for every later
 * thread; results of some operators differ in their last bits with the count. So every thread frcnn4j starts to
 * compute sets its own count first, and two of them on two cores do not fight over the cores with two threads each.
 */
public final class EngineThreads {
    private EngineThreads() {}

    /** Threads named {@code name}, each with one engine thread. */
    public static ThreadFactory single(String name) {
        return r -> {
            Thread t = new Thread(() -> {
                JniUtils.setNumThreads(1);
                r.run();
            }, name);
            t.setDaemon(true);
            return t;
        };
    }
}
