package org.frcnn4j.spark;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.frcnn4j.io.AtomicFiles;
import org.frcnn4j.io.BadInputException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code frcnn spark-detect}: batch detection as a Spark job, in local mode here ({@code --master local[N]}) or, as the
 * main class of {@code spark-submit}, on a cluster.
 */
@Command(name = "spark-detect", mixinStandardHelpOptions = true,
        description = "Detect objects in many images with Apache Spark: a folder, glob or Parquet/CSV table (column "
                + "'path') of images on any Hadoop file system in; a Parquet table of detections (and errors) out, "
                + "and COCO results JSON on request. Runs in local mode without a cluster, or under spark-submit.")
public final class SparkDetectCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--model", required = true, description = "model folder (shipped to the executors by Spark)")
    String model;

    @Option(names = "--images", required = true,
            description = "a folder (its images, sub-folders too), a glob, or a .parquet/.csv table with a 'path' column")
    String images;

    @Option(names = "--out", required = true, description = "the Parquet table to write (replaced when it exists)")
    String out;

    @Option(names = "--master", description = "Spark master (default: local[2] here; under spark-submit, its --master)")
    String master;

    @Option(names = "--partitions", defaultValue = "0",
            description = "tasks to share the images among (default: Spark's default parallelism)")
    int partitions;

    @Option(names = "--score-thresh", description = "keep detections with at least this score (default: the model's)")
    Float scoreThresh;

    @Option(names = "--coco-json", description = "also write COCO results JSON here (atomically), as frcnn detect does")
    Path cocoJson;

    @Option(names = "--max-image-megapixels", defaultValue = "100",
            description = "refuse images whose header claims more pixels (an error row; default: ${DEFAULT-VALUE})")
    double maxMegapixels;

    @Option(names = "--verbose", description = "on failure, print the stack trace too")
    boolean verbose;

    public static void main(String[] args) {
        java.util.Locale.setDefault(java.util.Locale.ROOT);
        System.exit(execute(args));
    }

    /** Runs the command in this JVM and returns its exit code: 0, 2 for bad input, 1 otherwise. */
    public static int execute(String... args) {
        CommandLine cli = new CommandLine(new SparkDetectCommand());
        cli.setParameterExceptionHandler((ex, given) -> {
            ex.getCommandLine().getErr().println("frcnn: error: " + ex.getMessage() + " (see 'frcnn spark-detect --help')");
            return 2;
        });
        cli.setExecutionExceptionHandler((ex, line, parsed) -> {
            if (parsed.hasMatchedOption("--verbose")) {
                ex.printStackTrace(line.getErr());
            }
            Throwable cause = ex;
            while (cause.getCause() != null && !(cause instanceof BadInputException)) {
                cause = cause.getCause();
            }
            // one line: Spark's task failures carry the executor's whole stack trace in their message
            line.getErr().println("frcnn: error: " + (cause instanceof BadInputException ? cause.getMessage()
                    : cause.getClass().getSimpleName() + ": " + SparkDetection.firstLine(cause.getMessage())));
            return cause instanceof BadInputException ? 2 : 1;
        });
        return cli.execute(args);
    }

    @Override
    public Integer call() throws Exception {
        PrintWriter w = spec.commandLine().getOut();
        // checked before Spark starts, named as the flags
        org.frcnn4j.io.Ranges.positive("--max-image-megapixels", maxMegapixels);
        org.frcnn4j.io.Ranges.atLeast("--partitions", partitions, 0);
        if (scoreThresh != null) {
            org.frcnn4j.io.Ranges.unitInterval("--score-thresh", scoreThresh);
        }
        SparkSession.Builder builder = SparkSession.builder().appName("frcnn4j spark-detect")
                .config("spark.ui.enabled", "false");
        // under spark-submit the master comes from it; alone, local mode on two cores
        if (master != null) {
            builder.master(master);
        } else if (System.getProperty("spark.master") == null) {
            builder.master("local[2]");
        }
        long t0 = System.nanoTime();
        try (SparkSession spark = builder.getOrCreate()) {
            spark.sparkContext().setLogLevel("WARN");
            SparkDetection.Options options = new SparkDetection.Options(scoreThresh, partitions,
                    Math.round(maxMegapixels * 1e6));
            Dataset<Row> rows = SparkDetection.run(spark, model, images, out, options);
            long imagesDone = rows.select("path").distinct().count();
            long failed = rows.filter(functions.col("error").isNotNull()).count();
            long detections = rows.filter(functions.col("category_id").isNotNull()).count();
            if (cocoJson != null) {
                AtomicFiles.write(cocoJson, stream -> SparkDetection.writeCocoResults(rows, stream));
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            w.printf("spark-detect: %d images (%d could not be read; see the 'error' column), %d detections in "
                    + "%.1f s on %s -> %s%n", imagesDone, failed, detections, seconds, spark.sparkContext().master(), out);
            for (Row r : rows.filter(functions.col("error").isNotNull()).select("path", "error").limit(20)
                    .collectAsList()) {
                spec.commandLine().getErr().println("frcnn: " + r.getString(1));
            }
        }
        return 0;
    }
}
