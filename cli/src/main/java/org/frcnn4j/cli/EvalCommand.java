package org.frcnn4j.cli;

import org.frcnn4j.io.BadInputException;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.frcnn4j.data.Dataset;
import org.frcnn4j.data.Detection;
import org.frcnn4j.eval.CocoEvaluator;
import org.frcnn4j.eval.DetectionFiles;
import org.frcnn4j.eval.VocEvaluator;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code frcnn eval}: the standard metrics of a set of detections against ground truth. */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = "Evaluate detections (--detections) or a model (--model, run on the --data images): VOC2007 "
                + "11-point AP, VOC2010+ AP, or COCO AP/AR.")
final class EvalCommand implements Callable<Integer> {
    enum Metric { voc07, voc, coco }

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = {"--gt", "--data"}, required = true, description = "ground truth: a VOCdevkit folder or a COCO instances JSON")
    Path gt;

    @Option(names = "--detections",
            description = "a COCO results JSON, or a folder of VOC results files comp4_det_test_<class>.txt")
    Path detections;

    @Option(names = "--model", description = "evaluate this model folder on the ground truth's images instead of --detections")
    Path model;

    @Option(names = "--metric", defaultValue = "voc07", description = "voc07, voc or coco (default: ${DEFAULT-VALUE})")
    Metric metric;

    @CommandLine.Mixin
    Options.InferencePrecision precision = new Options.InferencePrecision();

    @CommandLine.Mixin
    Options.DatasetSelection selection;

    @Option(names = "--iou", defaultValue = "0.5", description = "VOC metrics: IoU a true positive needs (default: ${DEFAULT-VALUE})")
    double iou;

    @Option(names = "--no-plus-one", description = "VOC metrics: continuous IoU instead of the devkit's +1 pixel widths")
    boolean noPlusOne;

    @CommandLine.Mixin
    Options.ProposalChoice proposals;

    @Option(names = "--json", description = "print one JSON object instead of the table")
    boolean json;

    @Override
    public Integer call() throws Exception {
        if (!(iou > 0 && iou <= 1)) {
            throw new BadInputException("--iou must be in (0, 1], got " + iou);
        }
        if (metric == Metric.coco && spec.commandLine().getParseResult().hasMatchedOption("--iou")) {
            throw new BadInputException("--iou applies to the VOC metrics; COCO AP averages IoU 0.50:0.95");
        }
        if ((detections == null) == (model == null)) {
            throw new BadInputException("give either --detections (results to score) or --model (a model to run)");
        }
        Dataset truth = selection.open(gt);
        Options.warnAboutProblems(truth, spec.commandLine().getErr());
        List<Detection> dets;
        if (model != null) {
            precision.checked();
            try (org.frcnn4j.model.Detector detector = precision.load(model)) {
                // classes are matched by name: the same classes in another order are not swapped
                org.frcnn4j.proposals.ProposalCache cache = proposals.cache(model.resolve("proposals-ss"), detector.config());
                dets = org.frcnn4j.model.DatasetDetection.detectAll(detector.model(), truth, cache == null ? null : a -> {
                    try {
                        return cache.proposals(a);
                    } catch (java.io.IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                }, null);
            }
        } else {
            if (truth.images().isEmpty()) {
                throw new BadInputException(gt + ": no images to evaluate on" + (truth.problems().isEmpty()
                        ? " (an empty split?)" : " (each was left out for a problem named above)"));
            }
            dets = DetectionFiles.read(detections, truth);
        }
        PrintWriter out = spec.commandLine().getOut();
        ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        if (metric == Metric.coco) {
            CocoEvaluator.Result r = CocoEvaluator.evaluate(truth, dets);
            if (json) {
                ObjectNode o = mapper.createObjectNode().put("metric", "coco");
                r.stats().forEach(o::put);
                out.println(mapper.writeValueAsString(o));
            } else {
                printCoco(out, r);
            }
            return 0;
        }
        VocEvaluator.Options opts = new VocEvaluator.Options(iou, metric == Metric.voc07, !noPlusOne);
        VocEvaluator.Result r = VocEvaluator.evaluate(truth, dets, opts);
        if (json) {
            ObjectNode o = mapper.createObjectNode().put("metric", metric.name()).put("iou", iou);
            putNumber(o, "mAP", r.mAP());
            ObjectNode per = o.putObject("per_class");
            r.perClass().forEach(c -> putNumber(per, c.name(), c.ap()));
            out.println(mapper.writeValueAsString(o));
        } else {
            printVoc(out, r);
        }
        return 0;
    }

    private static void putNumber(ObjectNode o, String key, double v) {
        if (Double.isNaN(v)) {
            o.putNull(key);
        } else {
            o.put(key, v);
        }
    }

    private void printVoc(PrintWriter out, VocEvaluator.Result r) {
        out.printf(java.util.Locale.ROOT, "metric %s: %s AP at IoU >= %s%s%n", metric, r.options().elevenPoint() ? "11-point" : "area",
                r.options().iouThreshold(), r.options().plusOne() ? " (+1 pixel widths)" : "");
        int width = Math.max(5, r.perClass().stream().mapToInt(c -> c.name().length()).max().orElse(5));
        out.printf(java.util.Locale.ROOT, "%-" + width + "s %8s %9s %10s%n", "class", "AP", "positives", "detections");
        for (VocEvaluator.ClassResult c : r.perClass()) {
            out.printf(java.util.Locale.ROOT, "%-" + width + "s %8s %9d %10d%n", c.name(), fmt(c.ap()), c.positives(), c.detections());
        }
        out.printf(java.util.Locale.ROOT, "%-" + width + "s %8s%n", "mAP", fmt(r.mAP()));
    }

    private static String fmt(double v) {
        return Double.isNaN(v) ? "-" : String.format(java.util.Locale.ROOT, "%.4f", v);
    }

    private static void printCoco(PrintWriter out, CocoEvaluator.Result r) {
        String[] lines = {
            "Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ]",
            "Average Precision  (AP) @[ IoU=0.50      | area=   all | maxDets=100 ]",
            "Average Precision  (AP) @[ IoU=0.75      | area=   all | maxDets=100 ]",
            "Average Precision  (AP) @[ IoU=0.50:0.95 | area= small | maxDets=100 ]",
            "Average Precision  (AP) @[ IoU=0.50:0.95 | area=medium | maxDets=100 ]",
            "Average Precision  (AP) @[ IoU=0.50:0.95 | area= large | maxDets=100 ]",
            "Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=  1 ]",
            "Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets= 10 ]",
            "Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ]",
            "Average Recall     (AR) @[ IoU=0.50:0.95 | area= small | maxDets=100 ]",
            "Average Recall     (AR) @[ IoU=0.50:0.95 | area=medium | maxDets=100 ]",
            "Average Recall     (AR) @[ IoU=0.50:0.95 | area= large | maxDets=100 ]",
        };
        for (int i = 0; i < lines.length; i++) {
            String name = CocoEvaluator.STAT_NAMES.get(i);
            out.printf(java.util.Locale.ROOT, "%-6s %s = %.4f%n", name, lines[i], r.get(name));
        }
    }
}
