package org.frcnn4j.cli;

import org.frcnn4j.io.AtomicFiles;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;

/** Output helpers the commands share. */
final class Commands {
    private Commands() {}

    /** The image as RGB, or null after one error line naming the file (the caller goes on with the other images). */
    static java.awt.image.BufferedImage readOrReport(Path file, PrintWriter err) {
        try {
            return org.frcnn4j.data.Images.readRgb(file);
        } catch (org.frcnn4j.data.DatasetException e) {
            err.println("frcnn: error: " + e.getMessage());
            return null;
        }
    }

    /** The decoded image, or null after one line on {@code err} naming the file and why it could not be read. */
    static java.awt.image.BufferedImage reportIfUnread(org.frcnn4j.data.ImagesAhead.Decoded decoded, PrintWriter err) {
        if (decoded.error() != null) {
            err.println("frcnn: error: " + decoded.error().getMessage());
            return null;
        }
        return decoded.image();
    }

    /** A file's name without its extension: the image id of files outside a dataset. */
    static String stem(Path file) {
        String name = file.getFileName().toString();
        int dot = name.lastIndexOf('.');
        return dot > 0 ? name.substring(0, dot) : name;
    }

    /**
     * The image id of an input file: its stem, or when an earlier input had the same stem (a/x.jpg and b/x.jpg), the
     * stem with "_2", "_3", ... appended, so that neither results nor drawn pictures overwrite each other.
     */
    static String uniqueId(Path file, java.util.Map<String, Path> taken, PrintWriter err) {
        String stem = stem(file);
        String id = stem;
        for (int n = 2; taken.containsKey(id); n++) {
            id = stem + "_" + n;
        }
        if (!id.equals(stem)) {
            err.println("frcnn: note: " + file + " has the name of " + taken.get(stem) + "; its image_id is '" + id + "'");
        }
        taken.put(id, file);
        return id;
    }

    /** image_id as a number when the id is all digits (COCO), else as text. */
    static void putImageId(ObjectNode o, String id) {
        if (id.matches("\\d{1,18}")) {
            o.put("image_id", Long.parseLong(id));
        } else {
            o.put("image_id", id);
        }
    }

    /** Pretty JSON to {@code file} (atomically) or, when it is null, to {@code out}. */
    static void writeJson(ObjectMapper mapper, JsonNode node, Path file, PrintWriter out) throws IOException {
        if (file == null) {
            out.println(mapper.writerWithDefaultPrettyPrinter().writeValueAsString(node));
            out.flush();
        } else {
            AtomicFiles.write(file, mapper.writerWithDefaultPrettyPrinter().writeValueAsBytes(node));
        }
    }
}
