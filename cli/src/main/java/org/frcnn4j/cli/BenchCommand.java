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
import org.frcnn4j.model.Detector;
import org.frcnn4j.model.FasterRcnn;
import org.frcnn4j.transform.ImageTransform;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

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

    @Option(names = "--model", required = true, description = "model folder")
    Path model;

    @Option(names = "--images", required = true, arity = "1..*", description = "image files or folders")
    List<Path> images;

    @Option(names = "--warmup", defaultValue = "2", description = "untimed runs first (default: ${DEFAULT-VALUE})")
    int warmup;

    @Option(names = "--repeat", defaultValue = "5", description = "timed runs per image (default: ${DEFAULT-VALUE})")
    int repeat;

    @Option(names = "--json", description = "also write the medians here as JSON")
    Path json;

    @Override
    public Integer call() throws IOException {
        List<Path> files = expand(images);
        if (files.isEmpty()) {
            throw new IllegalArgumentException("no images in " + images);
        }
        List<double[]> runs = new ArrayList<>();
        try (Detector detector = Detector.load(model)) {
            FasterRcnn m = detector.model();
            for (Path f : files) {
                BufferedImage img = Images.readRgb(f);
                for (int r = 0; r < warmup + repeat; r++) {
                    double[] t = timeOnce(m, img);
                    if (r >= warmup) {
                        runs.add(t);
                    }
                }
            }
        }
        double[] median = new double[STAGES.size() + 1];
        for (int s = 0; s <= STAGES.size(); s++) {
            final int k = s;
            median[s] = median(runs.stream().mapToDouble(t -> t[k]).toArray());
        }
        PrintWriter out = spec.commandLine().getOut();
        out.printf("| stage | median ms |%n|---|---|%n");
        for (int s = 0; s < STAGES.size(); s++) {
            out.printf("| %s | %.1f |%n", STAGES.get(s), median[s]);
        }
        double total = median[STAGES.size()];
        out.printf("| total | %.1f |%n| frames per second | %.2f |%n", total, 1000.0 / total);
        out.printf("(%d images x %d runs, model %s)%n", files.size(), repeat, model);
        out.flush();
        if (json != null) {
            ObjectMapper mapper = new ObjectMapper();
            ObjectNode o = mapper.createObjectNode();
            for (int s = 0; s < STAGES.size(); s++) {
                o.put(STAGES.get(s) + "_ms", median[s]);
            }
            o.put("total_ms", total).put("fps", 1000.0 / total).put("images", files.size()).put("runs", repeat);
            AtomicFiles.write(json, mapper.writerWithDefaultPrettyPrinter().writeValueAsBytes(o));
        }
        return 0;
    }

    /** Milliseconds per stage and in total for one image. */
    static double[] timeOnce(FasterRcnn m, BufferedImage img) {
        try (NDManager step = m.parameters().manager().newSubManager()) {
            long t0 = System.nanoTime();
            ImageTransform.Transformed t = m.transform().apply(img, step);
            t.tensor().toFloatArray(); // materialise, as the other stages do
            long t1 = System.nanoTime();
            FasterRcnn.Forward f = m.forward(t);
            FasterRcnn.toOriginal(f.detections().boxes(), t);
            long t2 = System.nanoTime();
            double[] out = new double[STAGES.size() + 1];
            out[0] = (t1 - t0) / 1e6;
            for (int s = 0; s < f.millis().length; s++) {
                out[s + 1] = f.millis()[s];
            }
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
