package org.frcnn4j.io;

import java.io.BufferedInputStream;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Enumeration;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;
import net.razorvine.pickle.PickleException;
import org.frcnn4j.io.TorchUnpickler.Counting;
import org.frcnn4j.io.TorchUnpickler.Problem;
import org.frcnn4j.io.TorchUnpickler.Refused;
import org.frcnn4j.io.TorchUnpickler.Storage;
import org.frcnn4j.io.TorchUnpickler.TensorRef;

/**
 * Reads the tensors of a PyTorch {@code .pth} file (what {@code torch.save} writes) without Python or an engine.
 *
 * <p>Both formats are read: the zip archive of PyTorch 1.6 and later ({@code ARCHIVE/data.pkl} plus one raw
 * little-endian entry {@code ARCHIVE/data/KEY} per storage) and the older single stream
 * ({@code _use_new_zipfile_serialization=False}: magic number, protocol version, sys_info, the main pickle, the list of
 * storage keys, then each storage's element count and bytes). The pickles are unpickled by {@link TorchUnpickler},
 * which resolves only the few globals a state dict needs and refuses every other one.
 *
 * <p>Every failure is a {@link PthException} with a one-line message {@code FILE: problem}.
 */
public final class PthReader {
    /** Entries of a training checkpoint that hold the model's state dict, in the order they are looked for. */
    private static final List<String> MODEL_KEYS = List.of("model", "state_dict", "model_state_dict");
    private static final BigInteger LEGACY_MAGIC = new BigInteger("1950a86a20f9469cfc6c", 16);
    private static final int LEGACY_PROTOCOL = 1001;
    private static final int MAX_ARRAY = Integer.MAX_VALUE - 8;

    private PthReader() {}

    /**
     * The tensors of a state dict, by parameter name in file order. The file holds either the state dict itself (an
     * OrderedDict or dict of name to tensor) or a checkpoint dict whose {@code "model"}, {@code "state_dict"} or
     * {@code "model_state_dict"} entry is the state dict. Entries that are not tensors are skipped.
     *
     * @throws PthException if the file cannot be read as such, in one line naming the file
     */
    public static Map<String, PthTensor> readStateDict(Path file) {
        try {
            if (Files.isDirectory(file)) throw new Problem("is a folder, not a .pth file");
            long size = Files.size(file);
            if (size == 0) throw new Problem("is empty, not a .pth file");
            byte[] head;
            try (InputStream in = Files.newInputStream(file)) {
                head = in.readNBytes(4);
            }
            boolean zip = head.length == 4 && head[0] == 'P' && head[1] == 'K' && head[2] < 10 && head[3] < 10;
            return zip ? readZip(file) : readLegacy(file, size, head);
        } catch (Problem e) {
            throw new PthException(file, e.getMessage(), e);
        } catch (NoSuchFileException e) {
            throw new PthException(file, "no such file", e);
        } catch (AccessDeniedException e) {
            throw new PthException(file, "cannot be read: permission denied", e);
        } catch (ZipException e) {
            throw new PthException(file, "is not a readable zip archive (truncated or damaged?): " + e.getMessage(), e);
        } catch (IOException e) {
            throw new PthException(file, "cannot be read: " + e, e);
        } catch (PickleException e) {
            throw new PthException(file, "holds a damaged pickle: " + e.getMessage(), e);
        } catch (RuntimeException e) { // a malformed pickle can make Pyrolite cast or index wrongly
            throw new PthException(file, "holds a damaged pickle (" + e + ")", e);
        } catch (StackOverflowError e) {
            throw new PthException(file, "holds a pickle nested too deeply", e);
        }
    }

    private static Map<String, PthTensor> readZip(Path file) throws IOException {
        try (ZipFile zip = new ZipFile(file.toFile())) {
            ZipEntry pkl = null;
            for (Enumeration<? extends ZipEntry> en = zip.entries(); en.hasMoreElements(); ) {
                ZipEntry e = en.nextElement();
                // torch names the one folder after the file (or "archive"); data.pkl sits directly inside it
                if (e.getName().endsWith("/data.pkl") && e.getName().indexOf('/') == e.getName().length() - 9) {
                    if (pkl != null) throw new Problem("is a zip archive with two data.pkl entries");
                    pkl = e;
                }
            }
            if (pkl == null) throw new Problem("is a zip archive without ARCHIVE/data.pkl, not a torch.save file");
            String archive = pkl.getName().substring(0, pkl.getName().length() - "data.pkl".length());
            ZipEntry order = zip.getEntry(archive + "byteorder");
            if (order != null) {
                String byteorder = new String(readEntry(zip, order, 16), StandardCharsets.US_ASCII).strip();
                if (!byteorder.equals("little")) refuseByteOrder("byteorder '" + byteorder + "'");
            }
            byte[] pickle = readEntry(zip, pkl, MAX_ARRAY);
            TorchUnpickler unpickler = new TorchUnpickler();
            Map<String, TensorRef> refs = stateDict(unpickler.read(
                    new Counting(new ByteArrayInputStream(pickle), pickle.length)));
            for (TensorRef t : refs.values()) {
                Storage s = t.root();
                if (s.data != null) continue; // shared with a tensor already read
                ZipEntry e = zip.getEntry(archive + "data/" + s.key);
                if (e == null) throw new Problem("has no entry " + archive + "data/" + s.key + " for a tensor's storage");
                s.data = readEntry(zip, e, MAX_ARRAY);
                if (s.data.length < s.bytes()) {
                    throw new Problem("has storage " + e.getName() + " of " + s.data.length + " bytes, but its pickle "
                            + "declares " + s.numel + " " + s.dtype.torchName + " elements (" + s.bytes() + " bytes)");
                }
            }
            return materialize(refs);
        }
    }

    /** An entry's bytes; readNBytes grows its buffer as data arrives, so a lying size field cannot demand memory. */
    private static byte[] readEntry(ZipFile zip, ZipEntry e, int limit) throws IOException {
        if (e.getSize() > limit) throw new Problem("has entry " + e.getName() + " of " + e.getSize() + " bytes, too big");
        try (InputStream in = zip.getInputStream(e)) {
            byte[] b = in.readNBytes(limit);
            if (e.getSize() >= 0 && b.length != e.getSize()) {
                throw new Problem("has a damaged entry " + e.getName() + " (" + b.length + " of " + e.getSize() + " bytes)");
            }
            return b;
        }
    }

    private static Map<String, PthTensor> readLegacy(Path file, long size, byte[] head) throws IOException {
        try (Counting in = new Counting(new BufferedInputStream(Files.newInputStream(file), 1 << 16), size)) {
            TorchUnpickler unpickler = new TorchUnpickler();
            Object magic;
            try {
                magic = unpickler.read(in);
            } catch (Refused e) {
                throw e; // a hostile global is named as such, whatever else is wrong with the file
            } catch (Problem e) {
                if (head[0] == (byte) 0x80 && e.getMessage().startsWith("ends too early")) throw e; // PROTO, cut short
                magic = null;
            } catch (RuntimeException e) { // garbage, or a pickle cut short: not a torch.save stream
                magic = null;
            }
            if (!LEGACY_MAGIC.equals(magic)) {
                StringBuilder hex = new StringBuilder();
                for (byte b : head) hex.append(String.format(" %02x", b & 0xff));
                throw new Problem("is not a PyTorch file: neither a zip archive nor a torch.save pickle (it starts with"
                        + hex + ")");
            }
            Object protocol = unpickler.read(in);
            if (!(protocol instanceof Integer p && p == LEGACY_PROTOCOL)) {
                throw new Problem("has legacy protocol version " + protocol + "; only " + LEGACY_PROTOCOL + " is read");
            }
            Object sysInfo = unpickler.read(in);
            if (sysInfo instanceof Map<?, ?> info && Boolean.FALSE.equals(info.get("little_endian"))) {
                refuseByteOrder("sys_info little_endian=False");
            }
            Map<String, TensorRef> refs = stateDict(unpickler.read(in));
            if (!(unpickler.read(in) instanceof List<?> keys)) throw new Problem("has no list of storage keys");
            // the storages follow in the order of that list; read those the state dict uses, skip the rest
            Set<Storage> needed = new HashSet<>(); // by identity: one Storage per key
            for (TensorRef t : refs.values()) needed.add(t.root());
            for (Object key : keys) {
                Storage s = unpickler.storages.get(key);
                if (s == null) throw new Problem("lists storage '" + key + "' that no pickle refers to");
                byte[] count = in.readNBytes(8);
                if (count.length < 8) throw new Problem("ends too early: storage '" + key + "' is missing");
                long n = ByteBuffer.wrap(count).order(ByteOrder.LITTLE_ENDIAN).getLong();
                if (n != s.numel) {
                    throw new Problem("has storage '" + key + "' with " + n + " elements, but its pickle declares "
                            + s.numel);
                }
                if (s.bytes() > in.remaining()) {
                    throw new Problem("ends too early: storage '" + key + "' needs " + s.bytes() + " bytes, "
                            + in.remaining() + " remain");
                }
                if (needed.contains(s)) {
                    if (s.bytes() > MAX_ARRAY) throw new Problem("has storage '" + key + "' too big for a Java array");
                    s.data = in.readNBytes((int) s.bytes());
                    if (s.data.length < s.bytes()) throw new Problem("ends too early inside storage '" + key + "'");
                } else {
                    in.skipNBytes(s.bytes());
                }
            }
            return materialize(refs);
        }
    }

    private static void refuseByteOrder(String what) {
        throw new Problem("was saved on a big-endian machine (" + what + "); only little-endian files are read");
    }

    /** Finds the state dict: the top-level dict itself or its model entry; keeps the entries that are tensors. */
    private static Map<String, TensorRef> stateDict(Object top) {
        if (!(top instanceof Map<?, ?> map)) {
            throw new Problem("holds a " + pythonType(top) + ", not a state dict or checkpoint dict");
        }
        Map<?, ?> sd = map;
        for (String key : MODEL_KEYS) {
            if (map.get(key) instanceof Map<?, ?> inner) {
                sd = inner;
                break;
            }
        }
        Map<String, TensorRef> out = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : sd.entrySet()) {
            if (e.getKey() instanceof String name && e.getValue() instanceof TensorRef t) out.put(name, t);
        }
        if (out.isEmpty() && !sd.isEmpty()) {
            List<String> keys = new ArrayList<>();
            for (Object k : sd.keySet()) {
                if (keys.size() < 8) keys.add(k instanceof String ? (String) k : pythonType(k));
            }
            throw new Problem("holds no tensors where a state dict should be (keys: " + String.join(", ", keys)
                    + (sd.size() > 8 ? ", ..." : "") + ")");
        }
        return out;
    }

    private static Map<String, PthTensor> materialize(Map<String, TensorRef> refs) {
        Map<String, PthTensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, TensorRef> e : refs.entrySet()) out.put(e.getKey(), gather(e.getKey(), e.getValue()));
        return out;
    }

    /** Copies a tensor's elements out of its storage in row-major order, following its offset and strides. */
    private static PthTensor gather(String name, TensorRef t) {
        int esz = t.dtype().size;
        long numel = 1;
        long last = t.offset(); // highest element index touched; bounds were checked against the pickle's numel
        for (int d = 0; d < t.size().length; d++) {
            numel = Math.multiplyExact(numel, t.size()[d]);
            last += (t.size()[d] - 1) * t.stride()[d];
        }
        if (numel * esz > MAX_ARRAY) throw new Problem("has tensor '" + name + "' too big for a Java array");
        byte[] out = new byte[(int) (numel * esz)];
        if (numel == 0) return new PthTensor(t.dtype(), t.size(), out);
        byte[] src = t.root().data;
        if (src == null) throw new Problem("has no data for storage '" + t.root().key + "' of tensor '" + name + "'");
        if ((last + 1) * esz > src.length) {
            throw new Problem("has tensor '" + name + "' reaching byte " + (last + 1) * esz + " of storage '"
                    + t.root().key + "', which holds " + src.length);
        }
        int dims = t.size().length;
        long expectedStride = 1; // row-major strides: then the tensor is one run of its storage
        boolean contiguous = true;
        for (int d = dims - 1; d >= 0; d--) {
            if (t.size()[d] != 1 && t.stride()[d] != expectedStride) contiguous = false;
            expectedStride *= t.size()[d];
        }
        if (contiguous) {
            System.arraycopy(src, (int) (t.offset() * esz), out, 0, out.length);
            return new PthTensor(t.dtype(), t.size(), out);
        }
        // walk the elements as an odometer over the dimensions; contiguous runs of the last dimension copy at once
        boolean innerContiguous = dims == 0 || t.stride()[dims - 1] == 1;
        int run = dims == 0 ? 1 : (int) (innerContiguous ? t.size()[dims - 1] : 1);
        long[] index = new long[dims];
        long srcElem = t.offset();
        for (int pos = 0; pos < out.length; pos += run * esz) {
            if (innerContiguous) {
                System.arraycopy(src, (int) (srcElem * esz), out, pos, run * esz);
            } else {
                System.arraycopy(src, (int) (srcElem * esz), out, pos, esz);
            }
            // advance the index past this run
            for (int d = innerContiguous ? dims - 2 : dims - 1; d >= 0; d--) {
                if (++index[d] < t.size()[d]) {
                    srcElem += t.stride()[d];
                    break;
                }
                srcElem -= (t.size()[d] - 1) * t.stride()[d];
                index[d] = 0;
            }
        }
        return new PthTensor(t.dtype(), t.size(), out);
    }

    /** Python's name for what the unpickler made of a value, for messages (never the value: it may be huge). */
    static String pythonType(Object o) {
        if (o == null) return "None";
        if (o instanceof TensorRef) return "tensor";
        if (o instanceof TorchUnpickler.Global g) return "global '" + g.name() + "'";
        if (o instanceof TorchUnpickler.Namespace) return "argparse.Namespace";
        if (o instanceof Map) return "dict";
        if (o instanceof List) return "list";
        if (o instanceof Collection) return "set";
        if (o instanceof Object[]) return "tuple";
        if (o instanceof String) return "str";
        if (o instanceof byte[]) return "bytes";
        if (o instanceof Boolean) return "bool";
        if (o instanceof Double) return "float";
        if (o instanceof Number) return "int";
        return o.getClass().getSimpleName();
    }
}
