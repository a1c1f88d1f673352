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
    private final Detector names;

    FasterRcnnTranslator(FasterRcnn model, Detector names) {
        this.model = model;
        this.names = names;
    }

    @Override
    public NDList processInput(TranslatorContext ctx, Image input) {
        Object wrapped = input.getWrappedImage();
        if (!(wrapped instanceof BufferedImage img)) {
            throw new IllegalArgumentException("frcnn4j reads images from DJL's BufferedImageFactory; got "
                    + wrapped.getClass().getName());
        }
        BufferedImage rgb = Images.toRgb(img);
        ImageTransform.Transformed t = model.transform().apply(rgb, ctx.getNDManager());
        ctx.setAttachment(TRANSFORMED, t);
        NDArray sizes = ctx.getNDManager().create(new int[] {t.height(), t.width(), t.originalHeight(), t.originalWidth()});
        if (model.config().proposals() == FasterRcnnConfig.Proposals.SELECTIVE_SEARCH) {
            // a Fast R-CNN trained on Selective Search boxes gets them here too (input pixels)
            float[] boxes = t.toInput(org.frcnn4j.proposals.SelectiveSearch.of(org.frcnn4j.proposals.SelectiveSearch.Mode.FAST)
                    .propose(rgb, FasterRcnn.SELECTIVE_SEARCH_BOXES, 0));
            return new NDList(t.tensor(), sizes, ctx.getNDManager().create(boxes));
        }
        return new NDList(t.tensor(), sizes);
    }

    @Override
    public DetectedObjects processOutput(TranslatorContext ctx, NDList list) {
        ImageTransform.Transformed t = (ImageTransform.Transformed) ctx.getAttachment(TRANSFORMED);
        float[] boxes = list.get(0).toFloatArray();
        float[] scores = list.get(1).toFloatArray();
        int[] labels = list.get(2).toIntArray();
        List<String> classes = new ArrayList<>();
        List<Double> probabilities = new ArrayList<>();
        List<BoundingBox> rects = new ArrayList<>();
        double w = t.originalWidth();
        double h = t.originalHeight();
        for (int i = 0; i < scores.length; i++) {
            classes.add(names.className(labels[i]));
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
        private final Object lock;

        /** @param lock held while the model runs: the detector's, so predictors and the detector take turns */
        Network(FasterRcnn model, Object lock) {
            this.model = model;
            this.lock = lock;
        }

        @Override
        protected NDList forwardInternal(ParameterStore store, NDList inputs, boolean training, PairList<String, Object> params) {
            int[] s = inputs.get(1).toIntArray();
            ImageTransform.Transformed t = new ImageTransform.Transformed(inputs.get(0), s[0], s[1], s[2], s[3]);
            float[] rois = inputs.size() > 2 ? inputs.get(2).toFloatArray() : null;
            DetectionPostprocessor.Result r;
            synchronized (lock) {
                r = model.forward(t, rois).detections();
            }
            float[] boxes = FasterRcnn.toOriginal(r.boxes(), t);
            var m = inputs.get(0).getManager();
            return new NDList(m.create(boxes, new Shape(r.count(), 4)), m.create(r.scores()), m.create(r.labels()));
        }

        @Override
        public Shape[] getOutputShapes(Shape[] inputShapes) {
            return new Shape[] {new Shape(-1, 4), new Shape(-1), new Shape(-1)};
        }
    }
}
