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
        if (workers < 1) {
            throw new IllegalArgumentException("--workers must be at least 1, not " + workers);
        }
        if (maxQueue < 0) {
            throw new IllegalArgumentException("--max-queue must not be negative, not " + maxQueue);
        }
        if (maxPixels < 1) {
            throw new IllegalArgumentException("--max-image-megapixels must be positive");
        }
        if (precision == null) {
            throw new IllegalArgumentException("precision must be fp32 or bf16");
        }
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("--port must be 0..65535, not " + port);
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
