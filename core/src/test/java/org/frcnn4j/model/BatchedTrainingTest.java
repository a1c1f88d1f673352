package org.frcnn4j.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import java.util.List;
import java.util.Random;
import org.frcnn4j.data.Annotation;
import org.frcnn4j.data.Dataset;
import org.frcnn4j.data.Images;
import org.frcnn4j.testing.GroundTruth;
import org.frcnn4j.testing.SharedData;
import org.frcnn4j.train.TrainConfig;
import org.frcnn4j.train.TrainPresets;
import org.frcnn4j.transform.ImageTransform;
import org.junit.jupiter.api.Test;

/**
 * An iteration's images train as one batch on a shared canvas (torchvision's batching): each image's losses are
 * those it has alone on a canvas of that size, so the batch changes what an image is padded to and nothing else.
 */
@org.junit.jupiter.api.Tag("numerics")
class BatchedTrainingTest {
    @Test
    void eachImageOfABatchHasTheLossesItHasAloneOnTheSameCanvas() {
        Dataset d = Dataset.open(SharedData.bundled("raccoon"), "train", null);
        FasterRcnnConfig config = Presets.TINY.config(d.classes().names());
        TrainConfig train = TrainPresets.of(Presets.TINY);
        try (NDManager m = NDManager.newBaseManager(); FasterRcnn model = FasterRcnn.create(config, m, 5)) {
            // two images at different scales: the first lies on a canvas of the second's (rounded-up) size
            Annotation a = d.images().get(0);
            Annotation b = d.images().get(1);
            ImageTransform.Transformed ta = new ImageTransform(config.transform().withSizes(96, 192)).apply(Images.readRgb(a.imageFile()), m);
            ImageTransform.Transformed tb = new ImageTransform(config.transform().withSizes(160, 192)).apply(Images.readRgb(b.imageFile()), m);
            List<FasterRcnn.Losses> batch = model.trainingForward(List.of(
                    new FasterRcnn.TrainingImage(ta, ta.toInput(GroundTruth.boxes(a)), GroundTruth.labels(a), null, new Random(1)),
                    new FasterRcnn.TrainingImage(tb, tb.toInput(GroundTruth.boxes(b)), GroundTruth.labels(b), null, new Random(2))),
                    train.training(), FasterRcnn.Train.BOTH);
            long height = Math.max(ta.tensor().getShape().get(2), tb.tensor().getShape().get(2));
            long width = Math.max(ta.tensor().getShape().get(3), tb.tensor().getShape().get(3));
            int multiple = config.transform().sizeDivisible();
            height = (height + multiple - 1) / multiple * multiple;
            width = (width + multiple - 1) / multiple * multiple;
            assertThat(ta.tensor().getShape().get(2)).as("the first image is smaller than the canvas").isLessThan(height);
            Object[][] cases = {{ta, a, 1, batch.get(0)}, {tb, b, 2, batch.get(1)}};
            for (Object[] c : cases) {
                ImageTransform.Transformed t = (ImageTransform.Transformed) c[0];
                Annotation an = (Annotation) c[1];
                NDArray canvas = m.zeros(new Shape(1, 3, height, width));
                canvas.set(new NDIndex(":, :, :{}, :{}", t.tensor().getShape().get(2), t.tensor().getShape().get(3)), t.tensor());
                ImageTransform.Transformed alone = new ImageTransform.Transformed(canvas, t.height(), t.width(),
                        t.originalHeight(), t.originalWidth());
                FasterRcnn.Losses single = model.trainingForward(alone, alone.toInput(GroundTruth.boxes(an)), GroundTruth.labels(an), null, train.training(),
                        FasterRcnn.Train.BOTH, new Random((int) c[2]));
                FasterRcnn.Losses batched = (FasterRcnn.Losses) c[3];
                assertThat((double) batched.rpnObjectness().getFloat()).isCloseTo(single.rpnObjectness().getFloat(), within(1e-4));
                assertThat((double) batched.rpnBox().getFloat()).isCloseTo(single.rpnBox().getFloat(), within(1e-4));
                assertThat((double) batched.classifier().getFloat()).isCloseTo(single.classifier().getFloat(), within(1e-4));
                assertThat((double) batched.boxRegression().getFloat()).isCloseTo(single.boxRegression().getFloat(), within(1e-4));
            }
            // and the padding matters: alone on its own 32-rounded input the smaller image's losses differ
            FasterRcnn.Losses own = model.trainingForward(ta, ta.toInput(GroundTruth.boxes(a)), GroundTruth.labels(a), null, train.training(),
                    FasterRcnn.Train.BOTH, new Random(1));
            assertThat(own.total().getFloat()).isNotCloseTo(batch.get(0).total().getFloat(), within(1e-4f));
        }
    }
}
