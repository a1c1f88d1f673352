package org.frcnn4j.train;

import ai.djl.ndarray.NDManager;

import java.awt.geom.AffineTransform;
import java.awt.image.AffineTransformOp;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.frcnn4j.data.Annotation;
import org.frcnn4j.data.Dataset;
import org.frcnn4j.data.GroundTruthBox;
import org.frcnn4j.data.Images;
import org.frcnn4j.transform.ImageTransform;

/**
 * The training images in a seeded order, with their ground truth and random horizontal flips, decoded ahead of use in
 * background threads so that the engine never waits on JPEG decoding. The k-th image of a run (k = 0, 1, ...) is a
 * pure function of the seed and k: epoch k / n shuffles the images with its own generator, and image k flips with
 * probability 1/2 by another ({@link RandomStreams}). A resumed run therefore sees exactly the images an uninterrupted
 * one would.
 * Difficult and crowd boxes are left out (as py-faster-rcnn's and torchvision's training do).
 */
public final class TrainingData implements AutoCloseable {
    private static final int PREFETCH = 4;

    private final List<Annotation> images;
    private final long seed;
    private final boolean flip;
    private final boolean plusOne;
    private final ExecutorService pool;
    private final List<Future<Example>> queue = new ArrayList<>();
    private long next;
    private long queuedUpTo;
    private int[] order;
    private long orderEpoch = -1;
    private Input input;
    private NDManager inputs;

    /**
     * One prepared training image.
     *
     * @param boxes  ground truth in the (possibly flipped) original image's pixels (m x 4)
     * @param labels 1..K per box
     */
    public record Example(String imageId, BufferedImage image, float[] boxes, int[] labels, boolean flipped,
                          ImageTransform.Transformed input) {
        /** Boxes of the unflipped image (n x 4, continuous or +1 pixels as the run's convention) in this example's frame. */
        public float[] frame(float[] boxes, boolean plusOne) {
            if (!flipped) {
                return boxes;
            }
            float edge = plusOne ? image.getWidth() - 1 : image.getWidth();
            float[] out = boxes.clone();
            for (int i = 0; i < boxes.length; i += 4) {
                out[i] = edge - boxes[i + 2];
                out[i + 2] = edge - boxes[i];
            }
            return out;
        }
    }

    /**
     * @param plusOne the box convention (flipping maps x to W - 1 - x with +1 pixels, else to W - x)
     * @param start   the index k of the first image to deliver (resuming)
     */
    public TrainingData(Dataset dataset, long seed, boolean flip, boolean plusOne, long start) {
        if (dataset.images().isEmpty()) {
            throw new org.frcnn4j.io.BadInputException("no training images");
        }
        this.images = dataset.images();
        this.seed = seed;
        this.flip = flip;
        this.plusOne = plusOne;
        this.next = start;
        this.queuedUpTo = start;
        // one engine thread each: the inputs are small, and the pass's threads need the cores
        this.pool = Executors.newFixedThreadPool(2, org.frcnn4j.nn.EngineThreads.single("frcnn4j-data"));
    }

    /**
     * The network input of the run's k-th image, made in the background threads too: the pixel normalisation, resize
     * and padding were a tenth of the training iteration on the main thread, while a core sat idle in the serial
     * parts of the pass.
     */
    @FunctionalInterface
    public interface Input {
        ImageTransform.Transformed of(long k, BufferedImage image, NDManager manager);
    }

    /**
     * Makes each example's network input ahead as well ({@link Example#input()}; otherwise null). The arrays belong
     * to this object until the caller attaches them to its own manager; those never taken are freed on close.
     */
    public TrainingData withInput(Input input) {
        if (queuedUpTo != next) {
            throw new IllegalStateException("set the input before the first image");
        }
        this.input = input;
        this.inputs = NDManager.newBaseManager();
        return this;
    }

    /** The next image (blocking until decoded); decoding errors surface here with the file named. */
    public Example next() {
        while (queuedUpTo < next + PREFETCH) {
            long k = queuedUpTo++;
            Annotation a = images.get(indexOf(k));
            boolean flipped = flip && RandomStreams.of(seed, RandomStreams.Purpose.FLIP, k).nextBoolean();
            queue.add(pool.submit(() -> prepare(a, flipped, k)));
        }
        next++;
        try {
            return queue.remove(0).get();
        } catch (java.util.concurrent.ExecutionException e) {
            throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** Index k of the run's image sequence, not yet delivered. */
    public long position() {
        return next;
    }

    private synchronized int indexOf(long k) {
        long epoch = k / images.size();
        if (epoch != orderEpoch) {
            order = new int[images.size()];
            for (int i = 0; i < order.length; i++) {
                order[i] = i;
            }
            Random r = RandomStreams.of(seed, RandomStreams.Purpose.EPOCH_ORDER, epoch);
            for (int i = order.length - 1; i > 0; i--) {
                int j = r.nextInt(i + 1);
                int t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
            orderEpoch = epoch;
        }
        return order[(int) (k % images.size())];
    }

    private Example prepare(Annotation a, boolean flipped, long k) {
        BufferedImage img = Images.readRgb(a.imageFile());
        List<GroundTruthBox> kept = a.objects().stream().filter(o -> !o.difficult() && !o.crowd()).toList();
        float[] boxes = new float[4 * kept.size()];
        int[] labels = new int[kept.size()];
        float w = img.getWidth();
        float edge = plusOne ? w - 1 : w;
        for (int i = 0; i < kept.size(); i++) {
            GroundTruthBox o = kept.get(i);
            boxes[4 * i] = flipped ? edge - (float) o.x2() : (float) o.x1();
            boxes[4 * i + 1] = (float) o.y1();
            boxes[4 * i + 2] = flipped ? edge - (float) o.x1() : (float) o.x2();
            boxes[4 * i + 3] = (float) o.y2();
            labels[i] = o.label() + 1;
        }
        if (flipped) {
            AffineTransform t = AffineTransform.getScaleInstance(-1, 1);
            t.translate(-img.getWidth(), 0);
            img = new AffineTransformOp(t, AffineTransformOp.TYPE_NEAREST_NEIGHBOR).filter(img, null);
            img = Images.toRgb(img);
        }
        return new Example(a.imageId(), img, boxes, labels, flipped, input == null ? null : input(k, img));
    }

    /** The input, alone in this object's manager: the arrays made on the way (the unresized copy) are freed here. */
    private ImageTransform.Transformed input(long k, BufferedImage img) {
        try (NDManager work = inputs.newSubManager()) {
            ImageTransform.Transformed t = input.of(k, img, work);
            t.tensor().attach(inputs);
            return t;
        }
    }

    @Override
    public void close() {
        pool.shutdownNow();
        if (inputs != null) {
            try {
                // a task still making an input would add it to a closed manager
                pool.awaitTermination(1, java.util.concurrent.TimeUnit.MINUTES);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            inputs.close();
        }
    }
}
