package org.frcnn4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.frcnn4j.data.Dataset;
import org.frcnn4j.data.DatasetCheck;
import org.frcnn4j.data.Detection;
import org.frcnn4j.eval.DetectionFiles;
import org.frcnn4j.eval.VocEvaluator;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code frcnn demo}: the main job on the bundled data. Until training lands it checks the bundled datasets and
 * evaluates the published toy detections (datasets/eval-golden/review-toyexample), writing a report folder.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Run the end-to-end demo on the bundled data and write a report folder.")
final class DemoCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--out", defaultValue = "runs/demo", description = "report folder (default: ${DEFAULT-VALUE})")
    Path out;

    @Option(names = "--datasets", description = "the bundled datasets folder (default: ./datasets or beside the jar)")
    Path datasets;

    @Override
    public Integer call() throws IOException {
        PrintWriter w = spec.commandLine().getOut();
        Path root = datasets != null ? datasets : findDatasets();
        Dataset raccoon = Dataset.open(root.resolve("raccoon"), null, null);
        DatasetCheck check = DatasetCheck.run(raccoon, false);
        w.printf("raccoon: %d images, %d boxes, %d problems%n", check.images(), check.boxes(), check.problems().size());

        Path toy = root.resolve("eval-golden").resolve("review-toyexample");
        Dataset truth = Dataset.open(toy, null, null);
        List<Detection> dets = DetectionFiles.read(toy.resolve("results"), truth);
        double voc07 = VocEvaluator.evaluate(truth, dets, VocEvaluator.Options.voc07()).mAP();
        double voc = VocEvaluator.evaluate(truth, dets, VocEvaluator.Options.voc()).mAP();
        w.printf("toy detections (published: 11-point 0.8864, area 0.8958): VOC07 mAP %.4f, VOC mAP %.4f%n", voc07, voc);

        Files.createDirectories(out);
        ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode m = mapper.createObjectNode();
        m.put("mAP", voc07).put("metric", "voc07").put("source", "review-toyexample detections");
        m.put("voc_mAP", voc).put("raccoon_images", check.images()).put("raccoon_boxes", check.boxes());
        AtomicFiles.write(out.resolve("metrics.json"), mapper.writeValueAsBytes(m));
        w.printf("training arrives with the training issue; report: %s%n", out.toAbsolutePath().resolve("metrics.json"));
        return 0;
    }

    private static Path findDatasets() {
        Path here = Path.of("datasets");
        if (Files.isDirectory(here)) {
            return here;
        }
        String home = System.getProperty("frcnn.home");
        if (home != null && Files.isDirectory(Path.of(home, "datasets"))) {
            return Path.of(home, "datasets");
        }
        throw new IllegalArgumentException("datasets/: not found here; pass --datasets DIR");
    }
}
