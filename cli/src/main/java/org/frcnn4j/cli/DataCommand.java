package org.frcnn4j.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.frcnn4j.data.Dataset;
import org.frcnn4j.data.DatasetException;
import org.frcnn4j.data.DatasetCheck;
import org.frcnn4j.data.Problem;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code frcnn data ...}: looking at datasets. */
@Command(name = "data", description = "Inspect datasets.", mixinStandardHelpOptions = true,
        subcommands = {DataCommand.Check.class})
final class DataCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    @Command(name = "check", mixinStandardHelpOptions = true,
            description = "Count images, boxes per class, difficult and crowd boxes and image sizes; list every problem. "
                    + "Exits 2 when there is any problem.")
    static final class Check implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Option(names = "--data", required = true, description = "VOCdevkit folder, COCO instances JSON, or COCO folder")
        Path data;

        @CommandLine.Mixin
        Options.DatasetSelection selection;

        @Option(names = "--no-decode", description = "read image headers only (faster; misses corrupt pixel data)")
        boolean noDecode;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            PrintWriter err = spec.commandLine().getErr();
            Dataset d;
            try {
                d = selection.open(data);
            } catch (DatasetException e) {
                // a problem that leaves nothing to read (a malformed COCO file, a missing split): it is the only one
                err.println(e.getMessage());
                err.flush();
                out.printf(java.util.Locale.ROOT, "dataset   %s%nproblems  1%n", data);
                out.flush();
                return Main.BAD_INPUT;
            }
            DatasetCheck c = DatasetCheck.run(d, !noDecode);
            for (Problem p : c.problems()) {
                err.println(p);
            }
            err.flush();
            out.printf(java.util.Locale.ROOT, "dataset   %s (%s%s)%n", data, d.format().name().toLowerCase(java.util.Locale.ROOT),
                    selection.split == null ? "" : ", split " + selection.split);
            out.printf(java.util.Locale.ROOT, "images    %d (%d without objects)%n", c.images(), c.negativeImages());
            out.printf(java.util.Locale.ROOT, "boxes     %d (%d difficult, %d crowd)%n", c.boxes(), c.difficult(), c.crowd());
            out.printf(java.util.Locale.ROOT, "sizes     width %d..%d, height %d..%d%n", c.minWidth(), c.maxWidth(), c.minHeight(), c.maxHeight());
            out.printf(java.util.Locale.ROOT, "classes   %d%n", d.classes().size());
            int width = d.classes().names().stream().mapToInt(String::length).max().orElse(5);
            for (int i = 0; i < d.classes().size(); i++) {
                out.printf(java.util.Locale.ROOT, "  %-" + width + "s %6d%n", d.classes().name(i), c.boxesPerClass()[i]);
            }
            out.printf(java.util.Locale.ROOT, "problems  %d%s%n", c.problems().size(), c.problems().isEmpty() ? "" : " (listed on standard error, "
                    + c.problems().stream().map(Problem::file).distinct().count() + " files)");
            out.flush();
            return c.ok() ? 0 : Main.BAD_INPUT;
        }
    }
}
