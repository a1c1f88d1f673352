package org.frcnn4j.model;

import ai.djl.modality.cv.Image;
import ai.djl.modality.cv.output.BoundingBox;
import ai.djl.modality.cv.output.DetectedObjects;
import ai.djl.modality.cv.output.Rectangle;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.nn.AbstractBlock;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import ai.djl.translate.NoBatchifyTranslator;
import ai.djl.translate.TranslatorContext;
import ai.djl.util.PairList;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.List;
import org.frcnn4j.data.Images;
import org.frcnn4j.head.DetectionPostprocessor;
import org.frcnn4j.transform.ImageTransform;

/**
 * DJL's {@code Translator<Image, DetectedObjects>} for a {@link FasterRcnn}: the image transform on the way in,
 * detections as DJL's {@link DetectedObjects} on the way out (class names, scores, and rectangles in coordinates
 * relative to the image, 0..1, as DJL's detection translators give them). The network itself is {@link Network},
 * a DJL {@link AbstractBlock} around the model, so a standard {@code Predictor} runs it
 * ({@link Detector#newPredictor()}).
 */
public final class FasterRcnnTranslator implements NoBatchifyTranslator<Image, DetectedObjects> {
    private static final String TRANSFORMED = "frcnn4j.transformed";
    private final FasterRcnn model;
    /** The class names, and the lock every use of the native arrays holds (so that close() waits for it). */
    private final Detector detector;

    FasterRcnnTranslator(FasterRcnn model, Detector detector) {
        this.model = model;
        this.detector = detector;
    }

    @Override
    public NDList processInput(TranslatorContext ctx, Image input) {
        Object wrapped = org.frcnn4j.io.BadInputException.requireGiven(input, "Predictor.predict", "the image").getWrappedImage();
        if (!(wrapped instanceof BufferedImage img)) {
            throw new IllegalArgumentException("frcnn4j reads images from DJL's BufferedImageFactory; got "
                    + wrapped.getClass().getName());
        }
        BufferedImage rgb = Images.toRgb(img);
        // a Fast R-CNN trained on Selective Search boxes gets them here too (original pixels until transformed)
        float[] selective = model.config().proposals() == FasterRcnnConfig.Proposals.SELECTIVE_SEARCH
                ? org.frcnn4j.proposals.SelectiveSearch.of(org.frcnn4j.proposals.SelectiveSearch.Mode.FAST)
                        .propose(rgb, FasterRcnn.SELECTIVE_SEARCH_BOXES, 0)
                : null;
        // the context's arrays belong to the detector's DJL model, which close() frees: made holding its lock
        synchronized (detector) {
            detector.requireOpen();
            ImageTransform.Transformed t = model.transform().apply(rgb, ctx.getNDManager());
            ctx.setAttachment(TRANSFORMED, t);
            NDArray sizes = ctx.getNDManager().create(new int[] {t.height(), t.width(), t.originalHeight(), t.originalWidth()});
            return selective == null ? new NDList(t.tensor(), sizes)
                    : new NDList(t.tensor(), sizes, ctx.getNDManager().create(t.toInput(selective)));
        }
    }

    @Override
    public DetectedObjects processOutput(TranslatorContext ctx, NDList list) {
        ImageTransform.Transformed t = (ImageTransform.Transformed) ctx.getAttachment(TRANSFORMED);
        float[] boxes;
        float[] scores;
        int[] labels;
        synchronized (detector) {
            detector.requireOpen();
            boxes = list.get(0).toFloatArray();
            scores = list.get(1).toFloatArray();
            labels = list.get(2).toIntArray();
        }
        List<String> classes = new ArrayList<>();
        List<Double> probabilities = new ArrayList<>();
        List<BoundingBox> rects = new ArrayList<>();
        double w = t.originalWidth();
        double h = t.originalHeight();
        for (int i = 0; i < scores.length; i++) {
            classes.add(detector.className(labels[i]));
            probabilities.add((double) scores[i]);
            rects.add(new Rectangle(boxes[4 * i] / w, boxes[4 * i + 1] / h, (boxes[4 * i + 2] - boxes[4 * i]) / w,
                    (boxes[4 * i + 3] - boxes[4 * i + 1]) / h));
        }
        return new DetectedObjects(classes, probabilities, rects);
    }

    /**
     * The whole detector as one DJL block: inputs (image tensor, [height, width, original height, original width]),
     * outputs (boxes (n, 4) in original pixels, scores (n), labels (n)).
     */
    static final class Network extends AbstractBlock {
        private final FasterRcnn model;
        private final Detector detector;

        /** @param detector its lock is held while the model runs, so predictors, the detector and close() take turns */
        Network(FasterRcnn model, Detector detector) {
            this.model = model;
            this.detector = detector;
        }

        @Override
        protected NDList forwardInternal(ParameterStore store, NDList inputs, boolean training, PairList<String, Object> params) {
            synchronized (detector) {
                detector.requireOpen();
                int[] s = inputs.get(1).toIntArray();
                ImageTransform.Transformed t = new ImageTransform.Transformed(inputs.get(0), s[0], s[1], s[2], s[3]);
                float[] rois = inputs.size() > 2 ? inputs.get(2).toFloatArray() : null;
                DetectionPostprocessor.Result r = model.forward(t, rois).detections();
                float[] boxes = FasterRcnn.toOriginal(r.boxes(), t);
                var m = inputs.get(0).getManager();
                return new NDList(m.create(boxes, new Shape(r.count(), 4)), m.create(r.scores()), m.create(r.labels()));
            }
        }

        @Override
        public Shape[] getOutputShapes(Shape[] inputShapes) {
            return new Shape[] {new Shape(-1, 4), new Shape(-1), new Shape(-1)};
        }
    }
}
