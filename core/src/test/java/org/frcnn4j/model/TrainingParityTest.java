package org.frcnn4j.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.frcnn4j.data.Annotation;
import org.frcnn4j.data.Dataset;
import org.frcnn4j.data.Images;
import org.frcnn4j.testing.GroundTruth;
import org.frcnn4j.testing.SharedData;
import org.frcnn4j.train.Sgd;
import org.frcnn4j.train.TrainConfig;
import org.frcnn4j.train.TrainPresets;
import org.frcnn4j.transform.ImageTransform;
import org.junit.jupiter.api.Test;

/**
 * Several SGD steps of the `tiny` architecture (ZF with GroupNorm), and of a reduced ResNet-50-FPN, from
 * torchvision's starting weights give
 * torchvision's losses at every step: forward, backward and the optimizer (momentum, decay of weights only, gradient
 * clipping) agree over a run, not only on one pass. Samplers take every candidate, so nothing is random (fixture:
 * tools/torchvision/make_training_fixture.py).
 */
@org.junit.jupiter.api.Tag("numerics")
class TrainingParityTest {
    @Test
    void stepsOfSgdFollowTorchvisionsLosses() throws Exception {
        Path dir = TorchvisionParityTest.fixture("training");
        Dataset data = Dataset.open(SharedData.bundled("raccoon"), "train", null);
        try (NDManager m = NDManager.newBaseManager()) {
            FasterRcnn model;
            try (InputStream in = Files.newInputStream(dir.resolve("state_dict.npz")); NDManager tmp = m.newSubManager()) {
                Map<String, NDArray> weights = ModelFiles.named(NDList.decode(tmp, in), dir);
                model = ModelFiles.build(Presets.TINY.config(data.classes().names()), weights, m, dir);
            }
            try (model) {
                assertThat(followLosses(model, dir, data, TrainPresets.of(Presets.TINY), m)).isEqualTo(8);
            }
        }
    }

    /**
     * The same for a reduced fasterrcnn_resnet50_fpn imported from the .pth torchvision wrote (five pyramid levels,
     * per-level top N, MultiScaleRoIAlign, frozen batch norm; tools/torchvision/make_fpn_training_fixture.py).
     */
    @Test
    void resnetFpnStepsFollowTorchvisionsLosses() throws Exception {
        Path dir = TorchvisionParityTest.fixture("training_resnet50_fpn");
        Dataset data = Dataset.open(SharedData.bundled("raccoon"), "train", null);
        try (NDManager m = NDManager.newBaseManager();
             FasterRcnn model = TorchvisionImport.importWeights(dir.resolve("model.pth"),
                     TorchvisionFamilyParityTest.options(dir), m)) {
            assertThat(followLosses(model, dir, data, TrainPresets.of(Presets.RESNET50_FPN), m)).isEqualTo(6);
        }
    }

    /** Trains {@code model} step by step as the fixture's steps.json says and checks each step's losses. */
    private static int followLosses(FasterRcnn model, Path dir, Dataset data, TrainConfig preset, NDManager m)
            throws Exception {
        JsonNode fixture = new ObjectMapper().readTree(dir.resolve("steps.json").toFile());
        TrainConfig train = LossParityTest.takingEveryCandidate(preset)
                .withSolver(new TrainConfig.Solver(fixture.get("lr").asDouble(), fixture.get("momentum").asDouble(),
                        fixture.get("weight_decay").asDouble(), 1.0, TrainConfig.Decay.STEP, new double[0], 0.1, 0, 1.0,
                        fixture.get("clip").asDouble()));
        // what torchvision trains: its parameters, not FrozenBatchNorm2d's weight and bias (buffers there and here)
        List<String> names = model.parameters().all().keySet().stream()
                .filter(n -> !model.parameters().isBuffer(n)).toList();
        names.forEach(n -> model.parameters().all().get(n).setRequiresGradient(true));
        int step = 0;
        try (Sgd sgd = new Sgd(train.solver(), m)) {
            for (JsonNode expected : fixture.get("steps")) {
                Annotation a = find(data, expected.get("images").get(0).asText());
                try (NDManager scope = model.parameters().manager().newSubManager()) {
                    FasterRcnn.Losses l;
                    try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                        ImageTransform.Transformed t = model.transform().apply(Images.readRgb(a.imageFile()), scope);
                        l = model.trainingForward(t, t.toInput(GroundTruth.boxes(a)), GroundTruth.labels(a), null,
                                train.training(), FasterRcnn.Train.BOTH, new Random(0));
                        gc.backward(l.total());
                    }
                    String at = "step " + step + " ";
                    // float32 rounding differs a little between the two libraries and grows with each step
                    assertThat((double) l.rpnObjectness().getFloat()).as(at + "objectness")
                            .isCloseTo(expected.get("loss_objectness").asDouble(), within(2e-5));
                    assertThat((double) l.rpnBox().getFloat()).as(at + "rpn box")
                            .isCloseTo(expected.get("loss_rpn_box_reg").asDouble(), within(2e-5));
                    assertThat((double) l.classifier().getFloat()).as(at + "classifier")
                            .isCloseTo(expected.get("loss_classifier").asDouble(), within(2e-5));
                    assertThat((double) l.boxRegression().getFloat()).as(at + "box")
                            .isCloseTo(expected.get("loss_box_reg").asDouble(), within(2e-5));
                    sgd.step(model.parameters(), names, train.solver().baseLr());
                }
                step++;
            }
        }
        return step;
    }

    private static Annotation find(Dataset d, String id) {
        return d.images().stream().filter(a -> a.imageId().equals(id)).findFirst().orElseThrow();
    }
}
