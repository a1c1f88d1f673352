package org.frcnn4j.cli;

import org.frcnn4j.io.AtomicFiles;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.frcnn4j.data.Annotation;
import org.frcnn4j.data.Dataset;
import org.frcnn4j.data.Images;
import org.frcnn4j.eval.ProposalRecall;
import org.frcnn4j.viz.Plots;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code frcnn proposals-eval}: proposal recall of the RPN and Selective Search, as the paper's Figure 4. */
@Command(name = "proposals-eval", mixinStandardHelpOptions = true,
        description = "Recall of region proposals vs IoU threshold (at 300, 1000, 2000 proposals) and vs the number of "
                + "proposals (at IoU 0.5 and 0.7), per method, as PNG plots and JSON (the paper's Figure 4).")
final class ProposalsEvalCommand implements Callable<Integer> {
    static final int[] TOP = {300, 1000, 2000};
    static final int[] COUNTS = {10, 20, 50, 100, 200, 300, 500, 1000, 2000};

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--model", description = "model folder (for the rpn method)")
    Path model;

    @Option(names = "--data", required = true, description = "VOCdevkit folder or COCO JSON")
    Path data;

    @CommandLine.Mixin
    Options.DatasetSelection selection;

    @Option(names = "--methods", defaultValue = "rpn,selective-search", split = ",",
            description = "rpn, selective-search (default: ${DEFAULT-VALUE})")
    List<String> methods;

    @Option(names = "--mode", defaultValue = "fast", description = "Selective Search mode: fast or quality")
    String mode;

    @Option(names = "--out", defaultValue = "runs/proposals", description = "folder for the plots and JSON")
    Path out;

    @Override
    public Integer call() throws Exception {
        Dataset d = selection.open(data);
        Options.warnAboutProblems(d, spec.commandLine().getErr());
        PrintWriter w = spec.commandLine().getOut();
        ObjectMapper mapper = new ObjectMapper();
        ObjectNode json = mapper.createObjectNode();
        Map<String, Map<String, float[]>> all = new LinkedHashMap<>();
        for (String m : methods) {
            Map<String, float[]> boxes = new HashMap<>();
            long t0 = System.nanoTime();
            try (ProposalMethod method = ProposalMethod.parse(m, mode, model, 2000)) {
                for (Annotation a : d.images()) {
                    boxes.put(a.imageId(), method.propose(Images.readRgb(a.imageFile())).boxes());
                }
            }
            double perImage = (System.nanoTime() - t0) / 1e9 / d.images().size();
            all.put(m, boxes);
            json.putObject(m).put("seconds_per_image", perImage);
            w.printf(java.util.Locale.ROOT, "%s: %d images, %.3f s per image%n", m, d.images().size(), perImage);
        }
        double[] ious = new double[11];
        for (int i = 0; i < ious.length; i++) {
            ious[i] = 0.5 + 0.05 * i;
        }
        for (int top : TOP) {
            Map<String, double[][]> series = new LinkedHashMap<>();
            for (String m : methods) {
                ProposalRecall r = ProposalRecall.of(d, all.get(m), top, false);
                double[] rec = new double[ious.length];
                for (int i = 0; i < ious.length; i++) {
                    rec[i] = r.recall(ious[i]);
                }
                series.put(m, new double[][] {ious, rec});
                ObjectNode node = ((ObjectNode) json.get(m)).putObject("top_" + top);
                node.put("recall_0.5", r.recall(0.5)).put("recall_0.7", r.recall(0.7)).put("average_recall", r.averageRecall());
                w.printf(java.util.Locale.ROOT, "  %-17s %4d proposals: recall@0.5 %.3f  recall@0.7 %.3f  AR %.3f%n", m, top, r.recall(0.5),
                        r.recall(0.7), r.averageRecall());
            }
            Plots.lines(out.resolve("recall_vs_iou_" + top + ".png"), top + " proposals", "IoU", "recall", series, false);
        }
        for (double iou : new double[] {0.5, 0.7}) {
            Map<String, double[][]> series = new LinkedHashMap<>();
            for (String m : methods) {
                double[] xs = new double[COUNTS.length];
                double[] ys = new double[COUNTS.length];
                for (int i = 0; i < COUNTS.length; i++) {
                    xs[i] = COUNTS[i];
                    ys[i] = ProposalRecall.of(d, all.get(m), COUNTS[i], false).recall(iou);
                }
                series.put(m, new double[][] {xs, ys});
                ObjectNode node = ((ObjectNode) json.get(m)).putObject("recall_vs_proposals_iou_" + iou);
                for (int i = 0; i < COUNTS.length; i++) {
                    node.put(Integer.toString(COUNTS[i]), ys[i]);
                }
            }
            Plots.lines(out.resolve("recall_vs_proposals_iou" + iou + ".png"), "IoU " + iou, "number of proposals",
                    "recall", series, true);
        }
        AtomicFiles.write(out.resolve("proposals.json"), mapper.writerWithDefaultPrettyPrinter().writeValueAsBytes(json));
        w.printf(java.util.Locale.ROOT, "plots and proposals.json in %s%n", out.toAbsolutePath());
        return 0;
    }
}
