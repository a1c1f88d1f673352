package org.frcnn4j.data;

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
