package org.frcnn4j.serve;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.frcnn4j.data.Images;
import org.frcnn4j.model.Detector;
import org.frcnn4j.model.FasterRcnn;
import org.frcnn4j.model.FasterRcnnConfig;
import org.frcnn4j.model.ModelFiles;
import org.frcnn4j.model.Presets;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The service on a free port of 127.0.0.1, with the tiny preset's model (random weights, score threshold 0, so that
 * every image has detections to compare): each endpoint, the same detections as {@link Detector#detect}, every error
 * status, concurrency, the queue limit and the graceful stop.
 */
class DetectionServerTest {
    private static final Path RACCOON = Path.of("").toAbsolutePath().getParent().resolve("datasets/raccoon/JPEGImages");
    private static final ObjectMapper JSON = new ObjectMapper();
    @TempDir
    static Path tmp;
    static Path model;
    static DetectionServer server;
    static HttpClient http;

    @BeforeAll
    static void start() throws IOException {
        model = tmp.resolve("model");
        FasterRcnnConfig c = Presets.TINY.config(List.of("raccoon"));
        c = c.with(c.head().withPostprocess(0f, c.head().nmsThreshold(), c.head().detectionsPerImage()));
        try (NDManager m = NDManager.newBaseManager(); FasterRcnn net = FasterRcnn.create(c, m, 7)) {
            ModelFiles.save(net, model);
        }
        server = DetectionServer.start(ServeOptions.defaults(model).withPort(0).withWorkers(2, 64));
        http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    static String url(DetectionServer s, String path) {
        return "http://127.0.0.1:" + s.port() + path;
    }

    static HttpResponse<String> get(DetectionServer s, String path, String... headers) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url(s, path))).GET();
        if (headers.length > 0) {
            b.headers(headers);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    static HttpResponse<String> post(DetectionServer s, String path, byte[] body, String type, String... headers)
            throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url(s, path)))
                .POST(HttpRequest.BodyPublishers.ofByteArray(body)).header("Content-Type", type);
        if (headers.length > 0) {
            b.headers(headers);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    /** A GET of {@code path} sent byte for byte (java.net.http would normalise or refuse dot segments). */
    static Raw raw(DetectionServer s, String path) throws Exception {
        try (java.net.Socket socket = new java.net.Socket("127.0.0.1", s.port())) {
            socket.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                    .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            String response = new String(socket.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            String head = response.substring(0, response.indexOf("\r\n\r\n"));
            String type = head.lines().filter(l -> l.toLowerCase(java.util.Locale.ROOT).startsWith("content-type:"))
                    .map(l -> l.substring(l.indexOf(':') + 1).trim()).findFirst().orElse("");
            return new Raw(Integer.parseInt(response.substring(9, 12)), type, response.substring(head.length() + 4));
        }
    }

    record Raw(int status, String contentType, String body) {}

    static byte[] image(String id) throws IOException {
        return Files.readAllBytes(RACCOON.resolve(id + ".jpg"));
    }

    static JsonNode json(HttpResponse<String> r) throws IOException {
        return JSON.readTree(r.body());
    }

    @Test
    void everyEndpointAnswers() throws Exception {
        assertThat(json(get(server, "/healthz")).get("status").asText()).isEqualTo("ok");
        assertThat(get(server, "/readyz").statusCode()).isEqualTo(200);
        JsonNode m = json(get(server, "/v1/model"));
        assertThat(m.get("precision").asText()).isEqualTo("fp32");
        assertThat(m.get("preset").asText()).isEqualTo("tiny");
        assertThat(m.get("classes").get(0).get("name").asText()).isEqualTo("raccoon");
        assertThat(m.get("input").get("min_size").asInt()).isEqualTo(128);
        assertThat(m.get("service").get("workers").asInt()).isEqualTo(2);

        HttpResponse<String> page = get(server, "/");
        assertThat(page.statusCode()).isEqualTo(200);
        assertThat(page.headers().firstValue("Content-Type").orElse("")).startsWith("text/html");
        assertThat(page.body()).contains("How it works").contains("/app.js");
        assertThat(get(server, "/app.js").body()).contains("/v1/explain");
        assertThat(get(server, "/style.css").statusCode()).isEqualTo(200);
        HttpResponse<byte[]> sample = http.send(HttpRequest.newBuilder(URI.create(url(server,
                "/samples/raccoon-146.jpg"))).build(), HttpResponse.BodyHandlers.ofByteArray());
        assertThat(sample.body()).isEqualTo(image("raccoon-146"));
        // no request names a file: only the fixed samples are served
        assertThat(get(server, "/samples/..%2F..%2Fpom.xml").statusCode()).isEqualTo(404);
        assertThat(get(server, "/samples/raccoon-1.jpg").statusCode()).isEqualTo(404);

        post(server, "/v1/detect", image("raccoon-146"), "image/jpeg");
        String metrics = get(server, "/metrics").body();
        assertThat(metrics).contains("frcnn_requests_total{endpoint=\"detect\",status=\"200\"}")
                .contains("frcnn_request_duration_seconds_bucket").contains("frcnn_queue_depth")
                .contains("frcnn_images_per_second").contains("frcnn_images_total");
    }

    @Test
    void detectGivesTheDetectorsDetections() throws Exception {
        for (String id : List.of("raccoon-146", "raccoon-105", "raccoon-57")) {
            byte[] bytes = image(id);
            JsonNode r = json(post(server, "/v1/detect", bytes, "image/jpeg"));
            List<Detector.DetectedBox> expected;
            try (Detector d = Detector.load(model)) {
                expected = d.detect(Images.readRgb(RACCOON.resolve(id + ".jpg")));
            }
            assertThat(expected).isNotEmpty();
            assertThat(r.get("width").asInt()).isEqualTo(Images.header(RACCOON.resolve(id + ".jpg"))[0]);
            assertThat(rows(r)).as(id).isEqualTo(rows(expected));
            assertThat(r.get("millis").has("backbone")).isTrue();
            // the same image as a multipart upload, with a threshold
            JsonNode part = json(multipart(server, "/v1/detect?score_thresh=0.5", bytes));
            assertThat(rows(part)).isEqualTo(rows(expected.stream().filter(b -> b.score() >= 0.5f).toList()));
        }
    }

    /** A bfloat16 service (where the CPU has it) answers what a bfloat16 detector finds; elsewhere it does not start. */
    @Test
    void aBfloat16ServiceGivesTheBfloat16DetectorsDetections() throws Exception {
        ServeOptions bf16 = ServeOptions.defaults(model).withPort(0).withWorkers(1, 4)
                .withPrecision(org.frcnn4j.nn.Precision.BF16);
        boolean available;
        try {
            org.frcnn4j.nn.Precision.BF16.requireAvailable();
            available = true;
        } catch (org.frcnn4j.nn.Precision.UnsupportedPrecisionException e) {
            available = false;
        }
        if (!available) {
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> DetectionServer.start(bf16))
                    .isInstanceOf(org.frcnn4j.nn.Precision.UnsupportedPrecisionException.class);
            return;
        }
        try (DetectionServer s = DetectionServer.start(bf16)) {
            assertThat(json(get(s, "/v1/model")).get("precision").asText()).isEqualTo("bf16");
            String id = "raccoon-146";
            JsonNode r = json(post(s, "/v1/detect", image(id), "image/jpeg"));
            try (Detector d = Detector.load(model).withPrecision(org.frcnn4j.nn.Precision.BF16)) {
                assertThat(rows(r)).isEqualTo(rows(d.detect(Images.readRgb(RACCOON.resolve(id + ".jpg")))));
            }
        }
    }

    private static List<String> rows(JsonNode r) {
        List<String> out = new ArrayList<>();
        for (JsonNode d : r.get("detections")) {
            JsonNode b = d.get("box");
            out.add(String.format("%s %d %s %s %s %s %s", d.get("category_name").asText(), d.get("category_id").asInt(),
                    (float) b.get(0).asDouble(), (float) b.get(1).asDouble(), (float) b.get(2).asDouble(),
                    (float) b.get(3).asDouble(), (float) d.get("score").asDouble()));
        }
        return out;
    }

    private static List<String> rows(List<Detector.DetectedBox> boxes) {
        return boxes.stream().map(b -> String.format("%s %d %s %s %s %s %s", b.className(), b.label(), b.x1(), b.y1(),
                b.x2(), b.y2(), b.score())).toList();
    }

    static HttpResponse<String> multipart(DetectionServer s, String path, byte[] image) throws Exception {
        String boundary = "frcnn4jboundary";
        byte[] head = ("--" + boundary + "\r\nContent-Disposition: form-data; name=\"image\"; filename=\"x.jpg\"\r\n"
                + "Content-Type: image/jpeg\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
        byte[] tail = ("\r\n--" + boundary + "--\r\n").getBytes(StandardCharsets.US_ASCII);
        byte[] body = new byte[head.length + image.length + tail.length];
        System.arraycopy(head, 0, body, 0, head.length);
        System.arraycopy(image, 0, body, head.length, image.length);
        System.arraycopy(tail, 0, body, head.length + image.length, tail.length);
        return post(s, path, body, "multipart/form-data; boundary=" + boundary);
    }

    @Test
    void explainShowsThePipelineOfTheSameDetections() throws Exception {
        byte[] bytes = image("raccoon-105");
        JsonNode e = json(post(server, "/v1/explain?level=0&row=3&col=4", bytes, "image/jpeg"));
        JsonNode level = e.get("levels").get(0);
        assertThat(level.get("objectness").size()).isEqualTo(level.get("rows").asInt() * level.get("cols").asInt());
        JsonNode cell = e.get("cell");
        assertThat(cell.get("row").asInt()).isEqualTo(3);
        assertThat(cell.get("col").asInt()).isEqualTo(4);
        JsonNode anchors = cell.get("anchors");
        assertThat(anchors.size()).isEqualTo(level.get("sizes").size() * level.get("ratios").size());
        // the position's best anchor is the one the objectness map names
        int position = 3 * level.get("cols").asInt() + 4;
        int best = level.get("best_anchor").get(position).asInt();
        assertThat(anchors.get(best).get("objectness").asDouble()).isCloseTo(
                level.get("objectness").get(position).asDouble(), org.assertj.core.data.Offset.offset(1e-4));
        // each regressed box follows the paper's equation 2 from its anchor and deltas (where no clipping happened)
        double sx = e.get("width").asDouble() / e.get("input_width").asDouble();
        int checked = 0;
        for (JsonNode a : anchors) {
            double[] an = doubles(a.get("anchor"));
            double[] t = doubles(a.get("deltas"));
            double[] b = doubles(a.get("box"));
            double wa = an[2] - an[0];
            double xa = an[0] + wa / 2;
            double w = wa * Math.exp(t[2]);
            double x = xa + t[0] * wa;
            if (x - w / 2 > 0 && x + w / 2 < e.get("width").asDouble() - 1) {
                assertThat(b[0]).isCloseTo(x - w / 2, org.assertj.core.data.Offset.offset(0.01 * sx + 1e-3));
                assertThat(b[2]).isCloseTo(x + w / 2, org.assertj.core.data.Offset.offset(0.01 * sx + 1e-3));
                checked++;
            }
        }
        assertThat(checked).isPositive();
        // NMS keeps a subset, best first
        JsonNode before = e.get("before_nms").get("scores");
        JsonNode after = e.get("after_nms").get("scores");
        assertThat(before.size()).isGreaterThanOrEqualTo(after.size());
        assertThat(after.size()).isPositive();
        for (int i = 1; i < after.size(); i++) {
            assertThat(after.get(i).asDouble()).isLessThanOrEqualTo(after.get(i - 1).asDouble());
        }
        // the detections are /v1/detect's, each with the proposal it was regressed from
        JsonNode d = json(post(server, "/v1/detect", bytes, "image/jpeg"));
        JsonNode dets = e.get("detections");
        assertThat(dets.size()).isEqualTo(d.get("detections").size());
        for (int i = 0; i < dets.size(); i++) {
            assertThat(dets.get(i).get("score").floatValue()).isEqualTo(d.get("detections").get(i).get("score").floatValue());
            assertThat(dets.get(i).get("proposal").asInt()).isBetween(0, after.size() - 1);
        }
        // asking for no particular cell gives the most object-like one
        JsonNode auto = json(post(server, "/v1/explain", bytes, "image/jpeg")).get("cell");
        JsonNode l = e.get("levels").get(auto.get("level").asInt());
        double top = 0;
        for (JsonNode p : l.get("objectness")) {
            top = Math.max(top, p.asDouble());
        }
        assertThat(l.get("objectness").get(auto.get("row").asInt() * l.get("cols").asInt() + auto.get("col").asInt())
                .asDouble()).isEqualTo(top);
    }

    private static double[] doubles(JsonNode a) {
        double[] out = new double[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).asDouble();
        }
        return out;
    }

    @Test
    void badRequestsGetJsonErrorsAndTheServerGoesOn() throws Exception {
        HttpResponse<String> text = post(server, "/v1/detect", "not an image\n".getBytes(), "image/jpeg");
        assertThat(text.statusCode()).isEqualTo(415);
        assertThat(json(text).get("error").asText()).contains("not an image");
        assertThat(post(server, "/v1/detect", new byte[0], "image/jpeg").statusCode()).isEqualTo(400);
        byte[] whole = image("raccoon-57");
        HttpResponse<String> truncated = post(server, "/v1/detect", Arrays.copyOf(whole, whole.length / 3), "image/jpeg");
        assertThat(truncated.statusCode()).isEqualTo(400);
        assertThat(json(truncated).get("error").asText()).contains("truncated");
        assertThat(post(server, "/v1/detect?score_thresh=abc", whole, "image/jpeg").statusCode()).isEqualTo(400);
        assertThat(post(server, "/v1/explain?row=x", whole, "image/jpeg").statusCode()).isEqualTo(400);
        for (String q : List.of("row=-5", "col=-1", "level=-2", "before=0", "before=20000")) {
            HttpResponse<String> r = post(server, "/v1/explain?" + q, whole, "image/jpeg");
            assertThat(r.statusCode()).as(q).isEqualTo(400);
            assertThat(json(r).get("error").asText()).as(q).contains("query parameters");
        }
        HttpResponse<String> noField = post(server, "/v1/detect", "--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n--b--\r\n"
                .getBytes(), "multipart/form-data; boundary=b");
        assertThat(noField.statusCode()).isEqualTo(400);
        assertThat(json(noField).get("error").asText()).contains("'image'");
        HttpResponse<String> missing = get(server, "/v1/nothing");
        assertThat(missing.statusCode()).isEqualTo(404);
        assertThat(json(missing).get("error").asText()).contains("/v1/nothing");
        HttpResponse<String> wrongMethod = get(server, "/v1/detect");
        assertThat(wrongMethod.statusCode()).isEqualTo(405);
        assertThat(json(wrongMethod).get("error").asText()).contains("GET /v1/detect");
        // a path Jetty refuses before the routes (an encoded dot segment): JSON too, not Jetty's HTML page
        for (String path : List.of("/samples/%2e%2e/%2e%2e/etc/passwd", "/%2e%2e/%2e%2e/etc/passwd")) {
            Raw odd = raw(server, path);
            assertThat(odd.status()).as(path).isBetween(400, 404);
            assertThat(odd.contentType()).as(path).startsWith("application/json");
            assertThat(JSON.readTree(odd.body()).get("status").asInt()).as(path).isEqualTo(odd.status());
        }
        // still answering
        assertThat(post(server, "/v1/detect", whole, "image/jpeg").statusCode()).isEqualTo(200);
        // a port in use is the user's --port: bad input (exit code 2 in the CLI), not the service's defect
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> DetectionServer.start(ServeOptions.defaults(model)
                        .withPort(server.port()).withWorkers(1, 1)))
                .isInstanceOf(org.frcnn4j.io.BadInputException.class)
                .hasMessageStartingWith("cannot listen on 127.0.0.1:" + server.port() + ": ");

        // an image whose header claims more than the limit is refused before decoding; a body over the size limit too
        ServeOptions small = new ServeOptions(model, "127.0.0.1", 0, 1, 4, 100_000, 200_000, Duration.ofSeconds(30),
                Duration.ofSeconds(5), "s3cret", org.frcnn4j.nn.Precision.FP32);
        try (DetectionServer strict = DetectionServer.start(small)) {
            String auth = "Bearer s3cret";
            HttpResponse<String> big = post(strict, "/v1/detect", whole, "image/jpeg", "Authorization", auth);
            assertThat(big.statusCode()).isEqualTo(413);
            assertThat(json(big).get("error").asText()).contains("megapixels");
            HttpResponse<String> huge = post(strict, "/v1/detect", new byte[300_000], "image/jpeg", "Authorization", auth);
            assertThat(huge.statusCode()).isEqualTo(413);
            // the token
            HttpResponse<String> anonymous = post(strict, "/v1/detect", whole, "image/jpeg");
            assertThat(anonymous.statusCode()).isEqualTo(401);
            assertThat(json(anonymous).get("error").asText()).contains("Authorization");
            assertThat(get(strict, "/v1/model", "Authorization", "Bearer wrong").statusCode()).isEqualTo(401);
            assertThat(get(strict, "/metrics").statusCode()).isEqualTo(401);
            assertThat(get(strict, "/v1/model", "Authorization", auth).statusCode()).isEqualTo(200);
            assertThat(get(strict, "/healthz").statusCode()).isEqualTo(200);
        }
    }

    @Test
    void manyThreadsGetTheSameAnswersAsOneAtATime() throws Exception {
        List<String> ids = List.of("raccoon-146", "raccoon-105", "raccoon-57", "raccoon-143");
        List<List<String>> sequential = new ArrayList<>();
        for (String id : ids) {
            sequential.add(rows(json(post(server, "/v1/detect", image(id), "image/jpeg"))));
        }
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<String>> answers = new ArrayList<>();
            for (int i = 0; i < 200; i++) {
                int k = i % ids.size();
                byte[] body = image(ids.get(k));
                answers.add(pool.submit(() -> {
                    HttpResponse<String> r = post(server, "/v1/detect", body, "image/jpeg");
                    if (r.statusCode() != 200) {
                        return "status " + r.statusCode() + ": " + r.body();
                    }
                    return rows(json(r)).equals(sequential.get(k)) ? "same" : "different: " + r.body();
                }));
            }
            for (Future<String> f : answers) {
                assertThat(f.get()).isEqualTo("same");
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void aFullQueueAnswers503AndTheServerStaysUp() throws Exception {
        ServeOptions one = ServeOptions.defaults(model).withPort(0).withWorkers(1, 0);
        try (DetectionServer busy = DetectionServer.start(one)) {
            byte[] body = image("raccoon-57");
            int threads = 12;
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            CountDownLatch go = new CountDownLatch(1);
            List<Future<HttpResponse<String>>> answers = new ArrayList<>();
            for (int i = 0; i < threads; i++) {
                answers.add(pool.submit(() -> {
                    go.await();
                    return post(busy, "/v1/selective-search", body, "image/jpeg");
                }));
            }
            go.countDown();
            int ok = 0;
            int refused = 0;
            for (Future<HttpResponse<String>> f : answers) {
                HttpResponse<String> r = f.get();
                assertThat(r.statusCode()).isIn(200, 503);
                if (r.statusCode() == 503) {
                    refused++;
                    assertThat(r.headers().firstValue("Retry-After")).isPresent();
                    assertThat(json(r).get("error").asText()).contains("busy");
                } else {
                    ok++;
                }
            }
            pool.shutdown();
            assertThat(ok).isPositive();
            assertThat(refused).isPositive();
            assertThat(post(busy, "/v1/detect", body, "image/jpeg").statusCode()).isEqualTo(200);
        }
    }

    @Test
    void stoppingLetsRequestsInFlightFinishAndRefusesNewOnes() throws Exception {
        DetectionServer draining = DetectionServer.start(ServeOptions.defaults(model).withPort(0).withWorkers(1, 4));
        byte[] body = image("raccoon-105");
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            // Selective Search takes about a second here: long enough to stop the server under it
            Future<HttpResponse<String>> slow = pool.submit(() -> post(draining, "/v1/selective-search", body,
                    "image/jpeg"));
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (draining.inFlight() == 0 && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            assertThat(draining.inFlight()).isEqualTo(1);
            int port = draining.port();
            Future<?> stopping = pool.submit(draining::close);
            Thread.sleep(100);
            HttpResponse<String> late = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port
                    + "/v1/model")).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(late.statusCode()).isEqualTo(503);
            assertThat(json(late).get("error").asText()).contains("stopping");
            assertThat(get(draining, "/readyz").statusCode()).isEqualTo(503);
            HttpResponse<String> finished = slow.get();
            assertThat(finished.statusCode()).isEqualTo(200);
            assertThat(json(finished).get("count").asInt()).isPositive();
            stopping.get();
        } finally {
            pool.shutdownNow();
            draining.close();
        }
    }
}
