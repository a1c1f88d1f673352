package org.frcnn4j.train;

import java.util.List;
import org.frcnn4j.head.HeadTraining;
import org.frcnn4j.model.Presets;
import org.frcnn4j.rpn.RpnTraining;
import org.frcnn4j.rpn.RpnTraining.Normalization;
import org.frcnn4j.train.TrainConfig.Decay;
import org.frcnn4j.train.TrainConfig.Schedule;
import org.frcnn4j.train.TrainConfig.Solver;

/** The training settings that go with each model preset ({@link Presets}). */
public final class TrainPresets {
    private TrainPresets() {}

    public static TrainConfig of(Presets preset) {
        return switch (preset) {
            case PAPER_VGG16 -> paper(List.of("backbone.0.", "backbone.2.", "backbone.5.", "backbone.7."));
            case PAPER_ZF -> paper(List.of());
            case TORCHVISION -> new TrainConfig(Schedule.JOINT, new int[] {26000}, 2, true, 0,
                    new Solver(0.02, 0.9, 1e-4, 1.0, Decay.STEP, new double[] {16.0 / 26, 22.0 / 26}, 0.1, 1000, 0.001, 0),
                    new RpnTraining(256, 0.5f, 0.7f, 0.3f, false, Normalization.SAMPLED, 1f, 1f / 9),
                    new HeadTraining(512, 0.25f, 0.5f, 0.0f, 1f, 1f / 9),
                    List.of(), 1000, 0, new int[0]);
            case SMALL -> cpu(SMALL_SCALES, 128);
            case TINY -> cpu(new int[0], 256);
            case RESNET50_FPN, RESNET50_FPN_V2 -> torchvisionReference(List.of("backbone.body.conv1.",
                    "backbone.body.bn1.", "backbone.body.layer1."));
            case MOBILENET_V3_LARGE_FPN, MOBILENET_V3_LARGE_320_FPN -> torchvisionReference(List.of("backbone.body.0.",
                    "backbone.body.1.", "backbone.body.2.", "backbone.body.3.", "backbone.body.4.", "backbone.body.5.",
                    "backbone.body.6."));
        };
    }

    /**
     * py-faster-rcnn's end-to-end solver for VOC (70k iterations, lr 0.001 dropped 10x at 50k, momentum 0.9, weight
     * decay 5e-4, biases at twice the lr without decay), its targets (background IoU [0, 0.5) in joint training), and
     * the paper's loss normalisation (lambda 10, N_reg = anchor locations).
     */
    private static TrainConfig paper(List<String> frozen) {
        return new TrainConfig(Schedule.JOINT, new int[] {70000}, 1, true, 0,
                new Solver(0.001, 0.9, 5e-4, 2.0, Decay.STEP, new double[] {50.0 / 70}, 0.1, 0, 1.0, 0),
                new RpnTraining(256, 0.5f, 0.7f, 0.3f, true, Normalization.PAPER, 10f, 1f),
                new HeadTraining(128, 0.25f, 0.5f, 0.0f, 1f, 1f),
                frozen, 10000, 0, new int[0]);
    }

    /**
     * torchvision's detection reference recipe (references/detection: SGD lr 0.02 for 2 images per step, momentum 0.9,
     * weight decay 1e-4, 1000-iteration linear warm-up from 0.001, x0.1 at 16/26 and 22/26 of the schedule), its
     * samplers (256 anchors, 512 RoIs) and losses, with torchvision's default trainable backbone layers: 3 of ResNet's
     * 5 (conv1 and layer1 fixed), 3 of MobileNetV3's 6 stages (features 0-6 fixed).
     */
    private static TrainConfig torchvisionReference(List<String> frozen) {
        return new TrainConfig(Schedule.JOINT, new int[] {26000}, 2, true, 0,
                new Solver(0.02, 0.9, 1e-4, 1.0, Decay.STEP, new double[] {16.0 / 26, 22.0 / 26}, 0.1, 1000, 0.001, 0),
                new RpnTraining(256, 0.5f, 0.7f, 0.3f, false, Normalization.SAMPLED, 1f, 1f / 9),
                new HeadTraining(512, 0.25f, 0.5f, 0.0f, 1f, 1f / 9),
                frozen, 1000, 0, new int[0]);
    }

    /**
     * From-scratch CPU training (the demo): warm-up then cosine, two images per iteration, torchvision's losses.
     * {@code small} samples 128 RoIs per image (py-faster-rcnn's number): on raccoon's one class, 256 only doubled the
     * head's work (see DemoCommand for what the demo's recipe was measured at).
     */
    private static TrainConfig cpu(int[] trainScales, int roisPerImage) {
        return new TrainConfig(Schedule.JOINT, new int[] {1000}, 2, true, 0,
                new Solver(0.02, 0.9, 1e-4, 1.0, Decay.COSINE, new double[0], 0.1, 100, 0.001, 10.0),
                new RpnTraining(256, 0.5f, 0.7f, 0.3f, false, Normalization.SAMPLED, 1f, 1f / 9),
                new HeadTraining(roisPerImage, 0.25f, 0.5f, 0.0f, 1f, 1f / 9),
                List.of(), 200, 0, trainScales);
    }

    /**
     * The CPU presets' training scales around their 320-pixel input (max side 640 as at test): 160 images are few,
     * and seeing each at several sizes (Fast R-CNN's multi-scale training) is the cheapest regulariser.
     */
    static final int[] SMALL_SCALES = {256, 288, 320, 352, 384};
}
