package org.frcnn4j.serve;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;

/**
 * What {@code GET /metrics} shows, in Prometheus' text format (Micrometer's registry): requests by endpoint and status,
 * a latency histogram, the queue depth and running jobs, images detected and images per second over the last minute.
 */
final class ServerMetrics {
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final Counter images;
    private final Deque<Long> recent = new ArrayDeque<>();

    ServerMetrics(WorkerPool pool) {
        images = Counter.builder("frcnn_images").description("images run through the network").register(registry);
        Gauge.builder("frcnn_queue_depth", pool, WorkerPool::queued).description("requests waiting for a worker")
                .register(registry);
        Gauge.builder("frcnn_workers_busy", pool, WorkerPool::running).description("workers running a request")
                .register(registry);
        Gauge.builder("frcnn_images_per_second", this, ServerMetrics::imagesPerSecond)
                .description("images run through the network per second, over the last minute").register(registry);
    }

    /** One answered request. */
    void request(String endpoint, int status, long nanos) {
        Timer.builder("frcnn_request_duration").description("time to answer a request")
                .tag("endpoint", endpoint).publishPercentileHistogram()
                .minimumExpectedValue(Duration.ofMillis(1)).maximumExpectedValue(Duration.ofSeconds(60))
                .register(registry).record(Duration.ofNanos(nanos));
        Counter.builder("frcnn_requests").description("requests by endpoint and status")
                .tag("endpoint", endpoint).tag("status", Integer.toString(status)).register(registry).increment();
    }

    /** One image through the network. */
    synchronized void image() {
        images.increment();
        long now = System.nanoTime();
        recent.addLast(now);
        trim(now);
    }

    private synchronized double imagesPerSecond() {
        long now = System.nanoTime();
        trim(now);
        return recent.size() / 60.0;
    }

    private void trim(long now) {
        while (!recent.isEmpty() && now - recent.peekFirst() > 60_000_000_000L) {
            recent.removeFirst();
        }
    }

    String scrape() {
        return registry.scrape();
    }
}
