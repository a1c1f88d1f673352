package org.frcnn4j.train;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.frcnn4j.model.FasterRcnn;
import org.frcnn4j.model.FasterRcnnConfig;
import org.frcnn4j.nn.ConvGuard;
import org.frcnn4j.transform.ImageTransform;

/**
 * Runs models once as detection and training would, so that every convolution they compute (with the gradients
 * training needs) is checked on this machine ({@link ConvGuard}); reports what was found. What {@code frcnn doctor}
 * shows; any program can call it before trusting a new machine.
 */
public final class SelfCheck {
    private SelfCheck() {}

    /**
     * What the check found.
     *
     * @param verdicts every convolution checked so far in this process, with the route it takes
     * @param failure  the first convolution no route computes right, or null
     */
    public record Result(List<ConvGuard.Verdict> verdicts, String failure) {
        public boolean ok() {
            return failure == null;
        }

        public List<ConvGuard.Verdict> workarounds() {
            return verdicts.stream().filter(ConvGuard.Verdict::workaround).toList();
        }
    }

    /**
     * One inference pass and one training step (forward and backward, with the preset's frozen layers) of each model,
     * from random weights on a synthetic image.
     */
    public static Result run(List<FasterRcnnConfig> models, List<TrainConfig> training) {
        String failure = null;
        try (NDManager manager = NDManager.newBaseManager()) {
            for (int i = 0; i < models.size() && failure == null; i++) {
                try {
                    exercise(models.get(i), training.get(i), manager);
                } catch (ConvGuard.EngineDefectException e) {
                    failure = models.get(i).preset() + ": " + e.getMessage();
                }
            }
        }
        return new Result(ConvGuard.shared().verdicts(), failure);
    }

    private static void exercise(FasterRcnnConfig config, TrainConfig train, NDManager parent) {
        BufferedImage image = new BufferedImage(config.transform().minSize(), config.transform().minSize() * 4 / 3,
                BufferedImage.TYPE_INT_RGB);
        Random random = new Random(1);
        for (int y = 0; y < image.getHeight(); y++) {
            for (int x = 0; x < image.getWidth(); x++) {
                image.setRGB(x, y, random.nextInt(1 << 24));
            }
        }
        try (NDManager m = parent.newSubManager(); FasterRcnn model = FasterRcnn.create(config, m, 0)) {
            model.detect(image);
            model.parameters().all().forEach((name, a) -> a.setRequiresGradient(!model.parameters().isBuffer(name)
                    && train.frozen().stream().noneMatch(name::startsWith)));
            try (NDManager step = m.newSubManager()) {
                ImageTransform.Transformed t = model.transform().apply(image, step);
                float[] box = {t.width() * 0.2f, t.height() * 0.2f, t.width() * 0.7f, t.height() * 0.8f};
                try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    FasterRcnn.Losses l = model.trainingForward(t, box, new int[] {1}, null, train.training(), FasterRcnn.Train.BOTH,
                            new Random(2));
                    gc.backward(l.total());
                }
            }
        }
    }

    /** The self-check of the CPU presets' models (small, tiny), as the demo and the tests use them. */
    public static Result runCpuPresets() {
        List<FasterRcnnConfig> models = new ArrayList<>();
        List<TrainConfig> training = new ArrayList<>();
        for (org.frcnn4j.model.Presets p : List.of(org.frcnn4j.model.Presets.SMALL, org.frcnn4j.model.Presets.TINY)) {
            models.add(p.config(List.of("object")));
            training.add(TrainPresets.of(p));
        }
        return run(models, training);
    }
}
