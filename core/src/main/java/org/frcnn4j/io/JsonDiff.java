package org.frcnn4j.io;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Iterator;
import java.util.Set;
import java.util.TreeSet;

/** Where two JSON values first differ, as people read it: {@code solver.baseLr: 0.02 vs 0.01}. */
public final class JsonDiff {
    private JsonDiff() {}

    /**
     * The first difference between {@code a} and {@code b} in field order, or null when they are equal.
     *
     * @param ignored dotted paths not compared
     */
    public static String first(JsonNode a, JsonNode b, Set<String> ignored) {
        return first("", a, b, ignored);
    }

    private static String first(String path, JsonNode a, JsonNode b, Set<String> ignored) {
        if (ignored.contains(path)) {
            return null;
        }
        if (a == null || a.isMissingNode()) {
            return b == null || b.isMissingNode() || b.isNull() ? null : path + ": absent vs " + abbreviate(b);
        }
        if (b == null || b.isMissingNode()) {
            return a.isNull() ? null : path + ": " + abbreviate(a) + " vs absent";
        }
        if (a.isObject() && b.isObject()) {
            Set<String> names = new TreeSet<>();
            a.fieldNames().forEachRemaining(names::add);
            b.fieldNames().forEachRemaining(names::add);
            Iterator<String> order = a.fieldNames();
            java.util.List<String> ordered = new java.util.ArrayList<>();
            order.forEachRemaining(ordered::add);
            names.stream().filter(n -> !ordered.contains(n)).forEach(ordered::add);
            for (String n : ordered) {
                String d = first(path.isEmpty() ? n : path + "." + n, a.get(n), b.get(n), ignored);
                if (d != null) {
                    return d;
                }
            }
            return null;
        }
        if (a.isArray() && b.isArray()) {
            if (a.size() != b.size()) {
                return path + ": " + abbreviate(a) + " vs " + abbreviate(b);
            }
            for (int i = 0; i < a.size(); i++) {
                String d = first(path + "[" + i + "]", a.get(i), b.get(i), ignored);
                if (d != null) {
                    return d;
                }
            }
            return null;
        }
        if (a.isNumber() && b.isNumber()) {
            return a.doubleValue() == b.doubleValue() ? null : path + ": " + a + " vs " + b;
        }
        return a.equals(b) ? null : path + ": " + abbreviate(a) + " vs " + abbreviate(b);
    }

    private static String abbreviate(JsonNode n) {
        String s = n.toString();
        return s.length() > 60 ? s.substring(0, 57) + "..." : s;
    }
}
