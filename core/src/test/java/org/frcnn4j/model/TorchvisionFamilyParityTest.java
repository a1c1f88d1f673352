package org.frcnn4j.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.frcnn4j.model.TorchvisionParityTest.assertSameSet;
import static org.frcnn4j.model.TorchvisionParityTest.expected;
import static org.frcnn4j.model.TorchvisionParityTest.fixture;
import static org.frcnn4j.model.TorchvisionParityTest.relativeError;
import static org.frcnn4j.model.TorchvisionParityTest.rows;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import org.frcnn4j.data.Images;
import org.frcnn4j.head.DetectionPostprocessor;
import org.frcnn4j.roi.RoiConfig.RoiOp;
import org.frcnn4j.rpn.ProposalGenerator;
import org.frcnn4j.transform.ImageTransform;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * torchvision's Faster R-CNN family, imported from the .pth files torchvision wrote (reduced variants of the same
 * classes, tools/torchvision/make_fpn_fixtures.py): every stage equals torchvision 0.14's: the resized input, every
 * pyramid level, the RPN's logits and deltas on every level's anchors, the proposals (per-level top N, batched NMS,
 * the 320 model's score threshold), the head's outputs for them (MultiScaleRoIAlign's level mapping, TwoMLPHead or the
 * v2 conv head) and the detections.
 */
@Tag("numerics")
class TorchvisionFamilyParityTest {
    static TorchvisionImport.Options options(Path dir) throws IOException {
        JsonNode f = new ObjectMapper().readTree(dir.resolve("flags.json").toFile());
        TorchvisionImport.Arch arch = TorchvisionImport.Arch.byId(f.get("arch").asText());
        var o = TorchvisionImport.Options.defaults(arch, RoiOp.ALIGN, f.get("num_classes").asInt());
        return new TorchvisionImport.Options(arch, RoiOp.ALIGN, o.numClasses(), f.path("min_size").asInt(o.minSize()),
                f.path("max_size").asInt(o.maxSize()), o.rpnPreNmsTopNTest(), o.rpnPostNmsTopNTest(), o.rpnNmsThresh(),
                o.rpnScoreThresh(), (float) f.path("box_score_thresh").asDouble(o.boxScoreThresh()), o.boxNmsThresh(),
                o.boxDetectionsPerImg(), f.path("width_mult").asDouble(1.0), o.bnEps());
    }

    @ParameterizedTest
    @ValueSource(strings = {"resnet50_fpn", "resnet50_fpn_v2", "mobilenet_v3_large_fpn", "mobilenet_v3_large_320_fpn"})
    void everyStageMatchesTorchvision(String variant) throws IOException {
        Path dir = fixture(variant);
        try (NDManager m = NDManager.newBaseManager();
             FasterRcnn model = TorchvisionImport.importWeights(dir.resolve("model.pth"), options(dir), m)) {
            Map<String, float[]> e = expected(dir, m);
            BufferedImage img = Images.readRgb(dir.resolve("image.png"));
            ImageTransform.Transformed t = TorchvisionParityTest.checkedInput(model, img, e, m);

            FasterRcnn.Forward f = model.forward(t);
            for (int l = 0; l < f.features().levels(); l++) {
                String name = f.features().names().get(l);
                assertThat(relativeError(f.features().get(l).toFloatArray(), e.get("level_" + name)))
                        .as("level " + name).isLessThan(1e-4);
            }
            assertThat(relativeError(f.rpn().raw().logits().toFloatArray(), e.get("rpn_logits"))).as("rpn logits").isLessThan(1e-4);
            assertThat(relativeError(f.rpn().raw().deltas().toFloatArray(), e.get("rpn_deltas"))).as("rpn deltas").isLessThan(1e-4);

            ProposalGenerator.Proposals p = f.rpn().proposals();
            int[] match = assertSameSet("proposals", p.boxes(), p.scores(), null, e.get("proposals"),
                    e.get("proposal_scores"), null);
            assertThat(relativeError(rows(f.head().classLogits().toFloatArray(), match), e.get("class_logits")))
                    .as("class logits").isLessThan(1e-4);
            assertThat(relativeError(rows(f.head().boxDeltas().toFloatArray(), match), e.get("box_regression")))
                    .as("box deltas").isLessThan(1e-4);

            DetectionPostprocessor.Result d = model.detect(img);
            float[] labels = new float[d.count()];
            for (int i = 0; i < labels.length; i++) {
                labels[i] = d.labels()[i];
            }
            assertSameSet("detections", d.boxes(), d.scores(), labels, e.get("det_boxes"), e.get("det_scores"),
                    e.get("det_labels"));
        }
    }

    /** torchvision's COCO_V1 categories: label i is COCO category i, the unused ids named "N/A" (its _meta list). */
    @org.junit.jupiter.api.Test
    void cocoCategoriesAreTorchvisionsLabelOrder() {
        java.util.List<String> names = TorchvisionImport.cocoCategories();
        assertThat(names).hasSize(90);
        assertThat(names.get(0)).isEqualTo("person");
        assertThat(names.get(17)).isEqualTo("dog"); // COCO category 18
        assertThat(names.get(89)).isEqualTo("toothbrush"); // COCO category 90
        java.util.List<Integer> unused = new java.util.ArrayList<>();
        for (int i = 0; i < names.size(); i++) {
            if (names.get(i).equals("N/A")) {
                unused.add(i + 1);
            }
        }
        assertThat(unused).containsExactly(12, 26, 29, 30, 45, 66, 68, 69, 71, 83);
    }
}
