package org.frcnn4j.model;

import ai.djl.ndarray.NDManager;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.frcnn4j.data.Images;
import org.frcnn4j.head.DetectionPostprocessor;
import org.frcnn4j.rpn.ProposalGenerator;

/**
 * The entry point for running a trained or imported model from Java:
 *
 * <pre>{@code
 * try (Detector detector = Detector.load(Path.of("runs/demo/model"))) {
 *     for (DetectedBox box : detector.detect(ImageIO.read(new File("raccoon.jpg")))) {
 *         System.out.println(box.className() + " " + box.score());
 *     }
 * }
 * }</pre>
 *
 * <p>Safe to share between threads: one detector runs one image at a time (calls from several threads, through this
 * class or its DJL predictors, take turns). For parallel work, load one detector per thread; each holds its own copy
 * of the weights. {@link #close()} waits for the image in progress; a call after it throws an
 * {@link IllegalStateException} saying that the detector is closed.
 */
public final class Detector implements AutoCloseable {
    private final NDManager manager;
    private final FasterRcnn model;
    private ai.djl.Model djlModel;
    /** Set by {@link #close()}; read and written holding this detector's lock, as every use of the weights is. */
    private boolean closed;

    private Detector(NDManager manager, FasterRcnn model) {
        this.manager = manager;
        this.model = model;
    }

    /** Loads a model folder ({@code config.json} + {@code weights.safetensors}). */
    public static Detector load(Path modelDir) {
        return load(modelDir, c -> c);
    }

    /** Loads a model folder with its configuration adjusted (thresholds, input sizes: nothing that changes weights). */
    public static Detector load(Path modelDir, java.util.function.UnaryOperator<FasterRcnnConfig> adjust) {
        NDManager manager = NDManager.newBaseManager();
        try {
            return new Detector(manager, ModelFiles.load(modelDir, manager, adjust));
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    /**
     * Computes in {@code precision} from now on ({@link org.frcnn4j.nn.Precision}: {@code BF16} is about twice as fast
     * on CPUs with AVX512_BF16 or AMX, and refused with {@link org.frcnn4j.nn.Precision.UnsupportedPrecisionException}
     * on others).
     */
    public synchronized Detector withPrecision(org.frcnn4j.nn.Precision precision) {
        requireOpen();
        model.withPrecision(precision);
        return this;
    }

    public FasterRcnnConfig config() {
        return model.config();
    }

    public FasterRcnn model() {
        return model;
    }

    /**
     * One detected object, in the original image's pixels.
     *
     * @param label      1..K (torchvision's label index; 0 is background and never returned)
     * @param className  the class's name, or "class N" for an imported model without names
     */
    public record DetectedBox(int label, String className, float x1, float y1, float x2, float y2, float score) {}

    /** The objects found in an image, best first. */
    public synchronized List<DetectedBox> detect(BufferedImage image) {
        requireOpen();
        return boxes(model.detect(image));
    }

    /**
     * The objects in several images from one pass of the backbone ({@link FasterRcnn#detectBatch}), a list per image
     * in order: more images per second where one image leaves cores idle, at the cost of the largest image's canvas.
     */
    public synchronized List<List<DetectedBox>> detectBatch(List<BufferedImage> images) {
        requireOpen();
        return model.detectBatch(images).stream().map(this::boxes).toList();
    }

    private List<DetectedBox> boxes(DetectionPostprocessor.Result r) {
        List<DetectedBox> out = new ArrayList<>(r.count());
        float[] b = r.boxes();
        for (int i = 0; i < r.count(); i++) {
            int label = r.labels()[i];
            out.add(new DetectedBox(label, className(label), b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3],
                    r.scores()[i]));
        }
        return out;
    }

    /**
     * Detections with the milliseconds each stage took ({@link FasterRcnn#STAGES}).
     *
     * @param boxes the objects found, best first
     */
    public record Timed(List<DetectedBox> boxes, java.util.Map<String, Double> millis) {}

    /** As {@link #detect(BufferedImage)}, with the time of each stage. */
    public synchronized Timed detectTimed(BufferedImage image) {
        requireOpen();
        FasterRcnn.Timed t = model.detectTimed(image);
        return new Timed(boxes(t.detections()), t.millis());
    }

    /**
     * What the network did with the image, stage by stage, for pictures of it ({@link Explanation#of}).
     *
     * @param level the feature level of the sliding-window position to look at, or -1 for the most object-like one
     */
    public synchronized Explanation explain(BufferedImage image, int level, int row, int col, int maxBeforeNms) {
        requireOpen();
        return Explanation.of(model, image, level, row, col, maxBeforeNms);
    }

    /** Fast R-CNN on given proposals (original pixels, n x 4), without the RPN: the pipeline before Faster R-CNN. */
    public synchronized List<DetectedBox> detect(BufferedImage image, float[] proposals) {
        requireOpen();
        return boxes(model.detectWithProposals(image, proposals));
    }

    /** Reads an image file (any format ImageIO knows, converted to RGB) and detects objects in it. */
    public List<DetectedBox> detect(Path imageFile) {
        org.frcnn4j.io.BadInputException.requireGiven(imageFile, "Detector.detect", "the image file");
        return detect(Images.readRgb(imageFile));
    }

    /** The RPN's best {@code topN} proposals, original pixels, best first. */
    public synchronized ProposalGenerator.Proposals propose(BufferedImage image, int topN) {
        requireOpen();
        return model.propose(image, topN);
    }

    /**
     * A standard DJL {@code Predictor} for this model: {@code predictor.predict(ImageFactory.getInstance().fromFile(p))}
     * gives {@link ai.djl.modality.cv.output.DetectedObjects}. Close the predictor after use; the detector closes the
     * DJL model behind it.
     */
    public synchronized ai.djl.inference.Predictor<ai.djl.modality.cv.Image, ai.djl.modality.cv.output.DetectedObjects>
            newPredictor() {
        requireOpen();
        if (djlModel == null) {
            djlModel = ai.djl.Model.newInstance("frcnn4j", "PyTorch");
            djlModel.setBlock(new FasterRcnnTranslator.Network(model, this));
        }
        return djlModel.newPredictor(new FasterRcnnTranslator(model, this));
    }

    /** The name of a label 1..K. */
    public String className(int label) {
        return model.config().className(label);
    }

    /**
     * Throws when {@link #close()} has run: the weights are freed, and using them would crash the JVM. Called holding
     * this detector's lock, which {@code close()} takes too, so the weights cannot be freed during a call.
     */
    void requireOpen() {
        if (closed) {
            throw new IllegalStateException("this Detector is closed; load the model again to detect with it");
        }
    }

    /** Frees the weights, after the image in progress (in any thread) is done; closing twice does nothing. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (djlModel != null) {
            djlModel.close();
        }
        model.close();
        if (manager != null) {
            manager.close();
        }
    }
}
