package org.frcnn4j.serve;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/**
 * bench/serve's client: a bounded load run against a local server. For each concurrency, {@code requests} POSTs of
 * /v1/detect cycling over the images of a folder; prints throughput, p50/p95/p99 latency, errors, and the server's
 * resident memory (from /proc) before and after.
 *
 * <pre>
 * java -cp ... org.frcnn4j.serve.LoadGenerator PORT SERVER_PID IMAGE_DIR REQUESTS CONCURRENCY[,CONCURRENCY...]
 * </pre>
 */
public final class LoadGenerator {
    private LoadGenerator() {}

    public static void main(String[] args) throws Exception {
        if (args.length != 5) {
            System.err.println("usage: LoadGenerator PORT SERVER_PID IMAGE_DIR REQUESTS CONCURRENCY[,...]");
            System.exit(2);
        }
        int port = Integer.parseInt(args[0]);
        long pid = Long.parseLong(args[1]);
        List<byte[]> images = new ArrayList<>();
        try (Stream<Path> files = Files.list(Path.of(args[2]))) {
            for (Path p : files.filter(f -> f.toString().endsWith(".jpg")).sorted().limit(40).toList()) {
                images.add(Files.readAllBytes(p));
            }
        }
        if (images.isEmpty()) {
            throw new IllegalArgumentException("no .jpg images in " + args[2]);
        }
        int requests = Integer.parseInt(args[3]);
        URI detect = URI.create("http://127.0.0.1:" + port + "/v1/detect");
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
        // a warm-up pass: the first requests include the engine's first-call costs
        for (int i = 0; i < Math.min(8, images.size()); i++) {
            send(http, detect, images.get(i));
        }
        System.out.printf(Locale.ROOT, "%-11s %9s %9s %9s %9s %9s %7s %9s %9s%n", "concurrency", "requests", "images/s",
                "p50 ms", "p95 ms", "p99 ms", "errors", "RSS MB", "after MB");
        for (String c : args[4].split(",")) {
            int concurrency = Integer.parseInt(c.trim());
            long rssBefore = rssKb(pid);
            long[] latencies = new long[requests];
            AtomicInteger errors = new AtomicInteger();
            AtomicInteger next = new AtomicInteger();
            ExecutorService pool = Executors.newFixedThreadPool(concurrency);
            long t0 = System.nanoTime();
            List<Future<?>> running = new ArrayList<>();
            for (int w = 0; w < concurrency; w++) {
                running.add(pool.submit(() -> {
                    for (int i = next.getAndIncrement(); i < requests; i = next.getAndIncrement()) {
                        long s = System.nanoTime();
                        int status = send(http, detect, images.get(i % images.size()));
                        latencies[i] = System.nanoTime() - s;
                        if (status != 200) {
                            errors.incrementAndGet();
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : running) {
                f.get();
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            pool.shutdown();
            Arrays.sort(latencies);
            System.out.printf(Locale.ROOT, "%-11d %9d %9.2f %9.1f %9.1f %9.1f %7d %9.0f %9.0f%n", concurrency, requests,
                    requests / seconds, pct(latencies, 0.50), pct(latencies, 0.95), pct(latencies, 0.99), errors.get(),
                    rssBefore / 1024.0, rssKb(pid) / 1024.0);
        }
    }

    private static int send(HttpClient http, URI uri, byte[] body) {
        try {
            HttpRequest r = HttpRequest.newBuilder(uri).POST(HttpRequest.BodyPublishers.ofByteArray(body))
                    .header("Content-Type", "image/jpeg").timeout(Duration.ofSeconds(120)).build();
            return http.send(r, HttpResponse.BodyHandlers.discarding()).statusCode();
        } catch (IOException e) {
            return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    private static double pct(long[] sorted, double q) {
        int i = (int) Math.ceil(q * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, i))] / 1e6;
    }

    private static long rssKb(long pid) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return -1;
    }
}
