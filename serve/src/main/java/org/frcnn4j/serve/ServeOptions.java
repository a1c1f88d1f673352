package org.frcnn4j.serve;

import java.nio.file.Path;
import java.time.Duration;
import org.frcnn4j.nn.Precision;

/**
 * How a {@link DetectionServer} runs.
 *
 * @param modelDir       the model folder every worker loads
 * @param host           the address to bind (127.0.0.1 unless the user opens it up)
 * @param port           the port (0: any free one, see {@link DetectionServer#port()})
 * @param workers        detectors that run at once, each with its own copy of the weights
 * @param maxQueue       requests that may wait for a worker; one more is answered 503
 * @param maxPixels      an image whose header claims more pixels is refused (413) before it is decoded
 * @param maxBodyBytes   a larger request body is refused (413) before it is read
 * @param requestTimeout a request that has not been answered after this long gets 503 (its worker finishes and
 *                       the result is dropped)
 * @param drainTimeout   on stop, how long in-flight requests may take to finish
 * @param token          when not null, every /v1 request and /metrics need {@code Authorization: Bearer TOKEN}
 * @param precision      the arithmetic of every worker's detector ({@link Precision})
 */
public record ServeOptions(Path modelDir, String host, int port, int workers, int maxQueue, long maxPixels,
                           long maxBodyBytes, Duration requestTimeout, Duration drainTimeout, String token,
                           Precision precision) {

    public ServeOptions {
        // the same one-line refusals as every other option's (a BadInputException: exit code 2 from the command line)
        org.frcnn4j.io.Ranges.atLeast("--workers", workers, 1);
        org.frcnn4j.io.Ranges.atLeast("--max-queue", maxQueue, 0);
        org.frcnn4j.io.Ranges.atLeast("the image size limit (pixels)", maxPixels, 1);
        org.frcnn4j.io.BadInputException.requireGiven(precision, "ServeOptions", "the precision");
        org.frcnn4j.io.Ranges.atLeast("--port", port, 0);
        if (port > 65535) {
            throw new org.frcnn4j.io.BadInputException("--port must be at most 65535, not " + port);
        }
    }

    /**
     * The defaults of {@code frcnn serve}: localhost:8080, two workers (bench/serve: on 2 cores a quarter more images
     * per second than one when several clients wait), 16 waiting, 100 megapixels, 60 s.
     */
    public static ServeOptions defaults(Path modelDir) {
        return new ServeOptions(modelDir, "127.0.0.1", 8080, 2, 16, 100_000_000L, 64L << 20, Duration.ofSeconds(60),
                Duration.ofSeconds(60), null, Precision.FP32);
    }

    public ServeOptions withPort(int p) {
        return new ServeOptions(modelDir, host, p, workers, maxQueue, maxPixels, maxBodyBytes, requestTimeout,
                drainTimeout, token, precision);
    }

    public ServeOptions withWorkers(int w, int queue) {
        return new ServeOptions(modelDir, host, port, w, queue, maxPixels, maxBodyBytes, requestTimeout, drainTimeout,
                token, precision);
    }

    /** With these limits; a stop then waits as long as a request may take, so that those in flight finish. */
    public ServeOptions withLimits(long pixels, Duration timeout) {
        return new ServeOptions(modelDir, host, port, workers, maxQueue, pixels, maxBodyBytes, timeout,
                timeout.compareTo(drainTimeout) > 0 ? timeout : drainTimeout, token, precision);
    }

    public ServeOptions withToken(String t) {
        return new ServeOptions(modelDir, host, port, workers, maxQueue, maxPixels, maxBodyBytes, requestTimeout,
                drainTimeout, t, precision);
    }

    public ServeOptions withPrecision(Precision p) {
        return new ServeOptions(modelDir, host, port, workers, maxQueue, maxPixels, maxBodyBytes, requestTimeout,
                drainTimeout, token, p);
    }

    public ServeOptions withHost(String h) {
        return new ServeOptions(modelDir, h, port, workers, maxQueue, maxPixels, maxBodyBytes, requestTimeout,
                drainTimeout, token, precision);
    }
}
