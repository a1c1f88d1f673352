package org.frcnn4j.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.frcnn4j.data.Dataset;
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
            Dataset d = selection.open(data);
            DatasetCheck c = DatasetCheck.run(d, !noDecode);
            PrintWriter out = spec.commandLine().getOut();
            out.printf("dataset   %s (%s%s)%n", data, d.format().name().toLowerCase(), selection.split == null ? "" : ", split " + selection.split);
            out.printf("images    %d (%d without objects)%n", c.images(), c.negativeImages());
            out.printf("boxes     %d (%d difficult, %d crowd)%n", c.boxes(), c.difficult(), c.crowd());
            out.printf("sizes     width %d..%d, height %d..%d%n", c.minWidth(), c.maxWidth(), c.minHeight(), c.maxHeight());
            out.printf("classes   %d%n", d.classes().size());
            int width = d.classes().names().stream().mapToInt(String::length).max().orElse(5);
            for (int i = 0; i < d.classes().size(); i++) {
                out.printf("  %-" + width + "s %6d%n", d.classes().name(i), c.boxesPerClass()[i]);
            }
            PrintWriter err = spec.commandLine().getErr();
            out.printf("problems  %d%n", c.problems().size());
            for (Problem p : c.problems()) {
                err.println(p);
            }
            out.flush();
            return c.ok() ? 0 : Main.BAD_INPUT;
        }
    }
}
