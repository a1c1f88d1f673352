package org.frcnn4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.awt.image.BufferedImage;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.frcnn4j.data.ImageIds;
import org.frcnn4j.data.ImagesAhead;
import org.frcnn4j.rpn.ProposalGenerator;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code frcnn propose}: the RPN's region proposals per image. */
@Command(name = "propose", mixinStandardHelpOptions = true,
        description = "Region proposals per image (the RPN of a model, or Selective Search), in original image pixels, best first. Writes JSON (to --json, else "
                + "to standard output): [{\"image_id\": file name without extension, \"proposals\": [[x1, y1, x2, y2, score], ...]}].")
final class ProposeCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @CommandLine.Mixin
    Options.InferencePrecision precision = new Options.InferencePrecision();

    @Option(names = "--model", description = "model folder (needed for --method rpn)")
    Path model;

    @Option(names = "--method", defaultValue = "rpn", description = "rpn or selective-search (default: ${DEFAULT-VALUE})")
    String method;

    @Option(names = "--mode", defaultValue = "fast", description = "Selective Search: fast or quality (default: ${DEFAULT-VALUE})")
    String mode;

    @Option(names = "--top", defaultValue = "300", description = "proposals per image (default: ${DEFAULT-VALUE}); "
            + "a model whose post-NMS top N is smaller keeps up to this many after NMS, from its own candidates before "
            + "it (so its own proposals come first, and fewer exist when NMS leaves fewer)")
    int top;

    @Option(names = "--json", description = "write the proposals here (atomically) instead of standard output")
    Path json;

    @Parameters(arity = "1..*", paramLabel = "IMAGE", description = "image files")
    List<Path> images;

    @Override
    public Integer call() throws Exception {
        org.frcnn4j.io.Ranges.atLeast("--top", top, 1);
        PrintWriter err = spec.commandLine().getErr();
        ObjectMapper mapper = new ObjectMapper();
        ArrayNode results = mapper.createArrayNode();
        int failed = 0;
        java.util.Map<String, Path> ids = new java.util.HashMap<>();
        Commands.checkOutputFile("--json", json, images);
        ProposalMethod m = ProposalMethod.parse(method, mode, model, top, precision.precision,
                precision::adjust, ProposalMethod.Candidates.THE_MODELS);
        try (m) {
            // the next images decode on a background thread while the network runs on this one
            for (ImagesAhead ahead = new ImagesAhead(images, 2); ahead.hasNext(); ) {
                ImagesAhead.Decoded decoded = ahead.next();
                Path file = decoded.file();
                BufferedImage img = Commands.reportIfUnread(decoded, err);
                if (img == null) {
                    failed++;
                    continue;
                }
                ProposalGenerator.Proposals p = m.propose(img);
                ObjectNode o = results.addObject();
                ImageIds.put(o, Commands.uniqueId(file, ids, err));
                ArrayNode list = o.putArray("proposals");
                for (int i = 0; i < p.count(); i++) {
                    float[] b = p.boxes();
                    list.addArray().add(b[4 * i]).add(b[4 * i + 1]).add(b[4 * i + 2]).add(b[4 * i + 3]).add(p.scores()[i]);
                }
            }
        }
        // nothing read, nothing to report: an earlier results file stays as it was
        if (failed < images.size()) {
            Commands.writeJson(mapper, results, json, spec.commandLine().getOut());
        }
        if (failed > 0) {
            err.println("frcnn: error: " + failed + " of " + images.size() + " images could not be read (named above); "
                    + "the others were processed");
        }
        return failed == 0 ? 0 : Main.BAD_INPUT;
    }
}
