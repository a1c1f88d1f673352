package org.frcnn4j.io;

/**
 * The range checks of configuration records and options: a value outside its range is the user's mistake (a
 * hand-edited config.json, a flag), refused with one line naming the setting. NaN fails every check.
 */
public final class Ranges {
    private Ranges() {}

    /** A count or size of at least {@code min}. */
    public static void atLeast(String name, long value, long min) {
        if (value < min) {
            throw new BadInputException(name + " must be at least " + min + ", not " + value);
        }
    }

    /** A threshold or fraction in [0, 1]. */
    public static void unitInterval(String name, double value) {
        if (!(value >= 0 && value <= 1)) {
            throw new BadInputException(name + " must be between 0 and 1, not " + show(value));
        }
    }

    /** A finite value above 0. */
    public static void positive(String name, double value) {
        if (!(value > 0 && value < Double.POSITIVE_INFINITY)) {
            throw new BadInputException(name + " must be a positive number, not " + show(value));
        }
    }

    /** A finite value of at least 0. */
    public static void nonNegative(String name, double value) {
        if (!(value >= 0 && value < Double.POSITIVE_INFINITY)) {
            throw new BadInputException(name + " must be zero or positive, not " + show(value));
        }
    }

    /** A finite value. */
    public static void finite(String name, double value) {
        if (!Double.isFinite(value)) {
            throw new BadInputException(name + " must be a finite number, not " + show(value));
        }
    }

    /** A list of {@code length} finite positive values (null or another length is refused too). */
    public static void positive(String name, float[] values, int length) {
        present(name, values == null ? -1 : values.length, length);
        for (float v : values) {
            positive(name + " (each)", v);
        }
    }

    /** A list of {@code length} finite values. */
    public static void finite(String name, float[] values, int length) {
        present(name, values == null ? -1 : values.length, length);
        for (float v : values) {
            finite(name + " (each)", v);
        }
    }

    /** A non-empty list of finite positive values. */
    public static void positive(String name, double[] values) {
        if (values == null || values.length == 0) {
            throw new BadInputException(name + " must list at least one value");
        }
        for (double v : values) {
            positive(name + " (each)", v);
        }
    }

    /** A non-empty list of whole numbers of at least {@code min} (a null element counts as missing). */
    public static void atLeast(String name, java.util.List<Integer> values, long min) {
        if (values == null || values.isEmpty()) {
            throw new BadInputException(name + " must list at least one value");
        }
        for (Integer v : values) {
            given(name + " (each)", v);
            atLeast(name + " (each)", v, min);
        }
    }

    /** A setting that must be given (an enum absent from a configuration file). */
    public static void given(String name, Object value) {
        if (value == null) {
            throw new BadInputException(name + " is missing");
        }
    }

    /** A float setting widened to double as the user wrote it (0.7, not 0.699999988079071). */
    private static String show(double value) {
        return (double) (float) value == value ? Float.toString((float) value) : Double.toString(value);
    }

    private static void present(String name, int actual, int length) {
        if (actual != length) {
            throw new BadInputException(name + " must list " + length + " values, "
                    + (actual < 0 ? "not be missing" : "not " + actual));
        }
    }
}
