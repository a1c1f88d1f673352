package org.frcnn4j.cli;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import org.frcnn4j.data.Dataset;
import org.frcnn4j.data.Images;
import org.frcnn4j.io.AtomicFiles;
import org.frcnn4j.io.BadInputException;
import org.frcnn4j.model.Detector;
import org.frcnn4j.model.FasterRcnn;
import org.frcnn4j.model.ModelFiles;
import org.frcnn4j.model.Presets;
import org.frcnn4j.train.TrainPresets;
import org.frcnn4j.train.Trainer;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code frcnn soak}: does memory stay flat over a long run? Many inferences (and training iterations) with the
 * resident set sampled at intervals; prints the growth per 1,000 after the warm-up and the peak.
 */
@Command(name = "soak", mixinStandardHelpOptions = true,
        description = "Memory over a long run: --inferences detections cycling over --images (and --train-iterations of "
                + "training), the resident set sampled every --every; prints the slope in MB per 1,000 after the first "
                + "fifth (warm-up) and the peak.")
final class SoakCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--model", description = "model folder (default: the small preset with random weights)")
    Path model;

    @Option(names = "--images", description = "folder of images to cycle over (its first 40), or one image (default: the bundled raccoon images)")
    Path images;

    @Option(names = "--inferences", defaultValue = "10000", description = "detections (default: ${DEFAULT-VALUE})")
    int inferences;

    @Option(names = "--train-iterations", defaultValue = "500",
            description = "training iterations of the small preset on raccoon (0: none; default: ${DEFAULT-VALUE})")
    int trainIterations;

    @Option(names = "--every", defaultValue = "100", description = "sample the resident set every N (default: ${DEFAULT-VALUE})")
    int every;

    @Option(names = "--json", description = "also write the samples and figures here")
    Path json;

    @Override
    public Integer call() throws Exception {
        if (inferences < 0 || trainIterations < 0 || every <= 0) {
            throw new BadInputException("--inferences and --train-iterations must be >= 0 and --every > 0");
        }
        Commands.checkOutputFile("--json", json, images == null ? List.of() : List.of(images));
        PrintWriter out = spec.commandLine().getOut();
        Path datasets = DemoCommand.findDatasets();
        Path folder = images != null ? images : datasets.resolve("raccoon/JPEGImages");
        List<BufferedImage> pictures = new ArrayList<>();
        if (Files.isRegularFile(folder)) {
            pictures.add(Images.readRgb(folder)); // one image, given by itself
        } else if (!Files.isDirectory(folder)) {
            throw new BadInputException(folder + ": no such image folder");
        } else {
            try (Stream<Path> s = Files.list(folder)) {
                for (Path p : s.sorted().limit(40).toList()) {
                    pictures.add(Images.readRgb(p));
                }
            }
        }
        if (pictures.isEmpty()) {
            throw new BadInputException(folder + ": no images");
        }
        Path tmp = Files.createTempDirectory("frcnn-soak");
        ObjectMapper mapper = new ObjectMapper();
        ObjectNode report = mapper.createObjectNode();
        try {
            Path dir = model;
            if (dir == null) {
                dir = tmp.resolve("model");
                try (NDManager m = NDManager.newBaseManager();
                     FasterRcnn fresh = FasterRcnn.create(Presets.SMALL.config(List.of("raccoon")), m, 0)) {
                    ModelFiles.save(fresh, dir);
                }
            }
            if (inferences > 0) {
                List<long[]> samples = new ArrayList<>();
                try (Detector detector = Detector.load(dir)) {
                    samples.add(new long[] {0, residentKb()});
                    for (int i = 1; i <= inferences; i++) {
                        detector.detect(pictures.get((i - 1) % pictures.size()));
                        if (i % every == 0 || i == inferences) {
                            samples.add(new long[] {i, residentKb()});
                        }
                    }
                }
                report.set("inference", summary(out, "inference", "inferences", samples, mapper));
            }
            if (trainIterations > 0) {
                Dataset train = Dataset.open(datasets.resolve("raccoon"), "train", null);
                List<long[]> samples = new ArrayList<>();
                samples.add(new long[] {0, residentKb()});
                int samplingEvery = Math.max(1, Math.min(every, trainIterations / 10));
                Trainer.Listener listener = log -> {
                    if (log.iteration() % samplingEvery == 0) {
                        samples.add(new long[] {log.iteration(), residentKb()});
                    }
                };
                try (NDManager m = NDManager.newBaseManager();
                     FasterRcnn trained = new Trainer(Presets.SMALL.config(train.classes().names()),
                             TrainPresets.of(Presets.SMALL).withIterations(trainIterations).withIntervals(0, 0), train, null,
                             tmp.resolve("train"), listener).run(m, false)) {
                    report.set("training", summary(out, "training", "iterations", samples, mapper));
                }
            }
        } finally {
            AtomicFiles.deleteTree(tmp);
        }
        if (json != null) {
            AtomicFiles.write(json, mapper.writerWithDefaultPrettyPrinter().writeValueAsBytes(report));
        }
        out.flush();
        return 0;
    }

    /** Prints and returns: slope (least squares) in MB per 1,000 after the first fifth, and the peak. */
    private static ObjectNode summary(PrintWriter out, String what, String unit, List<long[]> samples, ObjectMapper mapper) {
        int from = samples.size() / 5;
        double n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
        for (long[] s : samples.subList(from, samples.size())) {
            n++;
            sx += s[0];
            sy += s[1] / 1024.0;
            sxx += (double) s[0] * s[0];
            sxy += s[0] * (s[1] / 1024.0);
        }
        double slope = n < 2 ? 0 : (n * sxy - sx * sy) / (n * sxx - sx * sx) * 1000;
        long peak = samples.stream().mapToLong(s -> s[1]).max().orElse(0);
        long last = samples.get(samples.size() - 1)[0];
        out.printf(Locale.ROOT, "%s: %d %s, resident %.0f MB after warm-up (at %d) -> %.0f MB at the end; slope %.2f MB "
                        + "per 1,000 %s after warm-up; peak %.0f MB%n", what, last, unit, samples.get(from)[1] / 1024.0,
                samples.get(from)[0], samples.get(samples.size() - 1)[1] / 1024.0, slope, unit, peak / 1024.0);
        out.flush();
        ObjectNode o = mapper.createObjectNode().put("count", last).put("slope_mb_per_1000", slope)
                .put("peak_mb", peak / 1024.0);
        ArrayNode arr = o.putArray("samples");
        samples.forEach(s -> arr.addArray().add(s[0]).add(s[1] / 1024.0));
        return o;
    }

    private static long residentKb() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("\\D+", ""));
                }
            }
        } catch (IOException e) {
            return 0;
        }
        return 0;
    }
}
