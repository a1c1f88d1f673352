package org.frcnn4j.data;

import java.util.regex.Pattern;

/**
 * Numbers as annotation and results files write them: plain decimals (an optional sign, digits with an optional
 * point, an optional exponent), as the VOC devkit's MATLAB and Python read them, and Python's words for the values
 * that are not finite (nan, inf, infinity, in any case), which callers refuse by name. Java's own parser also takes
 * {@code 0.9f}, {@code 1d} and {@code 0x1p3}, which no other tool would read as those numbers.
 */
public final class Decimals {
    private static final Pattern DECIMAL = Pattern.compile("[+-]?(\\d+\\.?\\d*|\\.\\d+)([eE][+-]?\\d+)?");
    private static final Pattern NOT_FINITE = Pattern.compile("([+-]?)(nan|inf|infinity)", Pattern.CASE_INSENSITIVE);

    private Decimals() {}

    /** The value of {@code text} (surrounding white space allowed). */
    public static double parse(String text) {
        String t = text.strip();
        java.util.regex.Matcher word = NOT_FINITE.matcher(t);
        if (word.matches()) {
            return word.group(2).equalsIgnoreCase("nan") ? Double.NaN
                    : word.group(1).equals("-") ? Double.NEGATIVE_INFINITY : Double.POSITIVE_INFINITY;
        }
        if (!DECIMAL.matcher(t).matches()) {
            throw new NumberFormatException("not a decimal number: " + text);
        }
        return Double.parseDouble(t);
    }
}
