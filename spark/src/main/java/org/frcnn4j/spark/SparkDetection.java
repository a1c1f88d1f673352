package org.frcnn4j.spark;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.spark.SparkFiles;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.frcnn4j.data.DatasetException;
import org.frcnn4j.data.ImageIds;
import org.frcnn4j.data.Images;
import org.frcnn4j.model.Detector;

/**
 * Batch detection as a Spark job: images in (a folder, a glob, or a Parquet/CSV table with a {@code path} column, on
 * any Hadoop file system), one row per detection out ({@link #SCHEMA}); an image without detections is one row with
 * empty detection columns, an image that cannot be read or decoded one row with its {@code error}. The bytes are read
 * and decoded on the executors (Spark's {@code binaryFile} source); each executor JVM loads the model once
 * ({@link ExecutorDetector}) and reuses it for all its tasks.
 *
 * <pre>{@code
 * try (SparkSession spark = SparkSession.builder().master("local[2]").getOrCreate()) {
 *     Dataset<Row> rows = SparkDetection.detect(spark, "runs/demo/model", SparkDetection.images(spark, "photos/"),
 *             SparkDetection.Options.defaults());
 *     rows.write().parquet("detections.parquet");
 * }
 * }</pre>
 */
public final class SparkDetection {
    /** The output table's columns: detections of an image in the detector's order ({@code rank} 0, 1, ...). */
    public static final StructType SCHEMA = new StructType()
            .add("image_id", DataTypes.StringType, false)
            .add("path", DataTypes.StringType, false)
            .add("width", DataTypes.IntegerType, true)
            .add("height", DataTypes.IntegerType, true)
            .add("rank", DataTypes.IntegerType, true)
            .add("category_id", DataTypes.IntegerType, true)
            .add("category_name", DataTypes.StringType, true)
            .add("score", DataTypes.FloatType, true)
            .add("x1", DataTypes.FloatType, true)
            .add("y1", DataTypes.FloatType, true)
            .add("x2", DataTypes.FloatType, true)
            .add("y2", DataTypes.FloatType, true)
            .add("error", DataTypes.StringType, true);
    private static final String IMAGE_GLOB = "*.{jpg,jpeg,JPG,JPEG,png,PNG,bmp,BMP,gif,GIF}";

    private SparkDetection() {}

    /**
     * @param scoreThreshold overrides the model's score threshold when not null
     * @param partitions     how many tasks share the images (0: Spark's default parallelism)
     * @param maxPixels      images whose header claims more pixels are refused (an error row), before decoding
     */
    public record Options(Float scoreThreshold, int partitions, long maxPixels) implements java.io.Serializable {
        public static Options defaults() {
            return new Options(null, 0, Images.DEFAULT_MAX_PIXELS);
        }
    }

    /**
     * The images to run on, as Spark's {@code binaryFile} rows (path, content): a folder (its image files, in
     * sub-folders too), a glob, or a {@code .parquet} / {@code .csv} table whose {@code path} column names them.
     */
    public static Dataset<Row> images(SparkSession spark, String input) {
        String lower = input.toLowerCase(Locale.ROOT);
        if (lower.endsWith(".parquet") || lower.endsWith(".csv")) {
            Dataset<Row> table = lower.endsWith(".parquet") ? spark.read().parquet(input)
                    : spark.read().option("header", "true").csv(input);
            if (!List.of(table.columns()).contains("path")) {
                throw new org.frcnn4j.io.BadInputException(input + ": the table has no 'path' column (columns: "
                        + String.join(", ", table.columns()) + ")");
            }
            // the paths only: each executor reads its images itself, so that a missing file is that image's error
            // row rather than the job's end, and no path is taken for a glob
            Dataset<Row> paths = table.select(functions.col("path").cast(DataTypes.StringType).as("path"))
                    .filter(functions.col("path").isNotNull())
                    .withColumn("content", functions.lit(null).cast(DataTypes.BinaryType));
            if (paths.isEmpty()) {
                throw new org.frcnn4j.io.BadInputException(input + ": the table lists no images");
            }
            return paths;
        }
        Dataset<Row> files;
        try {
            files = spark.read().format("binaryFile").option("pathGlobFilter", IMAGE_GLOB)
                    .option("recursiveFileLookup", "true").load(input).select("path", "content");
        } catch (Exception e) { // Scala's exceptions are unchecked, AnalysisException included
            if (e instanceof org.apache.spark.sql.AnalysisException a) {
                // Spark's PATH_NOT_FOUND and its kin: about the input the user named
                throw new org.frcnn4j.io.BadInputException(input + ": " + firstLine(a.getSimpleMessage()), e);
            }
            throw e;
        }
        if (files.select("path").isEmpty()) {
            throw new org.frcnn4j.io.BadInputException(input + ": no images there (" + IMAGE_GLOB + ")");
        }
        return files;
    }

    /**
     * Runs the model folder {@code model} (a local path every executor can read, or the name of a folder shipped with
     * {@code SparkContext.addFile(dir, true)} / {@code --files}) over the images.
     */
    public static Dataset<Row> detect(SparkSession spark, String model, Dataset<Row> images, Options options) {
        return detect(spark, model, model, images, options);
    }

    /** @param shownAs the model as the user named it, for errors (an executor's copy has a temporary path) */
    static Dataset<Row> detect(SparkSession spark, String model, String shownAs, Dataset<Row> images, Options options) {
        java.util.HashMap<String, String> ids = imageIds(images.select("path").distinct().orderBy("path")
                .as(Encoders.STRING()).collectAsList());
        Dataset<Row> spread = options.partitions() > 0 ? images.repartition(options.partitions(), images.col("path"))
                : images;
        MapPartitionsFunction<Row, Row> job = rows -> new PartitionDetection(model, shownAs, options, ids, rows);
        return spread.mapPartitions(job, Encoders.row(SCHEMA));
    }

    /**
     * Image ids as {@code frcnn detect} gives them to files in this order: the file name without its extension, and
     * {@code x_2}, {@code x_3}, ... for further files of the same name (a.jpg in two folders). The driver holds one
     * string pair per image, never an image.
     */
    static java.util.HashMap<String, String> imageIds(List<String> sortedPaths) {
        java.util.HashMap<String, String> ids = new java.util.HashMap<>();
        java.util.Set<String> taken = new java.util.HashSet<>();
        for (String path : sortedPaths) {
            String id = ImageIds.unique(ImageIds.stem(path), taken::contains);
            taken.add(id);
            ids.put(path, id);
        }
        return ids;
    }

    /**
     * The job as {@code frcnn spark-detect} runs it: Parquet out, replacing an earlier table only when the job has
     * succeeded ({@link ParquetOutput}).
     */
    public static Dataset<Row> run(SparkSession spark, String model, String input, String out, Options options) {
        String shipped = ship(spark, model);
        Dataset<Row> rows = detect(spark, shipped, model, images(spark, input), options)
                .sortWithinPartitions("path", "rank");
        ParquetOutput.write(spark, rows, out);
        return spark.read().parquet(out);
    }

    /**
     * Ships a local model folder to the executors ({@code addFile}, recursive) and returns the name they find it by;
     * a folder on a cluster file system (a URI) is shipped the same way.
     */
    static String ship(SparkSession spark, String model) {
        Path dir = Path.of(model.replaceFirst("^file:", "")).toAbsolutePath().normalize();
        if (!model.contains("://") || model.startsWith("file:")) {
            // loaded here once, so that a broken model is named as the user gave it, in one line, rather than as
            // each executor's temporary copy in a failed task's stack trace
            try (ai.djl.ndarray.NDManager m = ai.djl.ndarray.NDManager.newBaseManager();
                 org.frcnn4j.model.FasterRcnn checked = org.frcnn4j.model.ModelFiles.load(dir, m)) {
                checked.config(); // loading is the check
            }
        }
        String uri = model.contains("://") ? model : dir.toUri().toString();
        spark.sparkContext().addFile(uri, true);
        return "sparkfiles:" + Path.of(java.net.URI.create(uri).getPath()).getFileName();
    }

    /**
     * The COCO results JSON of the detection rows (what {@code frcnn detect --json} writes for the same images:
     * image ids from the file names, [x, y, w, h] boxes), image by image in path order, each image's detections in
     * the detector's order.
     */
    public static void writeCocoResults(Dataset<Row> rows, OutputStream out) throws IOException {
        List<Row> dets = rows.filter(functions.col("category_id").isNotNull())
                .orderBy("path", "rank")
                .select("image_id", "category_id", "category_name", "x1", "y1", "x2", "y2", "score").collectAsList();
        com.fasterxml.jackson.databind.ObjectMapper mapper = new com.fasterxml.jackson.databind.ObjectMapper()
                .enable(com.fasterxml.jackson.databind.SerializationFeature.INDENT_OUTPUT);
        com.fasterxml.jackson.databind.node.ArrayNode list = mapper.createArrayNode();
        for (Row r : dets) {
            com.fasterxml.jackson.databind.node.ObjectNode o = list.addObject();
            ImageIds.put(o, r.getString(0));
            o.put("category_id", r.getInt(1));
            o.put("category_name", r.getString(2));
            float x1 = r.getFloat(3);
            float y1 = r.getFloat(4);
            float x2 = r.getFloat(5);
            float y2 = r.getFloat(6);
            o.putArray("bbox").add(x1).add(y1).add(x2 - x1).add(y2 - y1);
            o.put("score", r.getFloat(7));
        }
        mapper.writeValue(out, list);
    }

    /** One partition's images through the executor's detector, row by row (never the whole partition at once). */
    private static final class PartitionDetection implements Iterator<Row> {
        private final String model;
        private final String shownAs;
        private final Options options;
        private final Map<String, String> ids;
        private final Iterator<Row> images;
        private final java.util.ArrayDeque<Row> ready = new java.util.ArrayDeque<>();

        PartitionDetection(String model, String shownAs, Options options, Map<String, String> ids, Iterator<Row> images) {
            this.model = model;
            this.shownAs = shownAs;
            this.options = options;
            this.ids = ids;
            this.images = images;
        }

        @Override
        public boolean hasNext() {
            while (ready.isEmpty() && images.hasNext()) {
                ready.addAll(detect(images.next()));
            }
            return !ready.isEmpty();
        }

        @Override
        public Row next() {
            if (!hasNext()) {
                throw new java.util.NoSuchElementException();
            }
            return ready.poll();
        }

        private List<Row> detect(Row image) {
            String path = image.getString(0);
            String id = ids.getOrDefault(path, ImageIds.stem(path));
            List<Row> out = new ArrayList<>();
            BufferedImage img;
            try {
                byte[] bytes = image.isNullAt(1) ? read(path) : image.getAs(1);
                img = Images.readRgb(bytes, path, options.maxPixels());
            } catch (DatasetException e) {
                out.add(RowFactory.create(id, path, null, null, null, null, null, null, null, null, null, null,
                        e.getMessage()));
                return out;
            }
            Detector detector = detector();
            List<Detector.DetectedBox> boxes;
            try {
                boxes = detector.detect(img);
            } catch (RuntimeException e) {
                out.add(RowFactory.create(id, path, img.getWidth(), img.getHeight(), null, null, null, null, null, null,
                        null, null, "detection failed: " + e));
                return out;
            }
            if (boxes.isEmpty()) {
                out.add(RowFactory.create(id, path, img.getWidth(), img.getHeight(), null, null, null, null, null, null,
                        null, null, null));
            }
            for (int k = 0; k < boxes.size(); k++) {
                Detector.DetectedBox b = boxes.get(k);
                out.add(RowFactory.create(id, path, img.getWidth(), img.getHeight(), k,
                        detector.config().categoryId(b.label()), b.className(), b.score(), b.x1(), b.y1(), b.x2(),
                        b.y2(), null));
            }
            return out;
        }

        /** This executor's detector; a model it cannot load is named as the user gave it, not as its local copy. */
        private Detector detector() {
            String local = resolve(model);
            try {
                return ExecutorDetector.get(local, options.scoreThreshold());
            } catch (org.frcnn4j.io.BadInputException e) {
                throw new org.frcnn4j.io.BadInputException(e.getMessage().replace(local, shownAs), e);
            }
        }
    }

    /** A listed image's bytes, through the Hadoop file system its path names; its error row when it cannot be read. */
    private static byte[] read(String path) {
        try {
            org.apache.hadoop.fs.Path p = new org.apache.hadoop.fs.Path(path);
            org.apache.hadoop.fs.FileSystem fs = p.getFileSystem(new org.apache.hadoop.conf.Configuration());
            try (java.io.InputStream in = fs.open(p)) {
                return in.readAllBytes();
            }
        } catch (java.io.FileNotFoundException e) {
            throw new DatasetException(Path.of(path), "image file is missing");
        } catch (IOException | RuntimeException e) {
            throw new DatasetException(Path.of(path), "cannot read: " + e.getMessage());
        }
    }

    static String firstLine(String message) {
        return message == null ? "" : message.strip().lines().findFirst().orElse("");
    }

    /** A model name from {@link #ship}: the executor's copy; anything else: a path as given. */
    static String resolve(String model) {
        return model.startsWith("sparkfiles:") ? SparkFiles.get(model.substring("sparkfiles:".length())) : model;
    }
}
