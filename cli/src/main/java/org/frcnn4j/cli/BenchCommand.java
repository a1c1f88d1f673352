package org.frcnn4j.cli;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import org.frcnn4j.data.Images;
import org.frcnn4j.io.AtomicFiles;
import org.frcnn4j.io.BadInputException;
import org.frcnn4j.model.Detector;
import org.frcnn4j.model.FasterRcnn;
import org.frcnn4j.nn.Ceiling;
import org.frcnn4j.nn.ConvGuard;
import org.frcnn4j.nn.EngineFacts;
import org.frcnn4j.nn.Precision;
import org.frcnn4j.proposals.SelectiveSearch;
import org.frcnn4j.transform.ImageTransform;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine;

/**
 * {@code frcnn bench}: the paper's timing table (Table 5) for a model on this machine: per image, the time of each
 * stage, medians over the images and repeats after a warm-up.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Time inference per stage (medians after a warm-up): the paper's timing table, as Markdown and JSON.")
final class BenchCommand implements Callable<Integer> {
    static final List<String> STAGES = List.of("transform", "backbone", "rpn", "roi", "head", "post");

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @CommandLine.Mixin
    Options.InferencePrecision precision = new Options.InferencePrecision();

    @Option(names = "--model", required = true, description = "model folder")
    Path model;

    @Option(names = "--images", required = true, arity = "1..*", description = "image files or folders")
    List<Path> images;

    @Option(names = "--warmup", defaultValue = "2", description = "untimed runs first (default: ${DEFAULT-VALUE})")
    int warmup;

    @Option(names = "--repeat", defaultValue = "5", description = "timed runs per image (default: ${DEFAULT-VALUE})")
    int repeat;

    @Option(names = "--batch-sizes", split = ",", paramLabel = "N",
            description = "also time detect --batch N for each N (images per second over all the images), e.g. 1,2,4")
    List<Integer> batchSizes;

    @Option(names = "--json", description = "also write the medians here as JSON")
    Path json;

    @Option(names = "--methods", split = ",", defaultValue = "rpn",
            description = "proposal methods to time: rpn, selective-search (default: ${DEFAULT-VALUE})")
    List<String> methods;

    @Override
    public Integer call() throws IOException {
        // every flag checked before minutes of timing, not after
        org.frcnn4j.io.Ranges.atLeast("--repeat", repeat, 1);
        org.frcnn4j.io.Ranges.atLeast("--warmup", warmup, 0);
        if (batchSizes != null) {
            org.frcnn4j.io.Ranges.atLeast("--batch-sizes", batchSizes, 1);
        }
        java.util.Map<String, SelectiveSearch> timed = new java.util.LinkedHashMap<>(); // null: the model's RPN
        for (String method : methods) {
            timed.put(method, switch (method) {
                case "rpn" -> null;
                case "selective-search" -> SelectiveSearch.of(SelectiveSearch.Mode.FAST);
                default -> throw new BadInputException("--methods takes rpn and selective-search, got '" + method + "'");
            });
        }
        List<Path> files = expand(images);
        if (files.isEmpty()) {
            throw new BadInputException("no images in " + images);
        }
        Commands.checkOutputFile("--json", json, files);
        PrintWriter out = spec.commandLine().getOut();
        ObjectMapper mapper = new ObjectMapper();
        ObjectNode root = mapper.createObjectNode();
        precision.checked();
        try (Detector detector = precision.load(model)) {
            FasterRcnn m = detector.model();
            for (java.util.Map.Entry<String, SelectiveSearch> timing : timed.entrySet()) {
                String method = timing.getKey();
                SelectiveSearch ss = timing.getValue();
                List<double[]> runs = new ArrayList<>();
                double backboneFlops = 0;
                for (Path f : files) {
                    BufferedImage img = Images.readRgb(f);
                    for (int r = 0; r < warmup + repeat; r++) {
                        double[] t = timeOnce(m, img, ss);
                        if (r >= warmup) {
                            runs.add(t);
                        }
                    }
                    backboneFlops += repeat * (double) backboneFlops(m, img);
                }
                double[] median = new double[STAGES.size() + 1];
                for (int s = 0; s <= STAGES.size(); s++) {
                    final int k = s;
                    median[s] = median(runs.stream().mapToDouble(t -> t[k]).toArray());
                }
                // the paper's Table 5 columns: conv (transform + backbone), proposal, region-wise (RoI + head + post)
                double conv = median[0] + median[1];
                double proposal = median[2];
                double regionWise = median[3] + median[4] + median[5];
                double total = median[STAGES.size()];
                out.printf(java.util.Locale.ROOT, "%n%s (%d images x %d runs, medians, ms, %s)%n", method, files.size(),
                        repeat, precision.precision);
                out.printf(java.util.Locale.ROOT, "| conv | proposal | region-wise | total | fps |%n|---|---|---|---|---|%n");
                out.printf(java.util.Locale.ROOT, "| %.1f | %.1f | %.1f | %.1f | %.2f |%n", conv, proposal, regionWise, total, 1000.0 / total);
                out.printf(java.util.Locale.ROOT, "stages: %s%n", stageLine(median));
                // how close the backbone comes to this machine's ceiling, measured now (issue #15: know the limit)
                double backboneMs = runs.stream().mapToDouble(t -> t[1]).sum();
                double achieved = backboneFlops / (backboneMs * 1e6);
                Ceiling.Peak peak = Ceiling.measure(m.parameters().manager());
                out.printf(java.util.Locale.ROOT, "backbone: %.1f GFLOP per image, %.0f GFLOP/s; this machine's ceiling "
                        + "now: a 3x3 convolution %.0f GFLOP/s, a matrix product %.0f GFLOP/s (the backbone at %.0f%% "
                        + "of the better)%n", backboneFlops / runs.size() / 1e9, achieved, peak.convGflops(),
                        peak.gemmGflops(), 100 * achieved / peak.best());
                if (precision.precision == Precision.FP32 && EngineFacts.winogradConvolutions()) {
                    // the rate counts a direct sum's operations; Winograd's F(6x6, 3x3) does about a fifth of them,
                    // F(4x4, 3x3) a quarter
                    out.printf("backbone's 3x3 layers on large maps: %s, a fifth to a quarter of a direct sum's "
                            + "multiplications, so the rate above can pass the direct ceiling%n",
                            EngineFacts.winogradRoute().describe(null));
                }
                ObjectNode o = root.putObject(method);
                o.put("precision", precision.precision.toString());
                o.put("backbone_gflop", backboneFlops / runs.size() / 1e9).put("backbone_gflops", achieved)
                        .put("peak_conv_gflops", peak.convGflops()).put("peak_gemm_gflops", peak.gemmGflops());
                for (int s = 0; s < STAGES.size(); s++) {
                    o.put(STAGES.get(s) + "_ms", median[s]);
                }
                o.put("conv_ms", conv).put("proposal_ms", proposal).put("region_wise_ms", regionWise)
                        .put("total_ms", total).put("fps", 1000.0 / total).put("images", files.size()).put("runs", repeat);
            }
            if (batchSizes != null && !batchSizes.isEmpty()) {
                throughput(detector, files, root.putObject("batches"), out);
            }
        }
        out.flush();
        if (json != null) {
            // the first method's figures at the top level too (bench/infer reads them)
            ObjectNode flat = ((ObjectNode) root.get(methods.get(0))).deepCopy();
            flat.setAll(root);
            AtomicFiles.write(json, mapper.writerWithDefaultPrettyPrinter().writeValueAsBytes(flat));
        }
        return 0;
    }

    /**
     * Images per second of {@code detect --batch N} for each asked N: every image decoded once, then all of them
     * detected in groups of N, {@code --repeat} rounds after {@code --warmup} ones, medians.
     */
    private void throughput(Detector detector, List<Path> files, ObjectNode json, PrintWriter out) {
        List<BufferedImage> decoded = files.stream().map(Images::readRgb).toList();
        out.printf(java.util.Locale.ROOT, "%nthroughput (%d images x %d rounds, medians, %s)%n| batch | images/s |%n|---|---|%n",
                decoded.size(), repeat, precision.precision);
        for (int n : batchSizes) {
            double[] rates = new double[repeat];
            for (int r = 0; r < warmup + repeat; r++) {
                long t0 = System.nanoTime();
                for (int i = 0; i < decoded.size(); i += n) {
                    detector.detectBatch(decoded.subList(i, Math.min(decoded.size(), i + n)));
                }
                if (r >= warmup) {
                    rates[r - warmup] = decoded.size() / ((System.nanoTime() - t0) / 1e9);
                }
            }
            double rate = median(rates);
            out.printf(java.util.Locale.ROOT, "| %d | %.2f |%n", n, rate);
            json.put(Integer.toString(n), rate);
        }
    }

    private static String stageLine(double[] median) {
        StringBuilder b = new StringBuilder();
        for (int s = 0; s < STAGES.size(); s++) {
            b.append(String.format(java.util.Locale.ROOT, "%s %.1f  ", STAGES.get(s), median[s]));
        }
        return b.toString().trim();
    }

    /** The backbone's convolution FLOPs on one image (2 per multiply-add, as the layers define them). */
    static long backboneFlops(FasterRcnn m, BufferedImage img) {
        try (NDManager step = m.parameters().manager().newSubManager()) {
            ImageTransform.Transformed t = m.transform().apply(img, step);
            return ConvGuard.countFlops(() -> m.backbone().forward(t.tensor(), false));
        }
    }

    /** Milliseconds per stage and in total for one image; with {@code ss}, its proposals replace the RPN's. */
    static double[] timeOnce(FasterRcnn m, BufferedImage img, SelectiveSearch ss) {
        try (NDManager step = m.parameters().manager().newSubManager()) {
            long t0 = System.nanoTime();
            ImageTransform.Transformed t = m.transform().apply(img, step);
            long t1 = System.nanoTime();
            float[] rois = null;
            double ssMillis = 0;
            if (ss != null) {
                long s0 = System.nanoTime();
                rois = t.toInput(ss.propose(img, 2000, 0));
                ssMillis = (System.nanoTime() - s0) / 1e6;
            }
            FasterRcnn.Forward f = m.forward(t, rois);
            FasterRcnn.toOriginal(f.detections().boxes(), t);
            long t2 = System.nanoTime();
            double[] out = new double[STAGES.size() + 1];
            out[0] = (t1 - t0) / 1e6;
            for (int s = 0; s < f.millis().length; s++) {
                out[s + 1] = f.millis()[s];
            }
            out[2] += ssMillis;
            out[STAGES.size()] = (t2 - t0) / 1e6;
            return out;
        }
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        int n = s.length;
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    }

    static List<Path> expand(List<Path> paths) throws IOException {
        List<Path> out = new ArrayList<>();
        for (Path p : paths) {
            if (Files.isDirectory(p)) {
                try (Stream<Path> s = Files.list(p)) {
                    s.filter(f -> f.toString().matches("(?i).*\\.(jpe?g|png|bmp|gif)$")).sorted().forEach(out::add);
                }
            } else {
                out.add(p);
            }
        }
        return out;
    }
}
