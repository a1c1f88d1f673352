package org.frcnn4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code frcnn serve} as the README starts it, in a child JVM: it answers /v1/detect with what {@code frcnn detect}
 * prints for the same images, refuses a text file with a 4xx JSON error and keeps answering, and on SIGTERM lets the
 * request in flight finish before it exits 0.
 */
class ServeCliTest {
    private static final Path ROOT = Path.of("").toAbsolutePath().getParent();
    private static final Path FIXTURES = ROOT.resolve("core/src/test/resources/fixtures/torchvision");
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void servesWhatDetectPrintsAndDrainsOnSigterm(@TempDir Path tmp) throws Exception {
        Path model = tmp.resolve("model");
        CliTest.Run imp = CliTest.run("import-torchvision", "--weights",
                FIXTURES.resolve("vgg16-align/state_dict.npz").toString(), "--backbone", "vgg16", "--roi-op", "align",
                "--num-classes", "4", "--min-size", "224", "--max-size", "352", "--box-score-thresh", "0.05",
                "--out", model.toString());
        assertThat(imp.code()).as(imp.err()).isZero();
        List<Path> images = List.of(ROOT.resolve("datasets/raccoon/JPEGImages/raccoon-146.jpg"),
                ROOT.resolve("datasets/raccoon/JPEGImages/raccoon-57.jpg"));
        Path dets = tmp.resolve("dets.json");
        CliTest.Run d = CliTest.run("detect", "--model", model.toString(), "--json", dets.toString(),
                images.get(0).toString(), images.get(1).toString());
        assertThat(d.code()).as(d.err()).isZero();
        JsonNode cli = JSON.readTree(dets.toFile());

        Path run = tmp.resolve("serve");
        Process p = KillAndResumeTest.start(run, List.of("serve", "--model", model.toString(), "--port", "0"));
        try {
            int port = port(run, p);
            HttpClient http = HttpClient.newHttpClient();
            for (int i = 0; i < images.size(); i++) {
                HttpResponse<String> r = post(http, port, "/v1/detect", Files.readAllBytes(images.get(i)));
                assertThat(r.statusCode()).isEqualTo(200);
                String id = images.get(i).getFileName().toString().replace(".jpg", "");
                assertSameDetections(JSON.readTree(r.body()).get("detections"), cli, id);
            }
            HttpResponse<String> text = post(http, port, "/v1/detect", "name,score\nraccoon,1\n".getBytes());
            assertThat(text.statusCode()).isBetween(400, 499);
            assertThat(JSON.readTree(text.body()).get("error").asText()).isNotEmpty();
            assertThat(post(http, port, "/v1/detect", Files.readAllBytes(images.get(0))).statusCode()).isEqualTo(200);

            // SIGTERM while Selective Search (about a second) runs: that request still gets its answer
            CompletableFuture<HttpResponse<String>> slow = http.sendAsync(request(port, "/v1/selective-search",
                    Files.readAllBytes(images.get(1))), HttpResponse.BodyHandlers.ofString());
            long deadline = System.nanoTime() + 30_000_000_000L;
            while (!busy(http, port) && System.nanoTime() < deadline) { // in a worker, not merely sent
                Thread.sleep(20);
            }
            p.destroy(); // SIGTERM
            HttpResponse<String> finished = slow.get(60, TimeUnit.SECONDS);
            assertThat(finished.statusCode()).as(finished.body()).isEqualTo(200);
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(p.exitValue()).as(KillAndResumeTest.log(run)).isZero();
            assertThat(KillAndResumeTest.log(run)).contains("stopping: requests in flight finish").contains("stopped");
        } finally {
            p.destroyForcibly();
        }
    }

    private static void assertSameDetections(JsonNode served, JsonNode cli, String id) {
        List<JsonNode> expected = new java.util.ArrayList<>();
        cli.forEach(n -> {
            if (n.get("image_id").asText().equals(id)) {
                expected.add(n);
            }
        });
        assertThat(served.size()).as(id).isEqualTo(expected.size()).isPositive();
        for (int i = 0; i < expected.size(); i++) {
            JsonNode e = expected.get(i);
            JsonNode s = served.get(i);
            assertThat(s.get("category_id").asInt()).isEqualTo(e.get("category_id").asInt());
            assertThat(s.get("score").floatValue()).isEqualTo(e.get("score").floatValue());
            JsonNode bbox = e.get("bbox"); // COCO: x, y, width, height
            JsonNode box = s.get("box");
            assertThat(box.get(0).doubleValue()).isEqualTo(bbox.get(0).doubleValue());
            assertThat(box.get(1).doubleValue()).isEqualTo(bbox.get(1).doubleValue());
            assertThat(box.get(2).doubleValue() - box.get(0).doubleValue()).isCloseTo(bbox.get(2).doubleValue(),
                    org.assertj.core.data.Offset.offset(1e-3));
            assertThat(box.get(3).doubleValue() - box.get(1).doubleValue()).isCloseTo(bbox.get(3).doubleValue(),
                    org.assertj.core.data.Offset.offset(1e-3));
        }
    }

    /** Whether a worker is running a request now (the service's own gauge). */
    private static boolean busy(HttpClient http, int port) throws Exception {
        String metrics = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        return Pattern.compile("(?m)^frcnn_workers_busy [1-9]").matcher(metrics).find();
    }

    private static int port(Path run, Process p) throws Exception {
        Pattern serving = Pattern.compile("serving .* on http://127\\.0\\.0\\.1:(\\d+)/");
        long deadline = System.nanoTime() + 120_000_000_000L;
        while (System.nanoTime() < deadline) {
            Matcher m = serving.matcher(KillAndResumeTest.log(run));
            if (m.find()) {
                return Integer.parseInt(m.group(1));
            }
            if (!p.isAlive()) {
                throw new AssertionError("serve exited: " + KillAndResumeTest.log(run));
            }
            Thread.sleep(100);
        }
        throw new AssertionError("serve did not start: " + KillAndResumeTest.log(run));
    }

    private static HttpRequest request(int port, String path, byte[] body) {
        return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .POST(HttpRequest.BodyPublishers.ofByteArray(body)).header("Content-Type", "image/jpeg").build();
    }

    private static HttpResponse<String> post(HttpClient http, int port, String path, byte[] body) throws Exception {
        return http.send(request(port, path, body), HttpResponse.BodyHandlers.ofString());
    }
}
