package org.frcnn4j.serve;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.javalin.Javalin;
import io.javalin.http.Context;
import io.javalin.http.HttpResponseException;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.frcnn4j.model.Detector;
import org.frcnn4j.model.FasterRcnnConfig;
import org.frcnn4j.proposals.SelectiveSearch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The detection service and its page, on one embedded server (Javalin on Jetty):
 *
 * <pre>
 * GET  /                      the page (drop an image, see its boxes; "how it works" on /v1/explain)
 * POST /v1/detect             image body or multipart field "image"; ?score_thresh= ; detections as JSON
 * POST /v1/explain            the paper's pipeline on one image (?level=&amp;row=&amp;col=&amp;before=)
 * POST /v1/selective-search   Selective Search's time and boxes on the image (the pipeline before the RPN)
 * GET  /v1/model              architecture, classes, input sizes
 * GET  /healthz, /readyz      alive; ready for work (503 while stopping)
 * GET  /metrics               Prometheus text format
 * </pre>
 *
 * <p>Every error is a JSON body {@code {"error": "...", "status": n}}. No request names a file on the server: images
 * come in the request, samples by their name in a fixed list.
 *
 * <pre>{@code
 * try (DetectionServer server = DetectionServer.start(ServeOptions.defaults(Path.of("runs/demo/model")))) {
 *     server.awaitStop();
 * }
 * }</pre>
 */
public final class DetectionServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(DetectionServer.class);
    /** The bundled sample images the page offers (raccoon test images; see datasets/raccoon/SOURCE.md). */
    static final List<String> SAMPLES = List.of("raccoon-146.jpg", "raccoon-105.jpg", "raccoon-57.jpg");
    private static final String WEB = "/org/frcnn4j/serve/web/";

    private final ServeOptions options;
    private final WorkerPool pool;
    private final ServerMetrics metrics;
    private final ObjectMapper mapper = new ObjectMapper();
    private final AtomicBoolean stopping = new AtomicBoolean();
    private final AtomicInteger inFlight = new AtomicInteger();
    private final java.util.concurrent.CountDownLatch stopped = new java.util.concurrent.CountDownLatch(1);
    /**
     * Requests that may hold an image (its body, then its pixels) at once: the workers' and the queue's; one more is
     * refused before its body is read, so that the bounded queue bounds memory too.
     */
    private final java.util.concurrent.Semaphore admitted;
    private final Javalin app;
    private SelectiveSearch selectiveSearch;

    private DetectionServer(ServeOptions options, WorkerPool pool) {
        this.options = options;
        this.pool = pool;
        this.metrics = new ServerMetrics(pool);
        this.admitted = new java.util.concurrent.Semaphore(options.workers() + options.maxQueue());
        this.app = Javalin.create(config -> {
            config.jetty.host = options.host();
            config.jetty.port = options.port();
            config.http.maxRequestSize = options.maxBodyBytes();
            config.startup.showJavalinBanner = false;
            config.http.prefer405over404 = true; // GET /v1/detect: the method is wrong, not the path
            config.jetty.modifyServer(server -> server.setErrorHandler(new JsonErrorHandler(mapper)));
            config.jetty.multipartConfig.maxFileSize(options.maxBodyBytes(), io.javalin.config.SizeUnit.BYTES);
            config.jetty.multipartConfig.maxTotalRequestSize(options.maxBodyBytes(), io.javalin.config.SizeUnit.BYTES);
            config.routes.get("/", ctx -> asset(ctx, "index.html", "text/html; charset=utf-8"));
            config.routes.get("/app.js", ctx -> asset(ctx, "app.js", "text/javascript; charset=utf-8"));
            // the drawing code the training report uses too
            config.routes.get("/draw.js", ctx -> resource(ctx, org.frcnn4j.viz.Report.DRAW_JS,
                    "text/javascript; charset=utf-8"));
            config.routes.get("/style.css", ctx -> asset(ctx, "style.css", "text/css; charset=utf-8"));
            config.routes.get("/samples/{name}", this::sample);
            config.routes.get("/healthz", ctx -> json(ctx, 200, mapper.createObjectNode().put("status", "ok")));
            config.routes.get("/readyz", ctx -> handle(ctx, "readyz", false, c -> {
                c.status(200);
                return mapper.createObjectNode().put("status", "ready").put("workers", pool.workers());
            }));
            config.routes.get("/metrics", ctx -> handle(ctx, "metrics", true, c -> {
                c.contentType("text/plain; version=0.0.4; charset=utf-8").result(metrics.scrape());
                return null;
            }));
            config.routes.get("/v1/model", ctx -> handle(ctx, "model", true, c -> Responses.model(mapper, pool.any(),
                    options)));
            config.routes.post("/v1/detect", ctx -> handle(ctx, "detect", true, admittedOnly(this::detect)));
            config.routes.post("/v1/explain", ctx -> handle(ctx, "explain", true, admittedOnly(this::explain)));
            config.routes.post("/v1/selective-search", ctx -> handle(ctx, "selective-search", true,
                    admittedOnly(this::selectiveSearch)));
            config.routes.error(404, ctx -> {
                if (ctx.result() == null || ctx.result().isEmpty() || !ctx.result().startsWith("{")) {
                    json(ctx, 404, error(404, "no such endpoint: " + ctx.method() + " " + ctx.path()));
                }
            });
            config.routes.error(405, ctx -> json(ctx, 405, error(405, "method not allowed: " + ctx.method() + " "
                    + ctx.path())));
        });
    }

    /** Loads {@code options.workers()} detectors from the model folder and starts serving. */
    public static DetectionServer start(ServeOptions options) {
        List<Detector> detectors = new ArrayList<>();
        try {
            options.precision().requireAvailable();
            for (int i = 0; i < options.workers(); i++) {
                detectors.add(Detector.load(options.modelDir()));
                detectors.get(i).withPrecision(options.precision());
            }
        } catch (RuntimeException e) {
            detectors.forEach(Detector::close);
            throw e;
        }
        WorkerPool pool = new WorkerPool(detectors, options.maxQueue(), options.requestTimeout().toMillis());
        DetectionServer server = new DetectionServer(options, pool);
        try {
            server.app.start();
        } catch (RuntimeException e) {
            pool.close();
            // a port in use or not ours to take, a host that is not this machine's: the --host and --port given
            throw new org.frcnn4j.io.BadInputException("cannot listen on " + options.host() + ":" + options.port()
                    + ": " + rootMessage(e), e);
        }
        LOG.info("serving {} on http://{}:{}/ with {} worker(s)", options.modelDir(), options.host(), server.port(),
                options.workers());
        return server;
    }

    /** The port the server listens on (the chosen one when the options said 0). */
    public int port() {
        return app.port();
    }

    /** Requests being answered now. */
    public int inFlight() {
        return inFlight.get();
    }

    /** Blocks until {@link #close()} has stopped the server. */
    public void awaitStop() throws InterruptedException {
        stopped.await();
    }

    /**
     * A graceful stop: new requests get 503 at once, requests in flight finish (for up to the drain timeout), then the
     * server stops listening and the workers close.
     */
    @Override
    public void close() {
        if (!stopping.compareAndSet(false, true)) {
            return;
        }
        long deadline = System.nanoTime() + options.drainTimeout().toNanos();
        // a moment for requests already accepted to reach their handler (they are answered, 503 if they came late),
        // then the ones in flight finish
        long grace = System.nanoTime() + 200_000_000L;
        while ((inFlight.get() > 0 || System.nanoTime() < grace) && System.nanoTime() < deadline) {
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        // a handler's end is not its response's end: Jetty writes the body after the handler returns, and a stop in
        // between cut a finished 200 short in a test run on a loaded 2-core machine ("chunked transfer encoding,
        // state: READING_DATA"): give the last responses a moment to leave
        long flushed = Math.min(deadline, System.nanoTime() + 150_000_000L);
        try {
            Thread.sleep(Math.max(0, (flushed - System.nanoTime()) / 1_000_000));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            app.stop();
            pool.close(Math.max(0, (deadline - System.nanoTime()) / 1_000_000));
        } finally {
            stopped.countDown();
        }
    }

    /** An image endpoint behind the admission limit: refused with 503 before its image is decoded when it is full. */
    private Endpoint admittedOnly(Endpoint body) {
        return ctx -> {
            if (!admitted.tryAcquire()) {
                throw new ApiError(503, "busy: all " + pool.workers() + " workers are busy and the queue is full; "
                        + "try again shortly", 1);
            }
            try {
                return body.answer(ctx);
            } finally {
                admitted.release();
            }
        };
    }

    // ---- endpoints

    private ObjectNode detect(Context ctx) {
        float threshold = floatParam(ctx, "score_thresh", 0f);
        BufferedImage image = ImageUpload.read(ctx, options.maxPixels());
        Detector.Timed result = pool.run(d -> d.detectTimed(image));
        metrics.image();
        return Responses.detections(mapper, pool.any(), image, result, threshold);
    }

    private ObjectNode explain(Context ctx) {
        int level = intParam(ctx, "level", -1);
        int row = intParam(ctx, "row", 0);
        int col = intParam(ctx, "col", 0);
        int before = intParam(ctx, "before", 2000);
        // a cell past the grid's edge is clamped to it (the page's clicks land anywhere); a negative one is a mistake
        if (level < -1 || row < 0 || col < 0 || before < 1 || before > 10_000) {
            throw new ApiError(400, "query parameters: level must be -1 (the strongest cell) or a level, row and col "
                    + "at least 0, before 1 to 10000; got level=" + level + ", row=" + row + ", col=" + col + ", before="
                    + before);
        }
        if (pool.any().config().proposals() != FasterRcnnConfig.Proposals.RPN) {
            throw new ApiError(409, "this model takes Selective Search's boxes; it has no RPN to explain");
        }
        BufferedImage image = ImageUpload.read(ctx, options.maxPixels());
        org.frcnn4j.model.Explanation e = pool.run(d -> d.explain(image, level, row, col, before));
        metrics.image();
        return Responses.explanation(mapper, e);
    }

    private ObjectNode selectiveSearch(Context ctx) {
        BufferedImage image = ImageUpload.read(ctx, options.maxPixels());
        TimedBoxes found = pool.run(d -> {
            long t0 = System.nanoTime();
            float[] boxes = selectiveSearch().propose(image, 2000, 0);
            return new TimedBoxes(boxes, (System.nanoTime() - t0) / 1e6);
        });
        return Responses.selectiveSearch(mapper, found.boxes(), found.millis());
    }

    private record TimedBoxes(float[] boxes, double millis) {}

    private synchronized SelectiveSearch selectiveSearch() {
        if (selectiveSearch == null) {
            selectiveSearch = SelectiveSearch.of(SelectiveSearch.Mode.FAST);
        }
        return selectiveSearch;
    }

    private void sample(Context ctx) {
        String name = ctx.pathParam("name");
        if (!SAMPLES.contains(name)) { // a fixed list: no request names a file
            json(ctx, 404, error(404, "no such sample: " + name + " (samples: " + String.join(", ", SAMPLES) + ")"));
            return;
        }
        asset(ctx, "samples/" + name, "image/jpeg");
    }

    // ---- plumbing

    /** Runs an endpoint: the token, the stop, errors as JSON, the metrics; a body of null means the endpoint wrote. */
    private void handle(Context ctx, String endpoint, boolean guarded, Endpoint body) {
        long t0 = System.nanoTime();
        inFlight.incrementAndGet();
        int status;
        try {
            if (stopping.get()) {
                throw new ApiError(503, "the server is stopping", 5);
            }
            if (guarded && options.token() != null) {
                String auth = ctx.header("Authorization");
                if (auth == null || !constantTimeEquals(auth, "Bearer " + options.token())) {
                    ctx.header("WWW-Authenticate", "Bearer");
                    throw new ApiError(401, "unauthorised: send the header 'Authorization: Bearer <token>'");
                }
            }
            ObjectNode out = body.answer(ctx);
            if (out != null) {
                json(ctx, 200, out);
            }
            status = ctx.status().getCode();
        } catch (ApiError e) {
            status = e.status();
            if (e.retryAfterSeconds() != null) {
                ctx.header("Retry-After", Integer.toString(e.retryAfterSeconds()));
            }
            drainBody(ctx);
            json(ctx, status, error(status, e.getMessage()));
        } catch (HttpResponseException e) { // Javalin's own: a body over the size limit (413), ...
            status = e.getStatus();
            json(ctx, status, error(status, status == 413 ? "the request body is larger than the limit of "
                    + options.maxBodyBytes() / (1 << 20) + " MB" : e.getMessage()));
        } catch (org.frcnn4j.io.BadInputException | IllegalArgumentException e) {
            status = 400;
            drainBody(ctx);
            json(ctx, status, error(status, e.getMessage()));
        } catch (Exception | OutOfMemoryError e) { // Javalin passes Jetty's checked exceptions through unchanged
            LOG.error("{} failed", endpoint, e);
            status = 500;
            json(ctx, status, error(status, "internal error: " + rootMessage(e)));
        } finally {
            inFlight.decrementAndGet();
        }
        metrics.request(endpoint, status, System.nanoTime() - t0);
    }

    /**
     * Reads what is left of a refused request's body (within the size limit) before the answer goes out: a server that
     * closes a connection with unread bytes in it makes the kernel reset it, and the client can lose the error response
     * it was sent (Java's HttpClient: "header parser received no bytes" after {@code ?score_thresh=abc} with an image).
     */
    private static void drainBody(Context ctx) {
        try {
            ctx.bodyAsBytes();
        } catch (RuntimeException e) { // over the limit (413) or the client went away: nothing more to save
            LOG.debug("request body not drained: {}", e.toString());
        }
    }

    @FunctionalInterface
    private interface Endpoint {
        ObjectNode answer(Context ctx);
    }

    private ObjectNode error(int status, String message) {
        return mapper.createObjectNode().put("error", message).put("status", status);
    }

    private void json(Context ctx, int status, ObjectNode body) {
        try {
            ctx.status(status).contentType("application/json").result(mapper.writeValueAsBytes(body));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void asset(Context ctx, String name, String type) {
        resource(ctx, WEB + name, type);
    }

    private void resource(Context ctx, String name, String type) {
        try (InputStream in = DetectionServer.class.getResourceAsStream(name)) {
            if (in == null) {
                json(ctx, 404, error(404, "not found: " + name));
                return;
            }
            ctx.contentType(type).result(in.readAllBytes());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static int intParam(Context ctx, String name, int fallback) {
        String v = ctx.queryParam(name);
        if (v == null || v.isBlank()) {
            return fallback;
        }
        try {
            return Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
            throw new ApiError(400, "query parameter '" + name + "' must be an integer, not '" + v + "'");
        }
    }

    private static float floatParam(Context ctx, String name, float fallback) {
        String v = ctx.queryParam(name);
        if (v == null || v.isBlank()) {
            return fallback;
        }
        try {
            float f = Float.parseFloat(v.trim());
            if (!(f >= 0 && f <= 1)) {
                throw new NumberFormatException();
            }
            return f;
        } catch (NumberFormatException e) {
            throw new ApiError(400, "query parameter '" + name + "' must be a number in [0, 1], not '" + v + "'");
        }
    }

    private static boolean constantTimeEquals(String a, String b) {
        return java.security.MessageDigest.isEqual(a.getBytes(StandardCharsets.UTF_8),
                b.getBytes(StandardCharsets.UTF_8));
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t.getMessage() != null ? t.getMessage() : t.getClass().getSimpleName();
    }
}
