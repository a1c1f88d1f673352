package org.frcnn4j.data;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.function.Predicate;

/**
 * The image ids of files outside a dataset, one rule for every tool that writes results ({@code frcnn detect},
 * {@code propose}, {@code spark-detect}): the file name without its extension, and {@code x_2}, {@code x_3}, ... for
 * further files of the same name (a/x.jpg and b/x.jpg), so that no result or picture overwrites another.
 */
public final class ImageIds {
    private ImageIds() {}

    /** A file name (or a path or URI ending in one) without its extension. */
    public static String stem(String path) {
        String name = path.substring(path.lastIndexOf('/') + 1);
        int dot = name.lastIndexOf('.');
        return dot > 0 ? name.substring(0, dot) : name;
    }

    /** The id of the next file with this stem, given which ids are taken already (the caller records it). */
    public static String unique(String stem, Predicate<String> taken) {
        String id = stem;
        for (int n = 2; taken.test(id); n++) {
            id = stem + "_" + n;
        }
        return id;
    }

    /** {@code image_id} in COCO results: a number when the id is all digits (as COCO's are), else text. */
    public static void put(ObjectNode o, String id) {
        if (id.matches("\\d{1,18}")) {
            o.put("image_id", Long.parseLong(id));
        } else {
            o.put("image_id", id);
        }
    }
}
