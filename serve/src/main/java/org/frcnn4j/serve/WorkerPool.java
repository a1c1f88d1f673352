package org.frcnn4j.serve;

import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import org.frcnn4j.model.Detector;

/**
 * N detectors, each with its own weights (a {@link Detector} runs one image at a time), behind a bounded queue: a job
 * that finds every worker busy and the queue full is refused at once (503), never queued without bound; a job that
 * takes longer than the time limit is answered 503 while its worker finishes it.
 */
final class WorkerPool implements AutoCloseable {
    private final BlockingQueue<Detector> idle;
    private final java.util.List<Detector> all;
    private final ThreadPoolExecutor executor;
    private final long timeoutMillis;

    WorkerPool(java.util.List<Detector> detectors, int maxQueue, long timeoutMillis) {
        this.all = java.util.List.copyOf(detectors);
        this.idle = new ArrayBlockingQueue<>(all.size(), false, all);
        this.timeoutMillis = timeoutMillis;
        // a SynchronousQueue when nothing may wait: a job then runs only on a free worker
        BlockingQueue<Runnable> queue = maxQueue == 0 ? new java.util.concurrent.SynchronousQueue<>()
                : new ArrayBlockingQueue<>(maxQueue);
        java.util.concurrent.atomic.AtomicInteger n = new java.util.concurrent.atomic.AtomicInteger();
        this.executor = new ThreadPoolExecutor(all.size(), all.size(), 0, TimeUnit.MILLISECONDS, queue, r -> {
            Thread t = new Thread(r, "frcnn-worker-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        }, new ThreadPoolExecutor.AbortPolicy());
    }

    /** One of the detectors (they are alike), for what needs no worker: the model's configuration and names. */
    Detector any() {
        return all.get(0);
    }

    int workers() {
        return all.size();
    }

    /** Jobs waiting for a worker. */
    int queued() {
        return executor.getQueue().size();
    }

    /** Jobs running now. */
    int running() {
        return executor.getActiveCount();
    }

    /** Runs {@code job} on a free detector and waits for it, within the time limit. */
    <T> T run(Function<Detector, T> job) {
        Future<T> future;
        try {
            future = executor.submit(() -> {
                Detector d = idle.take();
                try {
                    return job.apply(d);
                } finally {
                    idle.offer(d); // there is always room; unlike put, never lost to an interrupt
                }
            });
        } catch (RejectedExecutionException e) {
            throw new ApiError(503, "busy: all " + all.size() + " workers are busy and the queue is full; "
                    + "try again shortly", 1);
        }
        try {
            return future.get(timeoutMillis, TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            future.cancel(false); // still queued: it never runs for a client that has gone
            throw new ApiError(503, "the request took longer than the limit of " + timeoutMillis / 1000.0 + " s", 5);
        } catch (InterruptedException e) {
            future.cancel(false);
            Thread.currentThread().interrupt();
            throw new ApiError(503, "the server is stopping", 5);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof RuntimeException r) {
                throw r;
            }
            throw new IllegalStateException(cause);
        }
    }

    /** Lets the running and queued jobs finish (up to {@code millis}), then closes the detectors. */
    @Override
    public void close() {
        close(30_000);
    }

    void close(long millis) {
        executor.shutdown();
        try {
            if (!executor.awaitTermination(millis, TimeUnit.MILLISECONDS)) {
                executor.shutdownNow();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (executor.isTerminated()) {
            for (Detector d : all) {
                d.close();
            }
        }
    }
}
