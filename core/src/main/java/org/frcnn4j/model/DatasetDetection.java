package org.frcnn4j.model;

import java.util.ArrayList;
import java.util.List;
import java.util.function.IntConsumer;
import org.frcnn4j.data.Annotation;
import org.frcnn4j.data.Dataset;
import org.frcnn4j.data.Detection;
import org.frcnn4j.data.Images;
import org.frcnn4j.head.DetectionPostprocessor;
import org.frcnn4j.io.BadInputException;

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
     * The dataset's label (0-based) of each model label 1..K, by class name (the same classes in another order are
     * matched, not swapped); -1 for a class the dataset does not have. A model without class names (imported without
     * them) must have as many classes as the dataset, taken in order.
     */
    public static int[] labelMap(FasterRcnnConfig model, Dataset dataset) {
        BadInputException.requireGiven(model, "DatasetDetection.labelMap", "the model's configuration");
        BadInputException.requireGiven(dataset, "DatasetDetection.labelMap", "the dataset");
        int k = model.numClassesWithBackground() - 1;
        int[] map = new int[k + 1];
        map[0] = -1;
        if (model.classNames().isEmpty()) {
            if (k != dataset.classes().size()) {
                throw new BadInputException("the model has " + k + " unnamed classes, the dataset "
                        + dataset.classes().size() + ": give the model class names (import-torchvision --classes)");
            }
            for (int i = 1; i <= k; i++) {
                map[i] = i - 1;
            }
            return map;
        }
        int matched = 0;
        for (int i = 1; i <= k; i++) {
            map[i] = dataset.classes().labelOf(model.classNames().get(i - 1));
            matched += map[i] >= 0 ? 1 : 0;
        }
        if (matched == 0 && dataset.classes().size() > 0) {
            throw new BadInputException("none of the model's classes (" + abbreviate(model.classNames())
                    + ") is a class of the dataset (" + abbreviate(dataset.classes().names()) + ")");
        }
        return map;
    }

    private static String abbreviate(List<String> names) {
        return names.size() <= 6 ? String.join(", ", names) : String.join(", ", names.subList(0, 6)) + ", ...";
    }

    /**
     * @param proposals precomputed proposals per image (original pixels) to use instead of the RPN's, or null
     */
    public static List<Detection> detectAll(FasterRcnn model, Dataset dataset,
                                            java.util.function.Function<Annotation, float[]> proposals, IntConsumer progress) {
        BadInputException.requireGiven(model, "DatasetDetection.detectAll", "the model");
        BadInputException.requireGiven(dataset, "DatasetDetection.detectAll", "the dataset");
        int[] toDataset = labelMap(model.config(), dataset);
        List<Detection> out = new ArrayList<>();
        int done = 0;
        for (Annotation a : dataset.images()) {
            java.awt.image.BufferedImage img = Images.readRgb(a.imageFile());
            DetectionPostprocessor.Result r;
            try {
                r = proposals == null ? model.detect(img) : model.detectWithProposals(img, proposals.apply(a));
            } catch (BadInputException e) {
                // given proposals that are no boxes: which image's
                throw new BadInputException("image " + a.imageId() + ": " + e.getMessage(), e);
            }
            float[] b = r.boxes();
            for (int i = 0; i < r.count(); i++) {
                int label = toDataset[r.labels()[i]];
                if (label >= 0) {
                    out.add(new Detection(a.imageId(), label, b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3],
                            r.scores()[i]));
                }
            }
            if (progress != null) {
                progress.accept(++done);
            }
        }
        return out;
    }
}
