package org.frcnn4j.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import org.frcnn4j.serve.DetectionServer;
import org.frcnn4j.serve.ServeOptions;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code frcnn serve}: the detection service and its page (module {@code serve}). */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "Serve a model over HTTP: POST /v1/detect, /v1/explain, /v1/selective-search; GET /v1/model, "
                + "/healthz, /readyz, /metrics; and at / a page that detects on your image and shows the paper's "
                + "pipeline on it. Stops gracefully on Ctrl-C or SIGTERM (requests in flight finish).")
final class ServeCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @CommandLine.Mixin
    Options.InferencePrecision precision = new Options.InferencePrecision();

    @Option(names = "--model", required = true, description = "model folder (config.json + weights.safetensors)")
    Path model;

    @Option(names = "--host", defaultValue = "127.0.0.1",
            description = "address to listen on (default: ${DEFAULT-VALUE}, this machine only; 0.0.0.0 for all)")
    String host;

    @Option(names = "--port", defaultValue = "8080", description = "port (default: ${DEFAULT-VALUE}; 0: any free one)")
    int port;

    @Option(names = "--workers", defaultValue = "2", description = "detectors running at once, each with its own copy "
            + "of the weights (default: ${DEFAULT-VALUE}: on 2 cores 25-35% more images per second than 1 under "
            + "concurrent load, see bench/serve)")
    int workers;

    @Option(names = "--max-queue", defaultValue = "16",
            description = "requests that may wait for a worker; more are answered 503 (default: ${DEFAULT-VALUE})")
    int maxQueue;

    @Option(names = "--timeout", defaultValue = "60",
            description = "seconds a request may take before it is answered 503 (default: ${DEFAULT-VALUE})")
    double timeoutSeconds;

    @Option(names = "--token", description = "require 'Authorization: Bearer TOKEN' on /v1 and /metrics "
            + "(or set FRCNN_TOKEN)")
    String token;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        String secret = token != null ? token : System.getenv("FRCNN_TOKEN");
        if (!(timeoutSeconds > 0)) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--timeout must be a positive number, not "
                    + timeoutSeconds);
        }
        if (precision.arithmetic != null) {
            throw new CommandLine.ParameterException(spec.commandLine(), "serve runs in the model folder's arithmetic: "
                    + "give --arithmetic to import-torchvision instead");
        }
        ServeOptions options;
        try {
            options = ServeOptions.defaults(model).withHost(host).withPort(port).withWorkers(workers, maxQueue)
                    // --max-image-megapixels (every command's option) sets the limit; larger images get 413
                    .withLimits(org.frcnn4j.data.Images.maxPixels(), Duration.ofMillis((long) (timeoutSeconds * 1000)))
                    .withToken(secret == null || secret.isEmpty() ? null : secret)
                    .withPrecision(precision.checked());
        } catch (IllegalArgumentException | org.frcnn4j.io.BadInputException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        DetectionServer server = DetectionServer.start(options);
        Interruption.onSignal(server::close, "stopping: requests in flight finish, new ones get 503");
        out.printf("frcnn: serving %s on http://%s:%d/ (%d worker%s, %s%s); Ctrl-C stops%n", model, host,
                server.port(), workers, workers == 1 ? "" : "s", options.precision(),
                options.token() != null ? ", token required" : "");
        out.flush();
        server.awaitStop();
        out.println("frcnn: stopped");
        out.flush();
        return 0;
    }
}
