package org.frcnn4j.nn;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.frcnn4j.io.AtomicFiles;
import org.frcnn4j.nn.ConvCheck.Errors;
import org.frcnn4j.nn.ConvCheck.Gradients;
import org.frcnn4j.nn.ConvGuard.Verdict;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The guard's verdicts kept between runs on the same machine, so that a command on a large model does not spend its
 * first half minute re-checking ResNet-50's 60 convolutions. A file per engine and machine: its name is a hash of
 * the libtorch version, the CPU's identity and flags (/proc/cpuinfo), the oneDNN settings in the environment, the
 * thread count and this class's {@link #VERSION}, so a verdict is never reused on another CPU, ISA, engine or thread
 * count, and a change to the checks themselves starts a new file. In {@code $XDG_CACHE_HOME/frcnn4j} (else
 * {@code ~/.cache/frcnn4j}) or {@code -Dfrcnn.cache=DIR}; {@code -Dfrcnn.conv.cache=false} turns it off, and
 * {@code frcnn doctor} always checks afresh and rewrites it. An unreadable or foreign file is ignored.
 */
final class ConvVerdicts {
    private static final Logger LOG = LoggerFactory.getLogger(ConvVerdicts.class);
    /** Bump when ConvCheck's sizes, tolerance or routes change: earlier verdicts then no longer count. */
    static final int VERSION = 3;

    private final Path file;
    private final Map<String, String> lines = new TreeMap<>();

    private ConvVerdicts(Path file) {
        this.file = file;
    }

    /** The machine's verdict file, or null when caching is off or the machine cannot be identified. */
    static ConvVerdicts forThisMachine() {
        if (!Boolean.parseBoolean(System.getProperty("frcnn.conv.cache", "true"))) {
            return null;
        }
        try {
            String fingerprint = fingerprint();
            String hash = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                    .digest(fingerprint.getBytes(StandardCharsets.UTF_8))).substring(0, 20);
            ConvVerdicts v = new ConvVerdicts(directory().resolve("conv-verdicts-" + hash + ".tsv"));
            v.load();
            return v;
        } catch (IOException | NoSuchAlgorithmException | RuntimeException e) {
            LOG.debug("no convolution verdict cache: {}", e.toString());
            return null;
        }
    }

    private static Path directory() {
        String dir = System.getProperty("frcnn.cache");
        if (dir != null) {
            return Path.of(dir);
        }
        String xdg = System.getenv("XDG_CACHE_HOME");
        return (xdg != null && !xdg.isEmpty() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache"))
                .resolve("frcnn4j");
    }

    /** Everything that decides how the engine computes a convolution here. */
    static String fingerprint() throws IOException {
        EngineLogging.apply();
        StringBuilder b = new StringBuilder("frcnn4j conv verdicts v" + VERSION + "\n");
        b.append("engine ").append(ai.djl.engine.Engine.getInstance().getVersion()).append('\n');
        b.append("threads ").append(ai.djl.pytorch.jni.JniUtils.getNumThreads()).append('\n');
        System.getenv().entrySet().stream()
                .filter(e -> e.getKey().startsWith("ONEDNN_") || e.getKey().startsWith("DNNL_")
                        || e.getKey().startsWith("MKL_") || e.getKey().startsWith("ATEN_"))
                .sorted(Map.Entry.comparingByKey())
                .forEach(e -> b.append(e.getKey()).append('=').append(e.getValue()).append('\n'));
        // the first processor's identity and flags (every processor of these machines is the same kind)
        for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
            if (line.isBlank()) {
                break;
            }
            String key = line.split(":", 2)[0].trim();
            if (List.of("vendor_id", "cpu family", "model", "model name", "stepping", "microcode", "flags").contains(key)) {
                b.append(line.trim()).append('\n');
            }
        }
        return b.toString();
    }

    private void load() throws IOException {
        if (!Files.isRegularFile(file)) {
            return;
        }
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            String[] f = line.split("\t");
            if (f.length == 2) {
                lines.put(f[0], f[1]);
            }
        }
    }

    private static String key(ConvShape s, Gradients g, Precision p, MemoryLayout l, boolean winograd) {
        // float32 row-major keys are as before bfloat16, channels-last and Winograd existed, so earlier files stay valid
        return (winograd ? "winograd " : "") + s.inChannels() + " " + s.outChannels() + " " + s.kernel() + " " + s.stride() + " " + s.padding() + " "
                + s.dilation() + " " + s.groups() + " " + s.inputSize() + " " + g.name()
                + (p == Precision.FP32 ? "" : " " + p) + (l == MemoryLayout.NCHW ? "" : " nhwc");
    }

    /** The kept verdict for this shape, or null. */
    synchronized Verdict get(ConvShape shape, Gradients gradients, Precision precision, MemoryLayout layout,
                             boolean winograd, List<ConvRoute> routes) {
        String value = lines.get(key(shape, gradients, precision, layout, winograd));
        if (value == null) {
            return null;
        }
        try {
            String[] f = value.split(" ");
            int route = Integer.parseInt(f[0]);
            Errors direct = new Errors(Double.parseDouble(f[1]), Double.parseDouble(f[2]), Double.parseDouble(f[3]));
            Errors chosen = new Errors(Double.parseDouble(f[4]), Double.parseDouble(f[5]), Double.parseDouble(f[6]));
            if (route < 0 || route >= routes.size() || !chosen.right(routes.get(route).tolerance())) {
                return null;
            }
            return new Verdict(shape, gradients, precision, layout, winograd, routes.get(route), direct, chosen);
        } catch (RuntimeException e) {
            return null; // a damaged line: check again
        }
    }

    /** Keeps a verdict (the whole file is rewritten atomically; a failure to write only costs a check next time). */
    synchronized void put(Verdict v, List<ConvRoute> routes) {
        if (v.directErrors() == null || v.routeErrors() == null) {
            return; // forced: nothing was checked
        }
        Errors d = v.directErrors();
        Errors r = v.routeErrors();
        lines.put(key(v.shape(), v.gradients(), v.precision(), v.layout(), v.winograd()), String.format(Locale.ROOT, "%d %s %s %s %s %s %s",
                routes.indexOf(v.route()), d.forward(), d.inputGradient(), d.weightGradient(), r.forward(),
                r.inputGradient(), r.weightGradient()));
        List<String> out = new ArrayList<>();
        lines.forEach((k, value) -> out.add(k + "\t" + value));
        try {
            Files.createDirectories(file.getParent());
            AtomicFiles.write(file, (String.join("\n", out) + "\n").getBytes(StandardCharsets.UTF_8));
        } catch (IOException | RuntimeException e) {
            LOG.debug("could not keep the convolution verdicts in {}: {}", file, e.toString());
        }
    }

    /** Forgets every kept verdict (doctor's fresh checks then rewrite them). */
    synchronized void clear() {
        lines.clear();
    }

    Path file() {
        return file;
    }
}
