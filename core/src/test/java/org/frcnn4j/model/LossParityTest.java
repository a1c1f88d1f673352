package org.frcnn4j.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.Random;
import org.frcnn4j.data.Images;
import org.frcnn4j.train.TrainConfig;
import org.frcnn4j.train.TrainPresets;
import org.frcnn4j.transform.ImageTransform;
import org.junit.jupiter.api.Test;

/**
 * With the torchvision preset, the four training losses equal torchvision's on a fixed image, ground truth and
 * weights. The samplers take every candidate (batch sizes of a million), which makes the sample deterministic on
 * both sides (fixture: tools/torchvision/make_fixtures.py, losses.json).
 */
class LossParityTest {
    @Test
    void fourLossesMatchTorchvision() throws Exception {
        Path dir = TorchvisionParityTest.fixture("vgg16-align");
        JsonNode expected = new ObjectMapper().readTree(dir.resolve("losses.json").toFile());
        float[] gt = new float[8];
        for (int i = 0; i < 2; i++) {
            for (int j = 0; j < 4; j++) {
                gt[4 * i + j] = (float) expected.get("gt_boxes").get(i).get(j).asDouble();
            }
        }
        int[] labels = {expected.get("gt_labels").get(0).asInt(), expected.get("gt_labels").get(1).asInt()};
        TrainConfig base = TrainPresets.of(Presets.TORCHVISION);
        TrainConfig all = base.withTargets(
                new TrainConfig.RpnTargets(1_000_000, 0.5f, 0.7f, 0.3f, false),
                new TrainConfig.RoiTargets(1_000_000, 0.25f, 0.5f, 0.0f));
        try (NDManager m = NDManager.newBaseManager();
             FasterRcnn model = TorchvisionImport.importNpz(dir.resolve("state_dict.npz"), TorchvisionParityTest.options(dir), m)) {
            ImageTransform.Transformed t = model.transform().apply(Images.readRgb(dir.resolve("image.png")), m);
            FasterRcnn.Losses l = model.trainingForward(t, t.toInput(gt), labels, null, all, FasterRcnn.Train.BOTH, new Random(0));
            assertThat((double) l.rpnObjectness().getFloat()).as("objectness").isCloseTo(expected.get("loss_objectness").asDouble(), within(1e-4));
            assertThat((double) l.rpnBox().getFloat()).as("rpn box").isCloseTo(expected.get("loss_rpn_box_reg").asDouble(), within(1e-4));
            assertThat((double) l.classifier().getFloat()).as("classifier").isCloseTo(expected.get("loss_classifier").asDouble(), within(1e-4));
            assertThat((double) l.boxRegression().getFloat()).as("box").isCloseTo(expected.get("loss_box_reg").asDouble(), within(1e-4));
        }
    }
}
