package org.frcnn4j.model;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.frcnn4j.data.Images;
import org.frcnn4j.head.DetectionPostprocessor;
import org.frcnn4j.roi.RoiConfig.RoiOp;
import org.frcnn4j.rpn.ProposalGenerator;
import org.frcnn4j.testing.SharedData;
import org.frcnn4j.transform.ImageTransform;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The same weights and image through torchvision 0.14 (fixtures from tools/torchvision/make_fixtures.py) and through
 * frcnn4j: every stage must agree.
 */
@org.junit.jupiter.api.Tag("numerics")
class TorchvisionParityTest {
    static Path fixture(String variant) {
        return SharedData.repoRoot().resolve("core/src/test/resources/fixtures/torchvision").resolve(variant);
    }

    static TorchvisionImport.Options options(Path dir) throws IOException {
        JsonNode f = new ObjectMapper().readTree(dir.resolve("flags.json").toFile());
        var o = TorchvisionImport.Options.defaults(
                f.get("backbone").asText().equals("zf") ? TorchvisionImport.Arch.ZF : TorchvisionImport.Arch.VGG16,
                f.get("roi_op").asText().equals("pool") ? RoiOp.POOL : RoiOp.ALIGN,
                f.get("num_classes").asInt());
        return new TorchvisionImport.Options(o.arch(), o.roiOp(), o.numClasses(), f.get("min_size").asInt(),
                f.get("max_size").asInt(), o.rpnPreNmsTopNTest(), o.rpnPostNmsTopNTest(), o.rpnNmsThresh(),
                o.rpnScoreThresh(), o.boxScoreThresh(), o.boxNmsThresh(), o.boxDetectionsPerImg(), 1.0, 1e-5f);
    }

    static Map<String, float[]> expected(Path dir, NDManager m) throws IOException {
        Map<String, float[]> out = new HashMap<>();
        try (InputStream in = Files.newInputStream(dir.resolve("expected.npz"))) {
            for (NDArray a : NDList.decode(m, in)) {
                String name = a.getName().replace(".npy", "");
                out.put(name, a.toType(ai.djl.ndarray.types.DataType.FLOAT32, false).toFloatArray());
            }
        }
        return out;
    }

    /** Largest |a - b| relative to the largest |b|. */
    static double relativeError(float[] a, float[] b) {
        assertThat(a.length).isEqualTo(b.length);
        double maxDiff = 0;
        double maxRef = 1e-12;
        for (int i = 0; i < a.length; i++) {
            maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
            maxRef = Math.max(maxRef, Math.abs(b[i]));
        }
        return maxDiff / maxRef;
    }

    /**
     * Both lists hold the same boxes as sets: each expected box has its own actual box of the same label within
     * 0.01 px (every coordinate) and 1e-4 in score. Order may differ where scores tie to float precision.
     *
     * <p>One exception is allowed per 25 boxes: where two candidates score the same to 1e-5 and overlap (RoI max
     * pooling gives neighbouring proposals the very same features; random MobileNetV3 weights make plateaus of equal
     * features), NMS keeps whichever the last bit of a matrix product favours, which differs between GEMM
     * implementations. Such a box must be stood in for by an actual box of the same label and score that overlaps it
     * by IoU &gt; 0.5. torchvision itself, run again on the reduced MobileNetV3-FPN's fixture, finds one of its own 100
     * detections only so, and two with oneDNN's AVX2 kernels; frcnn4j found three there.
     */
    static int[] assertSameSet(String what, float[] boxes, float[] scores, float[] labels,
                              float[] expBoxes, float[] expScores, float[] expLabels) {
        assertThat(scores.length).as(what + ": count").isEqualTo(expScores.length);
        boolean[] used = new boolean[scores.length];
        int tieSwaps = 0;
        int[] match = new int[expScores.length];
        for (int i = 0; i < expScores.length; i++) {
            int found = find(boxes, scores, labels, expBoxes, expScores, expLabels, used, i, false);
            if (found < 0) {
                found = find(boxes, scores, labels, expBoxes, expScores, expLabels, used, i, true);
                tieSwaps++;
            }
            assertThat(found).as(what + ": torchvision's #" + i + " [" + expBoxes[4 * i] + ", " + expBoxes[4 * i + 1]
                    + ", " + expBoxes[4 * i + 2] + ", " + expBoxes[4 * i + 3] + "] score " + expScores[i]).isNotNegative();
            used[found] = true;
            match[i] = found;
        }
        assertThat(tieSwaps).as(what + ": boxes standing in for a tied twin").isLessThanOrEqualTo(expScores.length / 25);
        return match;
    }

    /** Rows {@code order[i]} of a row-major matrix with {@code order.length} rows, in that order. */
    static float[] rows(float[] m, int[] order) {
        int cols = m.length / order.length;
        float[] out = new float[m.length];
        for (int i = 0; i < order.length; i++) {
            System.arraycopy(m, order[i] * cols, out, i * cols, cols);
        }
        return out;
    }

    private static int find(float[] boxes, float[] scores, float[] labels, float[] expBoxes, float[] expScores,
                            float[] expLabels, boolean[] used, int i, boolean tieTwin) {
        for (int j = 0; j < scores.length; j++) {
            if (used[j] || (labels != null && labels[j] != expLabels[i])
                    || Math.abs(scores[j] - expScores[i]) > (tieTwin ? 1e-5 : 1e-4)) {
                continue;
            }
            if (tieTwin) {
                double iou = org.frcnn4j.box.Iou.of(boxes[4 * j], boxes[4 * j + 1], boxes[4 * j + 2], boxes[4 * j + 3],
                        expBoxes[4 * i], expBoxes[4 * i + 1], expBoxes[4 * i + 2], expBoxes[4 * i + 3], false);
                if (iou > 0.5) {
                    return j;
                }
                continue;
            }
            boolean close = true;
            for (int k = 0; k < 4; k++) {
                close &= Math.abs(boxes[4 * j + k] - expBoxes[4 * i + k]) < 0.01;
            }
            if (close) {
                return j;
            }
        }
        return -1;
    }

    static double maxAbsError(float[] a, float[] b) {
        assertThat(a.length).isEqualTo(b.length);
        double maxDiff = 0;
        for (int i = 0; i < a.length; i++) {
            maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
        }
        return maxDiff;
    }

    /** The fixture's image through the model's transform, which must give torchvision's size and pixels. */
    static ImageTransform.Transformed checkedInput(FasterRcnn model, BufferedImage img, Map<String, float[]> e, NDManager m) {
        ImageTransform.Transformed t = model.transform().apply(img, m);
        assertThat(new float[] {t.height(), t.width()}).containsExactly(e.get("resized_size"));
        assertThat(relativeError(t.tensor().toFloatArray(), e.get("input"))).as("input").isLessThan(1e-5);
        return t;
    }

    @ParameterizedTest
    @ValueSource(strings = {"vgg16-align", "zf-pool"})
    void everyStageMatchesTorchvision(String variant) throws IOException {
        Path dir = fixture(variant);
        try (NDManager m = NDManager.newBaseManager();
             FasterRcnn model = TorchvisionImport.importNpz(dir.resolve("state_dict.npz"), options(dir), m)) {
            Map<String, float[]> e = expected(dir, m);
            BufferedImage img = Images.readRgb(dir.resolve("image.png"));
            ImageTransform.Transformed t = checkedInput(model, img, e, m);

            FasterRcnn.Forward f = model.forward(t);
            assertThat(relativeError(f.features().get(0).toFloatArray(), e.get("features"))).as("features").isLessThan(1e-4);
            assertThat(relativeError(f.rpn().raw().logits().toFloatArray(), e.get("rpn_logits"))).as("rpn logits").isLessThan(1e-4);
            assertThat(relativeError(f.rpn().raw().deltas().toFloatArray(), e.get("rpn_deltas"))).as("rpn deltas").isLessThan(1e-4);

            ProposalGenerator.Proposals p = f.rpn().proposals();
            assertThat(p.count()).as("proposals").isEqualTo(e.get("proposal_scores").length);
            int[] match = assertSameSet("proposals", p.boxes(), p.scores(), null, e.get("proposals"), e.get("proposal_scores"), null);

            // the head's rows follow the proposals, whose order may differ where scores tie
            assertThat(relativeError(rows(f.head().classLogits().toFloatArray(), match), e.get("class_logits")))
                    .as("class logits").isLessThan(1e-4);
            assertThat(relativeError(rows(f.head().boxDeltas().toFloatArray(), match), e.get("box_regression")))
                    .as("box deltas").isLessThan(1e-4);

            DetectionPostprocessor.Result d = model.detect(img);
            assertThat(d.count()).as("detections").isEqualTo(e.get("det_scores").length);
            float[] labels = new float[d.count()];
            for (int i = 0; i < labels.length; i++) {
                labels[i] = d.labels()[i];
            }
            assertSameSet("detections", d.boxes(), d.scores(), labels, e.get("det_boxes"), e.get("det_scores"),
                    e.get("det_labels"));
        }
    }
}
