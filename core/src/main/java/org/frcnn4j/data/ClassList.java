package org.frcnn4j.data;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The object classes of a dataset in label order. Label i has name {@code names.get(i)} and the dataset's own
 * category id {@code categoryIds.get(i)}: i + 1 for VOC (the devkit's class order), the original (gapped) COCO id
 * for COCO, so that results written with {@link #categoryId(int)} use the ids the dataset uses.
 */
public record ClassList(List<String> names, List<Integer> categoryIds) {
    public ClassList {
        names = List.copyOf(names);
        categoryIds = List.copyOf(categoryIds);
        if (names.size() != categoryIds.size()) {
            throw new IllegalArgumentException("class names and ids differ in number");
        }
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (String n : names) {
            if (!seen.add(n)) {
                throw new org.frcnn4j.io.BadInputException("class name '" + n + "' appears twice");
            }
        }
    }

    /** Classes with ids 1..K in the given order. */
    public static ClassList of(List<String> names) {
        List<Integer> ids = new ArrayList<>();
        for (int i = 0; i < names.size(); i++) {
            ids.add(i + 1);
        }
        return new ClassList(names, ids);
    }

    /**
     * The names of a class list file, one a line (a name may hold spaces, as {@code traffic light}; blank lines and
     * a byte-order mark are skipped), or an error naming the file: a folder, no names, a name twice.
     */
    public static List<String> readNames(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new DatasetException(file, Files.isDirectory(file) ? "is a folder, not a class list file"
                    : Files.exists(file, LinkOption.NOFOLLOW_LINKS) ? "not a regular file" : "no such class list file");
        }
        List<String> names;
        try {
            names = Files.readAllLines(file, StandardCharsets.UTF_8).stream().map(l -> l.replace("\uFEFF", "").trim())
                    .filter(s -> !s.isEmpty()).toList();
        } catch (IOException e) {
            throw new DatasetException(file, "cannot read: " + org.frcnn4j.io.IoErrors.reason(e), e);
        }
        if (names.isEmpty()) {
            throw new DatasetException(file, "no class names in it (one a line)");
        }
        try {
            of(names); // its checks, here with the file named
        } catch (org.frcnn4j.io.BadInputException e) {
            throw new DatasetException(file, e.getMessage(), e);
        }
        return names;
    }

    public int size() {
        return names.size();
    }

    public String name(int label) {
        return names.get(label);
    }

    public int categoryId(int label) {
        return categoryIds.get(label);
    }

    /** The label of a class name, or -1. */
    public int labelOf(String name) {
        return names.indexOf(name);
    }

    /** The label of a dataset category id, or -1. */
    public int labelOfCategoryId(int categoryId) {
        return categoryIds.indexOf(categoryId);
    }

    /** Name to label. */
    public Map<String, Integer> labelsByName() {
        Map<String, Integer> out = new HashMap<>();
        for (int i = 0; i < names.size(); i++) {
            out.put(names.get(i), i);
        }
        return out;
    }
}
