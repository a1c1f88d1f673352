package org.frcnn4j.spark;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.apache.spark.SparkEnv;
import org.frcnn4j.model.Detector;

/**
 * The detector of this executor JVM: loaded on the first task that needs it, then reused by every task and partition
 * that runs here (a model load takes seconds; an image a fraction of one). Tasks of one executor take turns on it
 * ({@link Detector} runs one image at a time), and the engine's threads are the executor's cores, so the cores are
 * used by one image's convolutions rather than fought over by several models.
 */
final class ExecutorDetector {
    private static final Map<String, Detector> LOADED = new HashMap<>();

    private ExecutorDetector() {}

    static synchronized Detector get(String modelDir, Float scoreThreshold) {
        String key = modelDir + "|" + scoreThreshold;
        Detector d = LOADED.get(key);
        if (d == null) {
            d = scoreThreshold == null ? Detector.load(Path.of(modelDir))
                    : Detector.load(Path.of(modelDir), c -> c.with(c.head().withPostprocess(scoreThreshold,
                            c.head().nmsThreshold(), c.head().detectionsPerImage())));
            // after the load: the engine's native library is loaded by then
            ai.djl.pytorch.jni.JniUtils.setNumThreads(executorCores());
            LOADED.put(key, d); // kept until the JVM ends: executors live as long as the job
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
