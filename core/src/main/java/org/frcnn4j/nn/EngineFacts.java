package org.frcnn4j.nn;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.pytorch.jni.JniUtils;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * What this process computes with: Java, DJL and libtorch versions, the CPU and the instruction set oneDNN picked on
 * it, threads, and the settings that change speed or results (glibc's allocator, OpenMP, oneDNN). {@code frcnn doctor}
 * prints these; benchmarks quote the CPU.
 *
 * @param oneDnn     oneDNN's version and ISA as it reports them ({@code ONEDNN_VERBOSE} in a child process), or why
 *                   not known
 * @param cpuFlags   the CPU's vector extensions that matter here (AVX2, AVX-512 kinds, BF16, AMX)
 * @param settings   environment variables in effect that change speed or results, name to value
 */
public record EngineFacts(String java, String djl, String engine, List<String> engineFeatures, String cpu,
                          List<String> cpuFlags, String oneDnn, int threads, int processors, Map<String, String> settings) {

    /** Variables whose values this project's speed or numerics depend on. */
    public static final List<String> SETTINGS = List.of("MALLOC_ARENA_MAX", "MALLOC_MMAP_MAX_", "MALLOC_TRIM_THRESHOLD_",
            "MALLOC_TOP_PAD_", "OMP_NUM_THREADS", "OMP_WAIT_POLICY", "ONEDNN_MAX_CPU_ISA", "ONEDNN_DEFAULT_FPMATH_MODE");

    /** The allocator settings of {@code bin/allocator.sh}, which the launcher and the tests use. */
    public static final Map<String, String> ALLOCATOR = Map.of("MALLOC_ARENA_MAX", "1", "MALLOC_MMAP_MAX_", "0",
            "MALLOC_TRIM_THRESHOLD_", "68719476736", "MALLOC_TOP_PAD_", "268435456");

    private static final List<String> FLAGS = List.of("avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
            "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16");

    public static EngineFacts read() {
        Engine engine = Engine.getInstance();
        Map<String, String> settings = new LinkedHashMap<>();
        for (String name : SETTINGS) {
            String v = System.getenv(name);
            if (v != null) {
                settings.put(name, v);
            }
        }
        String[] cpu = cpuInfo();
        return new EngineFacts(System.getProperty("java.version") + " (" + System.getProperty("java.vm.name") + ")",
                Engine.getDjlVersion(), engine.getEngineName() + " " + engine.getVersion(),
                List.copyOf(new java.util.TreeSet<>(JniUtils.getFeatures())), cpu[0], List.of(cpu[1].split(" ")),
                oneDnnReport(), JniUtils.getNumThreads(), Runtime.getRuntime().availableProcessors(), settings);
    }

    /** Whether glibc's allocator keeps freed memory for reuse here, as {@code bin/allocator.sh} sets it up. */
    public boolean allocatorTuned() {
        return allocatorKeepsMemory(settings);
    }

    public boolean hasFlag(String flag) {
        return cpuFlags.contains(flag);
    }

    private static volatile Boolean avx512Convolutions;

    /**
     * Whether oneDNN runs this process's float32 convolutions with its AVX-512 kernels: the CPU has AVX512F and
     * {@code ONEDNN_MAX_CPU_ISA} does not cap oneDNN below it. Decides routes whose speed turns on it.
     */
    public static boolean avx512Convolutions() {
        Boolean v = avx512Convolutions;
        if (v == null) {
            v = List.of(thisCpu()[1].split(" ")).contains("avx512f") && isaAllowsAvx512(System.getenv("ONEDNN_MAX_CPU_ISA"));
            avx512Convolutions = v;
        }
        return v;
    }

    private static volatile Boolean winogradConvolutions;

    /**
     * Whether float32 forward passes run 3x3 stride-1 convolutions of large maps by Winograd's transform
     * ({@link #winogradRoute}, which every machine has) rather than oneDNN's direct kernels: on by default, the
     * products' route only where glibc keeps freed memory ({@link #allocatorKeepsMemory}).
     * {@code -Dfrcnn.conv.winograd=on|off} overrides (auto by default); {@code =products} keeps only the route of
     * oneDNN's products ({@link ConvRoute.WinogradProducts}, under the same allocator condition as auto), never NNPACK's,
     * whose per-thread workspace outlives short-lived threads (Spark's task threads).
     */
    public static boolean winogradConvolutions() {
        Boolean v = winogradConvolutions;
        if (v == null) {
            v = winogradWanted(System.getProperty("frcnn.conv.winograd"), winogradRoute(), allocatorKeepsMemory(System.getenv()));
            winogradConvolutions = v;
        }
        return v;
    }

    /**
     * This machine's Winograd route. Where oneDNN runs AVX-512 kernels, F(4x4, 3x3) from oneDNN's own grouped products
     * ({@link ConvRoute.WinogradProducts}): its direct kernels reach the measured 3x3 ceiling there (330-350 GFLOP/s on
     * the family-26 EPYC), so only fewer multiplications go faster, and NNPACK's AVX2 kernels with Winograd's saving
     * were no faster than them; where NNPACK does not run (it needs AVX2 and FMA3, and did not initialise on the
     * family-26 EPYC), the products beat oneDNN's AVX2 direct kernels too (that EPYC with oneDNN capped at AVX2:
     * 512 -> 512 at 75x125 126 vs 235 ms, 256 -> 256 at 150x250 140 vs 226 ms). Elsewhere NNPACK's F(6x6, 3x3)
     * ({@link ConvRoute.Winograd}; an AMD EPYC of family 25, AVX2: VGG-16's layers 1.4-2.3x faster than oneDNN's AVX2
     * kernels).
     */
    public static ConvRoute winogradRoute() {
        return avx512Convolutions() || !ScriptedOps.nnpackAvailable() ? new ConvRoute.WinogradProducts()
                : new ConvRoute.Winograd();
    }

    /**
     * Turns the Winograd route on or off for the rest of the process, as {@code -Dfrcnn.conv.winograd} does at start: for
     * a program, or a test, that wants the engine's direct arithmetic, which is torchvision's on these CPUs. Returns the
     * setting before.
     */
    public static boolean setWinogradConvolutions(boolean on) {
        boolean before = winogradConvolutions();
        winogradConvolutions = on;
        return before;
    }

    /** Why {@link #winogradConvolutions} is false here (for {@code frcnn doctor}). */
    public static String winogradOffReason() {
        String setting = System.getProperty("frcnn.conv.winograd", "auto");
        if (winogradRoute() instanceof ConvRoute.WinogradProducts && !allocatorKeepsMemory(System.getenv())
                && (setting.isBlank() || setting.equalsIgnoreCase("auto") || setting.equalsIgnoreCase("products"))) {
            return "glibc's allocator with its defaults maps the products' large arrays afresh on every call, which made "
                    + "the route twice as slow as the direct kernels: start the JVM with bin/allocator.sh's settings, or "
                    + "-Dfrcnn.conv.winograd=on";
        }
        return "-Dfrcnn.conv.winograd=" + setting;
    }

    /**
     * Whether glibc's allocator keeps freed memory for reuse: no separate mapping for large blocks
     * ({@code MALLOC_MMAP_MAX_=0}) and no trimming below a GiB ({@code MALLOC_TRIM_THRESHOLD_}), as
     * {@code bin/allocator.sh} sets them. Winograd's products make maps several times the input's size on every call;
     * with glibc's defaults each is mapped and faulted in afresh: VGG-16's inference at 1000x600 on the family-26 EPYC
     * took 4.7-5.0 s with the route against 2.3-2.4 s without it (in a JVM started without those settings), where with
     * them the route is the faster (1.7 against 2.3 s).
     */
    static boolean allocatorKeepsMemory(Map<String, String> env) {
        if (!"0".equals(env.get("MALLOC_MMAP_MAX_"))) {
            return false;
        }
        try {
            return Long.parseLong(env.getOrDefault("MALLOC_TRIM_THRESHOLD_", "0").trim()) >= (1L << 30);
        } catch (NumberFormatException e) {
            return false;
        }
    }

    /**
     * What {@code -Dfrcnn.conv.winograd} (null: auto) asks for, where {@code route} is this machine's: auto is on, except
     * for the products' route where the allocator does not keep freed memory ({@link #allocatorKeepsMemory}); products
     * is auto without NNPACK's route; on and off are what they say.
     */
    static boolean winogradWanted(String setting, ConvRoute route, boolean allocatorKeepsMemory) {
        boolean products = route instanceof ConvRoute.WinogradProducts;
        if (setting == null || setting.isBlank() || setting.equalsIgnoreCase("auto")) {
            return !products || allocatorKeepsMemory;
        }
        return switch (setting.toLowerCase(Locale.ROOT)) {
            case "on", "true" -> true;
            case "off", "false" -> false;
            case "products" -> products && allocatorKeepsMemory;
            default -> throw new IllegalArgumentException("frcnn.conv.winograd must be auto, on, off or products, not '"
                    + setting + "'");
        };
    }

    /** Whether oneDNN, capped at this ISA (null: not capped), may use AVX-512 kernels. */
    static boolean isaAllowsAvx512(String isa) {
        if (isa == null || isa.isBlank()) {
            return true;
        }
        String v = isa.toUpperCase(Locale.ROOT);
        return v.equals("ALL") || v.equals("DEFAULT") || v.startsWith("AVX512") || v.startsWith("AVX10") || v.contains("AMX");
    }

    private static volatile Boolean avx512Products;

    /**
     * Whether libtorch's float32 matrix products run AVX-512 kernels: MKL, its BLAS, chooses kernels by the CPU's vendor
     * as well as its flags, and takes its AVX-512 ones on Intel CPUs only. Measured: on an Intel Xeon with AVX-512 and
     * AMX (family 6, model 167) a 300 x 25088 -> 1024 product took 90 ms and the same layer as a 7x7 convolution 133 ms
     * (1000 x 12544 -> 1024: 157 vs 227 ms); on an AMD EPYC of family 26 the product took 80 ms and the convolution 47.
     */
    public static boolean avx512Products() {
        Boolean v = avx512Products;
        if (v == null) {
            String[] cpu = thisCpu();
            v = "GenuineIntel".equals(cpu[2]) && List.of(cpu[1].split(" ")).contains("avx512f");
            avx512Products = v;
        }
        return v;
    }

    /**
     * This CPU's name (with family and model), the vector extensions of interest it has and its vendor
     * ({@code GenuineIntel}, {@code AuthenticAMD}; empty where unknown), without the engine.
     */
    public static String[] thisCpu() {
        return cpuInfo();
    }

    /** Model name, family and model of the first CPU, the flags of {@link #FLAGS} it has and its vendor (Linux). */
    private static String[] cpuInfo() {
        String name = System.getProperty("os.arch");
        String vendor = "";
        String family = "?";
        String model = "?";
        List<String> flags = new ArrayList<>();
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"), StandardCharsets.US_ASCII)) {
                int colon = line.indexOf(':');
                if (colon < 0) {
                    if (line.isBlank() && !flags.isEmpty()) {
                        break; // the first processor is enough
                    }
                    continue;
                }
                String key = line.substring(0, colon).trim();
                String value = line.substring(colon + 1).trim();
                switch (key) {
                    case "model name" -> name = value;
                    case "vendor_id" -> vendor = value;
                    case "cpu family" -> family = value;
                    case "model" -> model = value;
                    case "flags" -> {
                        List<String> have = List.of(value.split("\\s+"));
                        FLAGS.stream().filter(have::contains).forEach(flags::add);
                    }
                    default -> { }
                }
            }
        } catch (IOException e) {
            return new String[] {name, "", ""};
        }
        return new String[] {name + " (family " + family + ", model " + model + ")", String.join(" ", flags), vendor};
    }

    /**
     * oneDNN's own words on its version and ISA: a child JVM runs one convolution with {@code ONEDNN_VERBOSE=1}, whose
     * info lines say them (the library offers no call for it). The child inherits this process's environment, so a
     * {@code ONEDNN_MAX_CPU_ISA} cap shows.
     */
    private static String oneDnnReport() {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder pb = new ProcessBuilder(java, "-Dai.djl.offline=true", "-cp", System.getProperty("java.class.path"),
                OneDnnProbe.class.getName()).redirectErrorStream(true);
        pb.environment().put("ONEDNN_VERBOSE", "1");
        String version = null;
        String isa = null;
        try {
            Process p = pb.start();
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    if (line.startsWith("onednn_verbose,v1,info,oneDNN ")) {
                        version = line.substring("onednn_verbose,v1,info,".length()).replaceAll(" \\(commit .*", "");
                    } else if (line.startsWith("onednn_verbose,v1,info,cpu,isa:")) {
                        isa = line.substring("onednn_verbose,v1,info,cpu,isa:".length());
                    }
                }
            }
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
            }
        } catch (IOException e) {
            return "unknown (" + e.getMessage() + ")";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "unknown (interrupted)";
        }
        return isa == null ? "unknown (oneDNN printed no ISA)" : (version == null ? "oneDNN" : version) + ", ISA: " + isa;
    }

    /** The child of {@link #oneDnnReport}: one convolution that PyTorch hands to oneDNN. */
    public static final class OneDnnProbe {
        private OneDnnProbe() {}

        public static void main(String[] args) {
            try (NDManager m = NDManager.newBaseManager()) {
                NDArray x = m.ones(new Shape(2, 16, 9, 9));
                NDArray w = m.ones(new Shape(16, 16, 5, 5));
                Conv2d.conv2d(x, w, null, new Shape(1, 1), new Shape(2, 2), new Shape(1, 1)).singletonOrThrow().toFloatArray();
            }
            System.out.flush();
            System.exit(0);
        }
    }

    /** One line per fact, "name: value", for people. */
    public List<String> lines() {
        List<String> out = new ArrayList<>();
        out.add("java: " + java);
        out.add("djl: " + djl + ", engine " + engine + " (" + String.join(", ", engineFeatures) + ")");
        out.add("cpu: " + cpu + ", " + processors + " processors; " + (cpuFlags.isEmpty() || cpuFlags.get(0).isEmpty()
                ? "no AVX2" : String.join(" ", cpuFlags)));
        out.add("onednn: " + oneDnn + (settings.containsKey("ONEDNN_MAX_CPU_ISA")
                ? " (capped by ONEDNN_MAX_CPU_ISA=" + settings.get("ONEDNN_MAX_CPU_ISA") + ")" : ""));
        out.add("threads: " + threads + " (OMP_WAIT_POLICY=" + settings.getOrDefault("OMP_WAIT_POLICY", "unset, ACTIVE by default")
                + ")");
        out.add("allocator: " + (allocatorTuned() ? "glibc keeping freed memory (" + describeAllocator() + ")"
                : "glibc's defaults (" + describeAllocator() + "): large tensors are faulted in afresh each time, "
                        + "VGG-16 runs ~30% slower; see README, Java API"));
        return out;
    }

    private String describeAllocator() {
        List<String> set = new ArrayList<>();
        ALLOCATOR.keySet().stream().sorted().forEach(k -> {
            if (settings.containsKey(k)) {
                set.add(k + "=" + settings.get(k));
            }
        });
        return set.isEmpty() ? "no MALLOC_* settings" : String.join(" ", set);
    }
}
