package org.frcnn4j.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/**
 * The named weights of a model, in one manager that outlives every forward pass. Names follow torchvision's state
 * dict keys ({@code backbone.0.weight}, {@code rpn.head.conv.weight}, {@code roi_heads.box_head.fc6.weight}, ...), so
 * that imported weights need no renaming and saved files read like torchvision's.
 *
 * <p>Layers ask for a parameter by name and shape: an existing one (loaded) must have that shape, a missing one is
 * created with the given initialisation from this store's seeded generator.
 */
public final class Parameters implements AutoCloseable {
    private final NDManager manager;
    private final Map<String, NDArray> arrays = new LinkedHashMap<>();
    private final java.util.Set<String> requested = new java.util.HashSet<>();
    private final java.util.Set<String> created = new java.util.TreeSet<>();
    private final Random random;
    private final java.util.Set<ConvShape> convolutions = new java.util.LinkedHashSet<>();
    private final java.util.Set<String> buffers = new java.util.HashSet<>();

    public Parameters(NDManager parent, long seed) {
        this.manager = parent.newSubManager();
        // through SplittableRandom's mixer: java.util.Random seeded with neighbouring numbers starts nearly alike
        this.random = new Random(new java.util.SplittableRandom(seed).nextLong());
    }

    public NDManager manager() {
        return manager;
    }

    /** How a missing parameter starts. */
    public sealed interface Init permits Normal, Constant, KaimingUniform, Uniform {}

    /** U(-bound, bound) (torchvision's FPN convs: kaiming_uniform with a = 1, bound sqrt(3 / fan_in)). */
    public record Uniform(double bound) implements Init {}

    /** N(0, std^2). */
    public record Normal(double std) implements Init {}

    /** A constant. */
    public record Constant(float value) implements Init {}

    /** PyTorch's default for conv and linear layers: U(-b, b) with b = 1 / sqrt(fan_in) (weights and biases alike). */
    public record KaimingUniform(int fanIn) implements Init {}

    /** The parameter {@code name}, created with {@code init} when missing; its shape must be {@code shape}. */
    public NDArray get(String name, Shape shape, Init init) {
        requested.add(name);
        NDArray a = arrays.get(name);
        if (a != null) {
            if (!a.getShape().equals(shape)) {
                throw new IllegalArgumentException("weight '" + name + "' has shape " + a.getShape() + ", the model needs " + shape);
            }
            return a;
        }
        float[] values = new float[Math.toIntExact(shape.size())];
        if (init instanceof Normal n) {
            for (int i = 0; i < values.length; i++) {
                values[i] = (float) (random.nextGaussian() * n.std());
            }
        } else if (init instanceof Constant c) {
            java.util.Arrays.fill(values, c.value());
        } else if (init instanceof Uniform u) {
            for (int i = 0; i < values.length; i++) {
                values[i] = (float) ((random.nextDouble() * 2 - 1) * u.bound());
            }
        } else if (init instanceof KaimingUniform k) {
            double bound = 1.0 / Math.sqrt(k.fanIn());
            for (int i = 0; i < values.length; i++) {
                values[i] = (float) ((random.nextDouble() * 2 - 1) * bound);
            }
        }
        a = manager.create(values, shape);
        a.setName(name);
        arrays.put(name, a);
        created.add(name);
        return a;
    }

    /**
     * Puts (or replaces) a parameter; the values are copied into this store's manager as float32. The copy goes
     * through the heap on purpose: arrays decoded from files may view a buffer that is freed with their manager,
     * and a native to(dtype, copy) of a same-type array was seen to keep that view.
     */
    public void put(String name, NDArray value) {
        float[] values = value.getDataType() == DataType.FLOAT32 ? value.toFloatArray()
                : value.toType(DataType.FLOAT32, false).toFloatArray();
        NDArray copy = manager.create(values, value.getShape());
        copy.setName(name);
        NDArray old = arrays.put(name, copy);
        if (old != null && old != copy) {
            old.close();
        }
    }

    /** Names that a layer asked for but that were not there before (so were initialised), sorted. */
    public java.util.SortedSet<String> initialised() {
        return java.util.Collections.unmodifiableSortedSet((java.util.TreeSet<String>) created);
    }

    /** Names present that no layer asked for, sorted. */
    public java.util.SortedSet<String> unused() {
        java.util.TreeSet<String> out = new java.util.TreeSet<>(arrays.keySet());
        out.removeAll(requested);
        return out;
    }

    /** Records a convolution that the model's layers compute, so that it can be checked when the model is built. */
    public void declareConvolution(ConvShape shape) {
        convolutions.add(shape);
    }

    /** The convolutions declared by the layers built on these parameters, in declaration order. */
    public java.util.List<ConvShape> convolutions() {
        return java.util.List.copyOf(convolutions);
    }

    /**
     * Marks a stored array as state that training never updates by gradient (batch norm's running statistics, and
     * all of a frozen batch norm), as PyTorch's buffers.
     */
    public void markBuffer(String name) {
        buffers.add(name);
    }

    /**
     * Records that a layer normalises with the batch's statistics in training and updates running ones (BatchNorm2d
     * not frozen): such a model's training images must share one pass, so that the statistics are the batch's.
     */
    public void markBatchStatistics() {
        batchStatistics = true;
    }

    /** Whether some layer normalises with the batch's statistics in training ({@link #markBatchStatistics}). */
    public boolean hasBatchStatistics() {
        return batchStatistics;
    }

    private volatile boolean batchStatistics;

    /** Whether the named array is a buffer ({@link #markBuffer}) rather than a trainable parameter. */
    public boolean isBuffer(String name) {
        return buffers.contains(name);
    }

    public boolean contains(String name) {
        return arrays.containsKey(name);
    }

    /** Name to array, in creation order (read-only view). */
    public Map<String, NDArray> all() {
        return Collections.unmodifiableMap(arrays);
    }

    /** Whether any parameter whose name {@code which} accepts trains in this step (requires gradients). */
    public boolean anyTrains(java.util.function.Predicate<String> which) {
        return arrays.entrySet().stream().anyMatch(e -> which.test(e.getKey()) && HandBackward.trains(e.getValue()));
    }

    /** The parameters as a named list (for {@link NDList#encode}). */
    public NDList toList() {
        NDList list = new NDList();
        for (Map.Entry<String, NDArray> e : arrays.entrySet()) {
            e.getValue().setName(e.getKey());
            list.add(e.getValue());
        }
        return list;
    }

    @Override
    public void close() {
        manager.close();
    }
}
