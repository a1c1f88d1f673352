package org.frcnn4j.model;

import java.util.ArrayList;
import java.util.List;
import java.util.function.IntConsumer;
import org.frcnn4j.data.Annotation;
import org.frcnn4j.data.Dataset;
import org.frcnn4j.data.Detection;
import org.frcnn4j.data.Images;
import org.frcnn4j.head.DetectionPostprocessor;

/** Runs a model over a dataset's images, giving detections in the dataset's terms (image ids, 0-based labels). */
public final class DatasetDetection {
    private DatasetDetection() {}

    /**
     * @param progress called with the number of images done so far (may be null)
     */
    public static List<Detection> detectAll(FasterRcnn model, Dataset dataset, IntConsumer progress) {
        return detectAll(model, dataset, null, progress);
    }

    /**
     * @param proposals precomputed proposals per image (original pixels) to use instead of the RPN's, or null
     */
    public static List<Detection> detectAll(FasterRcnn model, Dataset dataset,
                                            java.util.function.Function<Annotation, float[]> proposals, IntConsumer progress) {
        if (model.config().numClassesWithBackground() != dataset.classes().size() + 1) {
            throw new IllegalArgumentException("the model has " + (model.config().numClassesWithBackground() - 1)
                    + " classes, the dataset " + dataset.classes().size());
        }
        List<Detection> out = new ArrayList<>();
        int done = 0;
        for (Annotation a : dataset.images()) {
            java.awt.image.BufferedImage img = Images.readRgb(a.imageFile());
            DetectionPostprocessor.Result r = proposals == null ? model.detect(img)
                    : model.detectWithProposals(img, proposals.apply(a));
            float[] b = r.boxes();
            for (int i = 0; i < r.count(); i++) {
                out.add(new Detection(a.imageId(), r.labels()[i] - 1, b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3],
                        r.scores()[i]));
            }
            if (progress != null) {
                progress.accept(++done);
            }
        }
        return out;
    }
}
