package org.frcnn4j.spark;

import java.io.IOException;
import java.util.UUID;
import java.util.regex.Pattern;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.frcnn4j.io.BadInputException;

/**
 * A Parquet table written as a whole, on any Hadoop file system: the job writes a hidden sibling folder, which then
 * takes the table's place. Spark's own overwrite deletes the old table before the job runs, so a job that fails leaves
 * nothing (and, given a file or someone's folder by mistake, deletes that); here a failed job leaves the old table as
 * it was, and only a Parquet table (or an empty folder) is ever replaced.
 */
final class ParquetOutput {
    /** What Spark's Parquet writer leaves in a table's folder (and Hadoop's local checksums beside them). */
    private static final Pattern TABLE_FILE = Pattern.compile("\\.?(part-.*|_SUCCESS|_committed_.*|_started_.*)(\\.crc)?");

    private ParquetOutput() {}

    /** Writes {@code rows} as the Parquet table {@code out}, replacing an earlier table there only once it is done. */
    static void write(SparkSession spark, Dataset<Row> rows, String out) {
        FileSystem fs = fileSystem(spark, new Path(out));
        Path target = fs.makeQualified(new Path(out));
        refuseToReplace(fs, target, out);
        String id = UUID.randomUUID().toString().substring(0, 8);
        Path writing = new Path(target.getParent(), "." + target.getName() + ".writing-" + id);
        Path old = new Path(target.getParent(), "." + target.getName() + ".old-" + id);
        try {
            rows.write().parquet(writing.toString());
        } catch (Exception e) { // SparkException is checked in Java's eyes, yet thrown undeclared by Scala
            delete(fs, writing);
            throw e;
        }
        try {
            boolean earlier = fs.exists(target);
            if (earlier && !fs.rename(target, old)) {
                throw new IOException("cannot move the earlier table aside");
            }
            if (!fs.rename(writing, target)) {
                // the earlier table back where it was; the new one stays hidden beside it, named
                if (earlier) {
                    fs.rename(old, target);
                }
                throw new IOException("cannot move the new table into place (it is at " + writing + ")");
            }
        } catch (IOException e) {
            throw new BadInputException(out + ": " + e.getMessage(), e);
        }
        delete(fs, old);
    }

    /** A file, or a folder with files that Spark did not write, is the user's: refused, left as it is. */
    static void refuseToReplace(FileSystem fs, Path target, String shown) {
        try {
            if (!fs.exists(target)) {
                return;
            }
            FileStatus status = fs.getFileStatus(target);
            if (!status.isDirectory()) {
                throw new BadInputException(shown + ": exists and is not a folder; refusing to replace it with the "
                        + "Parquet table");
            }
            for (FileStatus f : fs.listStatus(target)) {
                if (f.isDirectory() || !TABLE_FILE.matcher(f.getPath().getName()).matches()) {
                    throw new BadInputException(shown + ": holds files that are not a Parquet table's ("
                            + f.getPath().getName() + "); refusing to replace it: give a new or empty folder, or an "
                            + "earlier table");
                }
            }
        } catch (IOException e) {
            throw new BadInputException(shown + ": cannot be read: " + e.getMessage(), e);
        }
    }

    private static FileSystem fileSystem(SparkSession spark, Path target) {
        try {
            return target.getFileSystem(spark.sparkContext().hadoopConfiguration());
        } catch (IOException | RuntimeException e) {
            throw new BadInputException(target + ": no usable file system (" + e.getMessage() + ")", e);
        }
    }

    private static void delete(FileSystem fs, Path p) {
        try {
            fs.delete(p, true);
        } catch (IOException ignored) {
            // a hidden leftover; the next write of the table uses another name
        }
    }
}
