package org.frcnn4j.data;

import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Image files decoded ahead on a background thread while the caller runs the network on the previous ones (issue
 * #15): {@link #next()} gives them in order, each decoded or with the reason it could not be. At most {@code ahead}
 * decoded images wait, so memory stays bounded whatever the list's length.
 */
public final class ImagesAhead implements AutoCloseable {
    /** A file, and its pixels (RGB) or the problem that kept them from being read. */
    public record Decoded(Path file, BufferedImage image, DatasetException error) {}

    private final List<Path> files;
    private final int ahead;
    private final ExecutorService decoder = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "frcnn-decode-ahead");
        t.setDaemon(true);
        return t;
    });
    private final Deque<Future<Decoded>> pending = new ArrayDeque<>();
    private int submitted;

    public ImagesAhead(List<Path> files, int ahead) {
        this.files = List.copyOf(files);
        this.ahead = Math.max(1, ahead);
        fill();
    }

    public boolean hasNext() {
        return !pending.isEmpty();
    }

    /** The next file in order, waiting for its decoding when it is not done yet. */
    public Decoded next() {
        Future<Decoded> f = pending.poll();
        if (f == null) {
            throw new java.util.NoSuchElementException();
        }
        fill();
        if (pending.isEmpty()) {
            decoder.shutdown(); // the last one is on its way: the thread ends with it
        }
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while decoding", e);
        } catch (ExecutionException e) {
            throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e.getCause());
        }
    }

    private void fill() {
        while (pending.size() < ahead && submitted < files.size()) {
            Path file = files.get(submitted++);
            pending.add(decoder.submit(() -> {
                try {
                    return new Decoded(file, Images.readRgb(file), null);
                } catch (DatasetException e) {
                    return new Decoded(file, null, e);
                }
            }));
        }
    }

    @Override
    public void close() {
        decoder.shutdownNow();
    }
}
