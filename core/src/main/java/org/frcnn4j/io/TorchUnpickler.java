package org.frcnn4j.io;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import net.razorvine.pickle.Opcodes;
import net.razorvine.pickle.PickleUtils;
import net.razorvine.pickle.Unpickler;
import org.frcnn4j.io.PthTensor.DType;

/**
 * Pyrolite's unpickler restricted to what a tensor state dict or a training checkpoint holds.
 *
 * <p>A pickle is a program: GLOBAL names any importable callable and REDUCE calls it. Pyrolite would answer an
 * unknown global with a dictionary-building constructor and hand {@code BUILD} to reflection. Here every opcode that
 * names, calls or builds something (GLOBAL, STACK_GLOBAL, INST, OBJ, REDUCE, NEWOBJ, NEWOBJ_EX, BUILD) is handled by
 * this class and never reaches Pyrolite; globals resolve only through {@link #ALLOWED} to inert {@link Global}
 * markers, and calling one builds nothing but maps, strings and tensor references. Every other opcode goes to Pyrolite
 * only if it is on the {@link #PLAIN_DATA} list, so an opcode Pyrolite may add later is refused rather than trusted.
 * Length-prefixed strings are checked against the bytes left and decimal ints are capped, so a few hostile bytes
 * cannot demand gigabytes or minutes.
 */
final class TorchUnpickler extends Unpickler {
    /** What went wrong, as the part of a one-line message after {@code FILE: }. */
    static class Problem extends RuntimeException {
        Problem(String message) {
            super(message, null, false, false);
        }
    }

    /** A global outside {@link #ALLOWED}: reported as such even where the file is otherwise not a .pth file. */
    static final class Refused extends Problem {
        Refused(String message) {
            super(message);
        }
    }

    enum Kind {
        ORDERED_DICT, REBUILD_TENSOR, REBUILD_PARAMETER, REBUILD_PARAMETER_WITH_STATE, STORAGE_TYPE, TORCH_SIZE,
        NAMESPACE, TORCH_VERSION
    }

    /** A resolved global: only ever one of the {@link #ALLOWED} instances. */
    record Global(String name, Kind kind, DType dtype) {}

    /** The bytes behind one storage key, filled in by the reader once it knows which storages it needs. */
    static final class Storage {
        final String key;
        final DType dtype; // of the first reference: the legacy format counts the root's elements in it
        final long numel;
        byte[] data;

        Storage(String key, DType dtype, long numel) {
            this.key = key;
            this.dtype = dtype;
            this.numel = numel;
        }

        long bytes() {
            return numel * dtype.size;
        }
    }

    /** What a persistent id turns into: a typed window on a storage. */
    record StorageRef(Storage root, DType dtype, long offset, long numel) {}

    /** What {@code _rebuild_tensor_v2} turns into; the values are gathered later. */
    record TensorRef(Storage root, DType dtype, long offset, long[] size, long[] stride) {}

    /** {@code argparse.Namespace}: its attributes, inert. */
    static final class Namespace extends LinkedHashMap<String, Object> {}

    /** An {@code OrderedDict}; marked so that BUILD may give it attributes (state dicts carry {@code _metadata}). */
    static final class OrderedDict extends LinkedHashMap<Object, Object> {}

    static final Map<String, Global> ALLOWED = allowed();

    private static Map<String, Global> allowed() {
        Map<String, Global> m = new HashMap<>();
        put(m, "collections.OrderedDict", Kind.ORDERED_DICT, null);
        // a dict subclass of counts: torchvision's reference checkpoints hold one in the MultiStepLR scheduler's state
        put(m, "collections.Counter", Kind.ORDERED_DICT, null);
        put(m, "torch._utils._rebuild_tensor_v2", Kind.REBUILD_TENSOR, null);
        put(m, "torch._utils._rebuild_parameter", Kind.REBUILD_PARAMETER, null);
        put(m, "torch._utils._rebuild_parameter_with_state", Kind.REBUILD_PARAMETER_WITH_STATE, null);
        put(m, "torch.Size", Kind.TORCH_SIZE, null);
        put(m, "argparse.Namespace", Kind.NAMESPACE, null);
        put(m, "torch.torch_version.TorchVersion", Kind.TORCH_VERSION, null);
        Object[][] typed = {{"Float", DType.FLOAT32}, {"Half", DType.FLOAT16}, {"BFloat16", DType.BFLOAT16},
                {"Double", DType.FLOAT64}, {"Long", DType.INT64}, {"Int", DType.INT32}, {"Short", DType.INT16},
                {"Char", DType.INT8}, {"Byte", DType.UINT8}, {"Bool", DType.BOOL}};
        for (Object[] t : typed) {
            // torch.cuda.* is what older torch wrote for GPU tensors; the bytes are the same
            put(m, "torch." + t[0] + "Storage", Kind.STORAGE_TYPE, (DType) t[1]);
            put(m, "torch.cuda." + t[0] + "Storage", Kind.STORAGE_TYPE, (DType) t[1]);
        }
        for (String untyped : List.of("torch.UntypedStorage", "torch._UntypedStorage", "torch.storage.UntypedStorage",
                "torch.storage._UntypedStorage")) {
            put(m, untyped, Kind.STORAGE_TYPE, DType.UINT8);
        }
        return Map.copyOf(m);
    }

    private static void put(Map<String, Global> m, String name, Kind kind, DType dtype) {
        m.put(name, new Global(name, kind, dtype));
    }

    /** Opcodes that only push, pop, copy or collect plain data; Pyrolite handles these. */
    private static final Set<Short> PLAIN_DATA = Set.of(Opcodes.MARK, Opcodes.STOP, Opcodes.POP, Opcodes.POP_MARK,
            Opcodes.DUP, Opcodes.FLOAT, Opcodes.INT, Opcodes.BININT, Opcodes.BININT1, Opcodes.BININT2,
            Opcodes.NONE, Opcodes.PERSID, Opcodes.BINPERSID, Opcodes.STRING, Opcodes.SHORT_BINSTRING, Opcodes.UNICODE,
            Opcodes.APPEND, Opcodes.APPENDS, Opcodes.GET, Opcodes.BINGET, Opcodes.LONG_BINGET, Opcodes.LIST,
            Opcodes.EMPTY_LIST, Opcodes.PUT, Opcodes.BINPUT, Opcodes.LONG_BINPUT, Opcodes.TUPLE, Opcodes.EMPTY_TUPLE,
            Opcodes.BINFLOAT, Opcodes.PROTO, Opcodes.TUPLE1, Opcodes.TUPLE2, Opcodes.TUPLE3, Opcodes.NEWTRUE,
            Opcodes.NEWFALSE, Opcodes.LONG1, Opcodes.SHORT_BINBYTES, Opcodes.SHORT_BINUNICODE, Opcodes.MEMOIZE,
            Opcodes.FRAME, Opcodes.READONLY_BUFFER);

    /** Storages by key, shared by every pickle this unpickler reads (the legacy format has several). */
    final Map<String, Storage> storages = new LinkedHashMap<>();
    private Counting source;

    /** Reads one pickle, up to its STOP. IO failures inside a pickle mean it was cut short. */
    Object read(Counting in) {
        source = in;
        try {
            return load(in);
        } catch (IOException e) {
            throw new Problem("ends too early: a pickle is cut short (" + e.getMessage() + ")");
        }
    }

    @Override
    protected Object dispatch(short op) throws IOException {
        switch (op) {
            case Opcodes.GLOBAL -> stack.add(resolve(PickleUtils.readline(input), PickleUtils.readline(input)));
            case Opcodes.STACK_GLOBAL -> {
                Object name = stack.pop();
                Object module = stack.pop();
                if (!(module instanceof String m && name instanceof String n)) {
                    throw new Problem("holds a damaged pickle: STACK_GLOBAL without two names");
                }
                stack.add(resolve(m, n));
            }
            case Opcodes.INST -> {
                Global g = resolve(PickleUtils.readline(input), PickleUtils.readline(input));
                stack.add(call(g, stack.pop_all_since_marker().toArray()));
            }
            case Opcodes.OBJ -> {
                List<Object> items = stack.pop_all_since_marker();
                if (items.isEmpty()) throw new Problem("holds a damaged pickle: OBJ without a class");
                stack.add(call(items.get(0), items.subList(1, items.size()).toArray()));
            }
            case Opcodes.REDUCE, Opcodes.NEWOBJ -> {
                Object args = stack.pop();
                stack.add(call(stack.pop(), tuple(args)));
            }
            case Opcodes.NEWOBJ_EX -> {
                Object kwargs = stack.pop();
                Object args = stack.pop();
                if (!(kwargs instanceof Map<?, ?> kw && kw.isEmpty())) {
                    throw new Problem("holds a pickle that passes keyword arguments, which no allowed global takes");
                }
                stack.add(call(stack.pop(), tuple(args)));
            }
            case Opcodes.BUILD -> {
                Object state = stack.pop();
                build(stack.peek(), state);
            }
            case Opcodes.EMPTY_DICT -> stack.add(new LinkedHashMap<>());
            case Opcodes.DICT -> {
                List<Object> items = stack.pop_all_since_marker();
                Map<Object, Object> map = new LinkedHashMap<>();
                putPairs(map, items);
                stack.add(map);
            }
            case Opcodes.SETITEM -> {
                Object value = stack.pop();
                Object key = stack.pop();
                putPairs(stack.peek(), Arrays.asList(key, value));
            }
            case Opcodes.SETITEMS -> {
                List<Object> items = stack.pop_all_since_marker();
                putPairs(stack.peek(), items); // in file order: Pyrolite's own SETITEMS loses it
            }
            case Opcodes.EMPTY_SET -> stack.add(new LinkedHashSet<>());
            case Opcodes.ADDITEMS -> {
                List<Object> items = stack.pop_all_since_marker();
                if (!(stack.peek() instanceof Set<?>)) throw new Problem("holds a damaged pickle: ADDITEMS without a set");
                @SuppressWarnings("unchecked") Set<Object> set = (Set<Object>) stack.peek();
                for (Object o : items) set.add(hashable(o));
            }
            case Opcodes.FROZENSET -> {
                Set<Object> set = new LinkedHashSet<>();
                for (Object o : stack.pop_all_since_marker()) set.add(hashable(o));
                stack.add(set);
            }
            case Opcodes.BINSTRING, Opcodes.BINUNICODE -> {
                byte[] b = counted(PickleUtils.bytes_to_integer(PickleUtils.readbytes(input, 4)));
                stack.add(op == Opcodes.BINSTRING ? PickleUtils.rawStringFromBytes(b) : utf8(b));
            }
            case Opcodes.BINBYTES -> stack.add(counted(
                    PickleUtils.bytes_to_integer(PickleUtils.readbytes(input, 4)) & 0xffffffffL));
            case Opcodes.BINBYTES8, Opcodes.BYTEARRAY8 -> stack.add(counted(
                    PickleUtils.bytes_to_long(PickleUtils.readbytes(input, 8), 0)));
            case Opcodes.BINUNICODE8 -> stack.add(utf8(counted(
                    PickleUtils.bytes_to_long(PickleUtils.readbytes(input, 8), 0))));
            case Opcodes.LONG -> {
                // protocol 0's decimal long; new BigInteger(String) is quadratic, so a hostile line is cut off first
                String digits = PickleUtils.readline(input);
                if (digits.endsWith("L")) digits = digits.substring(0, digits.length() - 1);
                if (digits.length() > 1000) throw new Problem("holds a pickle with a " + digits.length() + "-digit int");
                stack.add(PickleUtils.optimizeBigint(new BigInteger(digits)));
            }
            case Opcodes.LONG4 -> stack.add(PickleUtils.decode_long(counted(
                    PickleUtils.bytes_to_integer(PickleUtils.readbytes(input, 4)))));
            default -> {
                if (!PLAIN_DATA.contains(op)) {
                    throw new Problem("holds a pickle with opcode 0x" + Integer.toHexString(op)
                            + ", which tensor state dicts never use");
                }
                return super.dispatch(op);
            }
        }
        return NO_RETURN_VALUE;
    }

    private static Global resolve(String module, String name) {
        Global g = ALLOWED.get(module + "." + name);
        if (g == null) {
            String shown = (module + "." + name);
            if (shown.length() > 200) shown = shown.substring(0, 200) + "...";
            throw new Refused("refuses the pickle global '" + shown + "': only tensor state dicts are read");
        }
        return g;
    }

    /** Applies an allowed global; nothing else is callable. Only maps, strings and tensor references result. */
    private static Object call(Object callable, Object[] args) {
        if (!(callable instanceof Global g)) {
            throw new Problem("holds a pickle that calls a " + PthReader.pythonType(callable) + ", not an allowed global");
        }
        switch (g.kind()) {
            case ORDERED_DICT -> {
                OrderedDict d = new OrderedDict();
                if (args.length == 1 && args[0] instanceof Map<?, ?> m) {
                    d.putAll(m);
                } else if (args.length == 1 && args[0] instanceof Collection<?> pairs) {
                    for (Object p : pairs) {
                        Object[] kv = tuple(p);
                        if (kv.length != 2) throw new Problem("holds an OrderedDict built from non-pairs");
                        d.put(hashable(kv[0]), kv[1]);
                    }
                } else if (args.length != 0) {
                    throw badArgs(g);
                }
                return d;
            }
            case REBUILD_TENSOR -> {
                // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
                if ((args.length != 6 && args.length != 7) || !(args[0] instanceof StorageRef s)) throw badArgs(g);
                long[] size = longs(args[2], g);
                long[] stride = longs(args[3], g);
                long offset = nonNegative(args[1], g);
                if (size.length != stride.length) throw badArgs(g);
                long last = offset; // the highest element index the tensor touches, if it has any
                for (int i = 0; i < size.length; i++) {
                    if (size[i] == 0) return new TensorRef(s.root(), s.dtype(), s.offset() + offset, size, stride);
                    last = Math.addExact(last, Math.multiplyExact(size[i] - 1, stride[i]));
                }
                if (last >= s.numel()) {
                    throw new Problem("holds a tensor that needs " + (last + 1) + " elements of storage '"
                            + s.root().key + "', which has " + s.numel());
                }
                return new TensorRef(s.root(), s.dtype(), s.offset() + offset, size, stride);
            }
            case REBUILD_PARAMETER, REBUILD_PARAMETER_WITH_STATE -> {
                // (data, requires_grad, backward_hooks[, state]): a Parameter is its data here
                int n = g.kind() == Kind.REBUILD_PARAMETER ? 3 : 4;
                if (args.length != n || !(args[0] instanceof TensorRef t)) throw badArgs(g);
                return t;
            }
            case TORCH_SIZE -> {
                if (args.length == 0) return new Object[0];
                if (args.length != 1) throw badArgs(g);
                longs(args[0], g);
                return tuple(args[0]);
            }
            case NAMESPACE -> {
                if (args.length != 0) throw badArgs(g);
                return new Namespace();
            }
            case TORCH_VERSION -> {
                if (args.length != 1 || !(args[0] instanceof String s)) throw badArgs(g);
                return s;
            }
            default -> throw new Problem("holds a pickle that calls '" + g.name() + "', which torch.save never does");
        }
    }

    /** BUILD, i.e. setting an object's attributes: only where torch.save and argparse put them. */
    private static void build(Object target, Object state) {
        if (target instanceof Namespace ns && state instanceof Map<?, ?> attributes) {
            for (Map.Entry<?, ?> e : attributes.entrySet()) {
                if (!(e.getKey() instanceof String k)) throw new Problem("holds a Namespace with a non-string name");
                ns.put(k, e.getValue());
            }
        } else if (target instanceof OrderedDict) {
            // attributes such as _metadata: not entries of the state dict, so they are dropped
        } else if (target instanceof String && (state == null || state instanceof Map<?, ?> m && m.isEmpty())) {
            // a TorchVersion (a str) with an empty __dict__
        } else {
            throw new Problem("holds a pickle that sets the state of a " + PthReader.pythonType(target)
                    + ", which a state dict never does");
        }
    }

    /** The persistent id torch.save writes for a storage: ('storage', type, key, location, numel[, view]). */
    @Override
    protected Object persistentLoad(Object pid) {
        Object[] id = pid instanceof Object[] a ? a : new Object[0];
        if ((id.length != 5 && id.length != 6) || !"storage".equals(id[0])
                || !(id[1] instanceof Global type && type.kind() == Kind.STORAGE_TYPE) || !(id[2] instanceof String key)
                || !(id[4] instanceof Number)) {
            throw new Problem("holds a persistent id that is not a torch storage");
        }
        long numel = nonNegative(id[4], type);
        if (numel > Integer.MAX_VALUE) {
            throw new Problem("holds storage '" + key + "' of " + numel + " elements, more than a Java array holds");
        }
        Storage root = storages.computeIfAbsent(key, k -> new Storage(k, type.dtype(), numel));
        if (id.length == 6 && id[5] != null) {
            // a legacy storage view: (view_key, offset, size) within the root
            Object[] view = tuple(id[5]);
            if (view.length != 3) throw new Problem("holds a damaged storage view");
            long offset = nonNegative(view[1], type);
            long size = nonNegative(view[2], type);
            if (offset + size > numel) throw new Problem("holds a storage view past the end of storage '" + key + "'");
            return new StorageRef(root, type.dtype(), offset, size);
        }
        return new StorageRef(root, type.dtype(), 0, numel);
    }

    private byte[] counted(long n) throws IOException {
        if (n < 0 || n > source.remaining()) {
            throw new Problem("ends too early: a pickle string of " + n + " bytes runs past the end of the data");
        }
        return PickleUtils.readbytes(input, n);
    }

    private static String utf8(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }

    @SuppressWarnings("unchecked")
    private static void putPairs(Object target, List<Object> items) {
        if (!(target instanceof Map<?, ?>) || items.size() % 2 != 0) {
            throw new Problem("holds a damaged pickle: dict items without a dict");
        }
        Map<Object, Object> map = (Map<Object, Object>) target;
        for (int i = 0; i < items.size(); i += 2) {
            map.put(hashable(items.get(i)), items.get(i + 1));
        }
    }

    /** Python refuses unhashable keys; so do we, which also keeps a map that contains itself from being hashed. */
    private static Object hashable(Object key) {
        if (key instanceof Map || key instanceof Collection) {
            throw new Problem("holds a dict or set keyed by a " + PthReader.pythonType(key));
        }
        return key;
    }

    private static Object[] tuple(Object o) {
        if (o instanceof Object[] t) return t;
        if (o instanceof List<?> l) return l.toArray();
        throw new Problem("holds a pickle whose arguments are a " + PthReader.pythonType(o) + ", not a tuple");
    }

    private static long[] longs(Object o, Global g) {
        Object[] t = tuple(o);
        long[] out = new long[t.length];
        for (int i = 0; i < t.length; i++) out[i] = nonNegative(t[i], g);
        return out;
    }

    private static long nonNegative(Object o, Global g) {
        if (!(o instanceof Integer || o instanceof Long) || ((Number) o).longValue() < 0) throw badArgs(g);
        return ((Number) o).longValue();
    }

    private static Problem badArgs(Global g) {
        return new Problem("holds a call of '" + g.name() + "' with arguments torch.save never writes");
    }

    /** The remaining byte count of a pickle's source, so that a length read from the pickle can be checked. */
    static final class Counting extends FilterInputStream {
        private final long total;
        private long position;

        Counting(InputStream in, long total) {
            super(in);
            this.total = total;
        }

        long remaining() {
            return total - position;
        }

        @Override
        public int read() throws IOException {
            int b = super.read();
            if (b >= 0) position++;
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = super.read(b, off, len);
            if (n > 0) position += n;
            return n;
        }

        @Override
        public long skip(long n) throws IOException {
            long s = super.skip(n);
            position += s;
            return s;
        }

        @Override
        public boolean markSupported() {
            return false;
        }
    }
}
