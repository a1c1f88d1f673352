package org.frcnn4j.spark;

import java.nio.file.Path;
import org.apache.spark.SparkEnv;
import org.frcnn4j.model.Detector;

/**
 * The detector of this executor JVM: loaded on the first task that needs it, then reused by every task and partition
 * that runs here (a model load takes seconds; an image a fraction of one). Tasks of one executor take turns on it
 * ({@link Detector} runs one image at a time), and the engine's threads are the executor's cores, so the cores are
 * used by one image's convolutions rather than fought over by several models.
 */
final class ExecutorDetector {
    private static String loadedKey;
    private static Detector loaded;

    private ExecutorDetector() {}

    static synchronized Detector get(String modelDir, Float scoreThreshold) {
        String key = modelDir + "|" + scoreThreshold;
        Detector d = key.equals(loadedKey) ? loaded : null;
        if (d == null) {
            // another job's model (each SparkContext ships it under another path): one model per JVM, the old closed
            if (loaded != null) {
                loaded.close();
                loaded = null;
            }
            d = scoreThreshold == null ? Detector.load(Path.of(modelDir))
                    : Detector.load(Path.of(modelDir), c -> c.with(c.head().withPostprocess(scoreThreshold,
                            c.head().nmsThreshold(), c.head().detectionsPerImage())));
            // after the load: the engine's native library is loaded by then
            ai.djl.pytorch.jni.JniUtils.setNumThreads(executorCores());
            loaded = d; // kept for every later task of the job on this executor
            loadedKey = key;
        }
        return d;
    }

    /** spark.executor.cores, or in local mode the N of local[N] (local[*]: every processor). */
    static int executorCores() {
        SparkEnv env = SparkEnv.get();
        int processors = Runtime.getRuntime().availableProcessors();
        if (env == null) {
            return processors;
        }
        String master = env.conf().get("spark.master", "");
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("local\\[(\\d+|\\*)").matcher(master);
        if (m.lookingAt()) {
            return m.group(1).equals("*") ? processors : Math.max(1, Math.min(processors, Integer.parseInt(m.group(1))));
        }
        if (master.equals("local")) {
            return 1;
        }
        return Math.max(1, env.conf().getInt("spark.executor.cores", processors));
    }
}
