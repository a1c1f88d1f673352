package org.frcnn4j.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.frcnn4j.model.FasterRcnnConfig;
import org.frcnn4j.model.ModelFiles;
import org.frcnn4j.model.Presets;
import org.frcnn4j.nn.ConvGuard;
import org.frcnn4j.nn.EngineFacts;
import org.frcnn4j.train.SelfCheck;
import org.frcnn4j.train.TrainConfig;
import org.frcnn4j.train.TrainPresets;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code frcnn doctor}: what this machine computes with, and whether it computes right. */
@Command(name = "doctor", mixinStandardHelpOptions = true,
        description = "Print the Java, DJL and libtorch versions, the CPU and the ISA oneDNN uses on it, threads and "
                + "allocator settings; then check every convolution of the models (forward and the gradients training "
                + "needs) against a reference and name the workaround in use for any the engine computes wrong. "
                + "Exits 1 when something is wrong. Run it first when numbers look wrong.")
final class DoctorCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--preset", split = ",", paramLabel = "NAME",
            description = "presets whose models to check (default: small,tiny; also paper-zf, paper-vgg16, torchvision)")
    List<String> presets;

    @Option(names = "--model", paramLabel = "DIR", description = "also check this model folder: that it loads (weights of the right shapes, finite) and its "
                    + "architecture's convolutions")
    Path model;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        EngineFacts facts = EngineFacts.read();
        facts.lines().forEach(out::println);
        try {
            org.frcnn4j.nn.Precision.BF16.requireAvailable();
            out.println("bf16: available (--precision bf16: bfloat16 convolutions and products, float32 sums"
                    + (org.frcnn4j.nn.Precision.amxKernels() ? "; AMX, on channels-last maps)" : ")"));
        } catch (org.frcnn4j.nn.Precision.UnsupportedPrecisionException e) {
            out.println("bf16: not available: " + e.getMessage());
        }
        // torchvision's arithmetic needs the BLAS torch 1.13 calls for the head's products to give its bits
        out.println(org.frcnn4j.nn.PeerBlas.available()
                ? "system BLAS: " + org.frcnn4j.nn.PeerBlas.describe() + " (torchvision's arithmetic sums the products"
                        + " torch 1.13 hands to BLAS with it, as torchvision does)"
                : "system BLAS: none (torchvision's arithmetic then sums the box head's products by the engine, within"
                        + " float rounding of torchvision's; Debian: apt-get install libopenblas0-pthread)");
        out.flush();

        List<FasterRcnnConfig> configs = new ArrayList<>();
        List<TrainConfig> training = new ArrayList<>();
        List<String> names = new ArrayList<>();
        for (String id : presets == null ? List.of("small", "tiny") : presets) {
            Presets p = Presets.byId(id);
            configs.add(p.config(List.of("object")));
            training.add(TrainPresets.of(p));
            names.add(id);
        }
        if (model != null) {
            FasterRcnnConfig c = ModelFiles.readConfig(model.resolve(ModelFiles.CONFIG));
            // the whole folder, as detect would load it: every weight there, of its shape, finite (or one line, exit 2)
            try (ai.djl.ndarray.NDManager m = ai.djl.ndarray.NDManager.newBaseManager();
                 org.frcnn4j.model.FasterRcnn loaded = ModelFiles.load(model, m)) {
                out.println("model: " + model + ": configuration and weights load (" + c.backbone().architecture()
                        + ", " + c.classNames().size() + " classes), every weight finite");
            }
            configs.add(c);
            training.add(TrainPresets.of(presetOrSmall(c.preset())));
            names.add(model.toString());
        }
        ConvGuard.shared().checkAfresh(); // the doctor checks; it does not take earlier runs' word
        long t0 = System.nanoTime();
        SelfCheck.Result r = SelfCheck.run(configs, training);
        long ms = (System.nanoTime() - t0) / 1_000_000;
        boolean ok = r.ok();
        ConvGuard guard = ConvGuard.shared();
        if (guard.forced() != null) {
            out.println("self-check: off: -Dfrcnn.conv.route forces " + guard.forced().describe(r.verdicts().get(0).shape())
                    + " for every convolution; results are not checked");
            ok = false;
        } else {
            int wrong = r.workarounds().size();
            out.printf(java.util.Locale.ROOT, "self-check: %d convolutions of %s (detection, and training's gradients), %d ms: %s%n",
                    r.verdicts().size(), String.join(", ", names), ms,
                    !r.ok() ? "FAILED" : wrong == 0 ? "all computed right by the engine"
                            : wrong + " computed wrong by the engine, each on a workaround that checks out");
            for (ConvGuard.Verdict v : r.workarounds()) {
                out.println("workaround: " + v.describe());
            }
            long winograd = r.verdicts().stream().filter(v -> v.winograd() && !v.workaround()).count();
            out.println(org.frcnn4j.nn.EngineFacts.winogradConvolutions()
                    ? "winograd: on (" + (org.frcnn4j.nn.EngineFacts.winogradRoute() instanceof org.frcnn4j.nn.ConvRoute.WinogradProducts
                            ? "float32 inference and VGG-16 training, layers of 256 channels and more" : "float32 forward passes")
                            + "): 3x3 stride-1 convolutions of large maps by "
                            + org.frcnn4j.nn.EngineFacts.winogradRoute().describe(null) + "; " + winograd
                            + " of the shapes above checked right by it"
                    : "winograd: off, oneDNN's direct kernels (" + org.frcnn4j.nn.EngineFacts.winogradOffReason() + ")");
            java.nio.file.Path kept = guard.keptIn();
            out.println("verdicts kept for later runs on this machine: " + (kept == null ? "no (-Dfrcnn.conv.cache=false)" : kept));
        }
        if (!r.ok()) {
            out.println("problem: " + r.failure());
        }
        // the machine's limit for the work a network does, to set the rates bench and train print against; measured
        // last, when the JVM has stopped compiling on one of the cores (it halves the rate in a process's first seconds)
        try (ai.djl.ndarray.NDManager m = ai.djl.ndarray.NDManager.newBaseManager()) {
            org.frcnn4j.nn.Ceiling.Peak peak = org.frcnn4j.nn.Ceiling.measure(m);
            out.printf(java.util.Locale.ROOT, "ceiling: a 3x3 convolution %.0f GFLOP/s, a matrix product %.0f GFLOP/s "
                    + "(float32, the fastest run of a second after a second of warm-up, each)%n", peak.convGflops(), peak.gemmGflops());
            if (!Double.isNaN(peak.stolenShare())) {
                // a shared machine's hypervisor can take half its time on some days: every timing is then that much slower
                out.printf(java.util.Locale.ROOT, "steal: %.0f%% of this machine's busy CPU time went to other guests of its "
                        + "hypervisor while measuring%s%n", 100 * peak.stolenShare(),
                        peak.stolenShare() > 0.1 ? " (timings now are slower than this CPU can run: compare only within one run)" : "");
            }
        }
        out.println(ok ? "result: ok" : "result: problems found");
        out.flush();
        return ok ? 0 : 1;
    }

    private static Presets presetOrSmall(String id) {
        try {
            return Presets.byId(id);
        } catch (IllegalArgumentException e) {
            return Presets.SMALL;
        }
    }
}
