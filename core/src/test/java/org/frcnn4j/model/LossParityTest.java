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
@org.junit.jupiter.api.Tag("numerics")
class LossParityTest {
    @Test
    void fourLossesMatchTorchvision() throws Exception {
        Path dir = TorchvisionParityTest.fixture("vgg16-align");
        JsonNode expected = new ObjectMapper().readTree(dir.resolve("losses.json").toFile());
        float[] gt = gtBoxes(expected);
        int[] labels = gtLabels(expected);
        TrainConfig all = takingEveryCandidate(TrainPresets.of(Presets.TORCHVISION));
        try (NDManager m = NDManager.newBaseManager();
             FasterRcnn model = TorchvisionImport.importNpz(dir.resolve("state_dict.npz"), TorchvisionParityTest.options(dir), m)) {
            ImageTransform.Transformed t = model.transform().apply(Images.readRgb(dir.resolve("image.png")), m);
            FasterRcnn.Losses l = model.trainingForward(t, t.toInput(gt), labels, null, all.training(), FasterRcnn.Train.BOTH, new Random(0));
            assertThat((double) l.rpnObjectness().getFloat()).as("objectness").isCloseTo(expected.get("loss_objectness").asDouble(), within(1e-4));
            assertThat((double) l.rpnBox().getFloat()).as("rpn box").isCloseTo(expected.get("loss_rpn_box_reg").asDouble(), within(1e-4));
            assertThat((double) l.classifier().getFloat()).as("classifier").isCloseTo(expected.get("loss_classifier").asDouble(), within(1e-4));
            assertThat((double) l.boxRegression().getFloat()).as("box").isCloseTo(expected.get("loss_box_reg").asDouble(), within(1e-4));
        }
    }

    /**
     * The backward pass equals torchvision's: the gradient of the four losses' sum for every parameter (backbone
     * through the RoI op's and the RPN's two paths, RPN, head) has torchvision's norm, sum and first values.
     */
    @Test
    void gradientsMatchTorchvision() throws Exception {
        // torchvision's arithmetic on these CPUs is oneDNN's direct convolution: the same here, at the tight bound
        boolean winograd = org.frcnn4j.nn.EngineFacts.setWinogradConvolutions(false);
        try {
            checkGradients(2e-3);
        } finally {
            org.frcnn4j.nn.EngineFacts.setWinogradConvolutions(winograd);
        }
    }

    /**
     * With the forward pass's 3x3 convolutions by Winograd's transform (this project's default where oneDNN has only AVX2
     * kernels) the gradients are the engine's own of slightly different activations: rounding near 1e-5 of the range,
     * amplified where it moves a ReLU or a max pool's choice. Measured: the largest difference 3.1e-3 of the gradient's
     * norm (conv1's bias, a sum with cancellation), all others within 2e-3.
     */
    @Test
    void gradientsThroughWinogradsForwardPassStayWithinHalfAPercentOfTorchvisions() throws Exception {
        // NNPACK's route, whose forward pass training uses (the AVX-512 route of oneDNN's products is for inference only)
        org.junit.jupiter.api.Assumptions.assumeTrue(org.frcnn4j.nn.ScriptedOps.nnpackAvailable()
                && org.frcnn4j.nn.EngineFacts.winogradRoute() instanceof org.frcnn4j.nn.ConvRoute.Winograd, "no NNPACK route here");
        boolean winograd = org.frcnn4j.nn.EngineFacts.setWinogradConvolutions(true);
        try {
            checkGradients(5e-3);
        } finally {
            org.frcnn4j.nn.EngineFacts.setWinogradConvolutions(winograd);
        }
    }

    /**
     * With VGG-16's backbone trained by its hand-written backward pass ({@link org.frcnn4j.nn.ChainTape}, what the trainer
     * runs): torchvision's gradients for every parameter, at the bound of the recorded pass. On this reduced-width model
     * no layer is wide enough for the Winograd route, so this is the backward pass's own arithmetic: the engine's
     * backward kernels, ReLU and pool gradients, the accumulation into the parameters.
     */
    @Test
    void gradientsByTheHandWrittenBackwardPassMatchTorchvision() throws Exception {
        boolean winograd = org.frcnn4j.nn.EngineFacts.setWinogradConvolutions(false);
        try {
            checkGradients(2e-3, true);
        } finally {
            org.frcnn4j.nn.EngineFacts.setWinogradConvolutions(winograd);
        }
    }

    void checkGradients(double tolerance) throws Exception {
        checkGradients(tolerance, false);
    }

    void checkGradients(double tolerance, boolean byHand) throws Exception {
        Path dir = TorchvisionParityTest.fixture("vgg16-align");
        JsonNode expected = new ObjectMapper().readTree(dir.resolve("losses.json").toFile());
        JsonNode gradients = new ObjectMapper().readTree(dir.resolve("gradients.json").toFile());
        float[] gt = gtBoxes(expected);
        int[] labels = gtLabels(expected);
        TrainConfig all = takingEveryCandidate(TrainPresets.of(Presets.TORCHVISION));
        try (NDManager m = NDManager.newBaseManager();
             FasterRcnn model = TorchvisionImport.importNpz(dir.resolve("state_dict.npz"), TorchvisionParityTest.options(dir), m)) {
            model.parameters().all().values().forEach(a -> a.setRequiresGradient(true));
            ImageTransform.Transformed t = model.transform().apply(Images.readRgb(dir.resolve("image.png")), m);
            try (ai.djl.training.GradientCollector gc = ai.djl.engine.Engine.getInstance().newGradientCollector();
                 org.frcnn4j.nn.HandBackward.Scope hand = byHand ? org.frcnn4j.nn.HandBackward.open() : null) {
                FasterRcnn.Losses l = model.trainingForward(t, t.toInput(gt), labels, null, all.training(), FasterRcnn.Train.BOTH, new Random(0));
                gc.backward(l.total());
                if (hand != null) {
                    hand.backward();
                }
            }
            java.util.Iterator<String> names = gradients.fieldNames();
            int checked = 0;
            while (names.hasNext()) {
                String tvName = names.next();
                JsonNode g = gradients.get(tvName);
                String name = TorchvisionImport.rename(tvName);
                assertThat(model.parameters().all()).as("parameters").containsKey(name);
                float[] ours = model.parameters().all().get(name).getGradient().toFloatArray();
                double norm = 0;
                double sum = 0;
                for (float v : ours) {
                    norm += (double) v * v;
                    sum += v;
                }
                double scale = g.get("norm").asDouble();
                assertThat(Math.sqrt(norm)).as(name + " gradient norm").isCloseTo(scale, within(tolerance * scale + 1e-6));
                assertThat(sum).as(name + " gradient sum").isCloseTo(g.get("sum").asDouble(), within(tolerance * scale + 1e-6));
                for (int i = 0; i < g.get("first").size(); i++) {
                    assertThat((double) ours[i]).as(name + " gradient [" + i + "]")
                            .isCloseTo(g.get("first").get(i).asDouble(), within(tolerance * scale + 1e-6));
                }
                checked++;
            }
            assertThat(checked).isEqualTo(model.parameters().all().size());
        }
    }

    /**
     * The settings with samplers so large that they take every positive and negative anchor and RoI: a sample that
     * needs no random draw, so both implementations train on the same one (the fixtures' samplers do the same).
     */
    static TrainConfig takingEveryCandidate(TrainConfig c) {
        return c.withTraining(c.rpn().withSampling(1_000_000, 0.5f), c.head().withSampling(1_000_000, 0.25f));
    }

    private static float[] gtBoxes(JsonNode fixture) {
        JsonNode boxes = fixture.get("gt_boxes");
        float[] out = new float[4 * boxes.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) boxes.get(i / 4).get(i % 4).asDouble();
        }
        return out;
    }

    private static int[] gtLabels(JsonNode fixture) {
        int[] out = new int[fixture.get("gt_labels").size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = fixture.get("gt_labels").get(i).asInt();
        }
        return out;
    }
}
