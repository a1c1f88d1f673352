package org.frcnn4j.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.frcnn4j.data.Annotation;
import org.frcnn4j.data.ClassList;
import org.frcnn4j.data.Dataset;
import org.frcnn4j.data.DatasetException;
import org.frcnn4j.data.Detection;
import org.frcnn4j.data.GroundTruthBox;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Results files that hold no boxes, or no numbers, are refused naming the file and the entry; odd but usable ones are read. */
class DetectionFilesTest {
    /** One image 'a' (100 x 80) with a cat. */
    static Dataset gt(Dataset.Format format) {
        return new Dataset(format, ClassList.of(List.of("cat")), List.of(new Annotation("a", Path.of("a.jpg"), 100, 80,
                List.of(new GroundTruthBox(0, 10, 10, 50, 50, false, false, 41 * 41)))), List.of());
    }

    static final Dataset GT = gt(Dataset.Format.VOC);

    @Test
    void cocoResultsWithoutABoxOrANumberAreRefused(@TempDir Path tmp) throws IOException {
        Path f = tmp.resolve("dets.json");
        Map<String, String> refused = Map.of(
                "\"bbox\": [10, 10, -3, 5], \"score\": 0.9", "bbox [10.0, 10.0, -3.0, 5.0] has a negative width or height",
                "\"bbox\": [10, 10, 5, -1], \"score\": 0.9", "bbox [10.0, 10.0, 5.0, -1.0] has a negative width or height",
                "\"bbox\": [\"ten\", 10, 5, 5], \"score\": 0.9", "needs bbox [x, y, w, h] numbers and a numeric score",
                "\"bbox\": [10, 10, 5, 1e999], \"score\": 0.9", "a coordinate is Infinity, not a finite number",
                "\"bbox\": [10, 10, 5, 5], \"score\": -1e999", "the score is -Infinity, not a finite number");
        for (Map.Entry<String, String> c : refused.entrySet()) {
            Files.writeString(f, "[" + result("1", "0.5") + ", {\"image_id\": \"a\", \"category_id\": 1, " + c.getKey() + "}]");
            assertThatThrownBy(() -> DetectionFiles.read(f, GT)).as(c.getKey()).isInstanceOf(DatasetException.class)
                    .hasMessage(f + ": result 1 (image_id a): " + c.getValue());
        }
        // w = 0 is one pixel wide in a VOC dataset's inclusive corners (a 1-pixel strip's box), no box in COCO's
        Files.writeString(f, "[{\"image_id\": \"a\", \"category_id\": 1, \"bbox\": [10, 10, 0, 5], \"score\": 0.9}]");
        assertThat(DetectionFiles.read(f, GT)).extracting(d -> d.x2() - d.x1()).containsExactly(0.0);
        for (String box : List.of("[10, 10, 0, 5]", "[10, 10, 5, 0]")) {
            Files.writeString(f, "[{\"image_id\": \"a\", \"category_id\": 1, \"bbox\": " + box + ", \"score\": 0.9}]");
            assertThatThrownBy(() -> DetectionFiles.read(f, gt(Dataset.Format.COCO))).isInstanceOf(DatasetException.class)
                    .hasMessageStartingWith(f + ": result 0 (image_id a): bbox [10.0, 10.0, ")
                    .hasMessageEndingWith("] has a zero width or height");
        }
        Files.writeString(f, "[{\"image_id\": \"a\", \"category_id\": 1.7, \"bbox\": [10, 10, 5, 5], \"score\": 0.9}]");
        assertThatThrownBy(() -> DetectionFiles.read(f, GT)).hasMessage(f + ": result 0 (image_id a): unknown category id 1.7");
        // scores are ranks, not probabilities: logits above 1 and SVM margins below 0 are read as they are
        Files.writeString(f, "[" + result("1", "7.5") + ", " + result("1", "-0.25") + "]");
        assertThat(DetectionFiles.read(f, GT)).extracting(Detection::score).containsExactly(7.5, -0.25);
    }

    @Test
    void vocResultsWithInvertedBoxesOrNoNumbersAreRefused(@TempDir Path tmp) throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("results"));
        Path f = dir.resolve("comp4_det_test_cat.txt");
        Map<String, String> refused = Map.of(
                "a 0.9 50 10 40 60", "box [50, 10, 40, 60] is inverted (x2 < x1 or y2 < y1)",
                "a 0.9 10 50 40 20", "box [10, 50, 40, 20] is inverted (x2 < x1 or y2 < y1)",
                "a NaN 10 10 40 60", "the score is NaN, not a finite number",
                "a 0.9 10 10 Infinity 60", "a coordinate is Infinity, not a finite number");
        for (Map.Entry<String, String> c : refused.entrySet()) {
            Files.write(f, List.of("a 0.5 11 11 51 51", c.getKey()));
            assertThatThrownBy(() -> DetectionFiles.read(dir, GT)).as(c.getKey()).isInstanceOf(DatasetException.class)
                    .hasMessage(f + ": line 2 (image 'a'): " + c.getValue());
        }
        // Java's number syntax is no results file's: 0.9f is not a score
        Files.write(f, List.of("a 0.5 11 11 51 51", "a 0.9f 10 10 40 60"));
        assertThatThrownBy(() -> DetectionFiles.read(dir, GT)).hasMessage(f + ": line 2: not a number in 'a 0.9f 10 10 40 60'");
        // a devkit box is inclusive pixels: x1 == x2 is one pixel wide; a negative score ranks like any other
        Files.write(f, List.of("a 0.5 11 11 11 51", "a -1.5 11 11 51 51"));
        assertThat(DetectionFiles.read(dir, GT)).extracting(d -> d.x1() + " " + d.x2() + " " + d.score())
                .containsExactly("10.0 10.0 0.5", "10.0 50.0 -1.5");
    }

    @Test
    void resultsOfAnImageTheGroundTruthLeftOutAreSkippedOthersRefused(@TempDir Path tmp) throws IOException {
        for (Dataset.Format format : Dataset.Format.values()) {
            Dataset gt = new Dataset(format, GT.classes(), GT.images(), List.of(), java.util.Set.of("b"));
            Path f = tmp.resolve("dets.json");
            Files.writeString(f, "[" + result("1", "0.5") + ", " + result("1", "0.6").replace("\"a\"", "\"b\"") + "]");
            assertThat(DetectionFiles.read(f, gt)).extracting(Detection::imageId).containsExactly("a");
            Files.writeString(f, "[" + result("1", "0.6").replace("\"a\"", "\"z\"") + "]");
            assertThatThrownBy(() -> DetectionFiles.read(f, gt)).hasMessage(f + ": result 0: image_id z is not in the ground truth");
            // a left-out image's result is skipped, not excused: it must still be a box
            Files.writeString(f, "[{\"image_id\": \"b\", \"category_id\": 1, \"bbox\": [1, 1, -1, 1], \"score\": 1}]");
            assertThatThrownBy(() -> DetectionFiles.read(f, gt)).hasMessageContaining("result 0 (image_id b): bbox");

            Path dir = Files.createDirectories(tmp.resolve("results-" + format));
            Path txt = Files.write(dir.resolve("comp4_det_test_cat.txt"), List.of("a 0.5 11 11 51 51", "b 0.6 11 11 51 51"));
            assertThat(DetectionFiles.read(dir, gt)).extracting(Detection::imageId).containsExactly("a");
            Files.write(txt, List.of("z 0.5 11 11 51 51"));
            assertThatThrownBy(() -> DetectionFiles.read(dir, gt)).hasMessage(txt + ": line 1: image id 'z' is not in the ground truth");
            Files.write(txt, List.of("b 0.5 51 11 11 51"));
            assertThatThrownBy(() -> DetectionFiles.read(dir, gt)).hasMessageContaining("line 1 (image 'b'): box [51, 11, 11, 51] is inverted");
        }
    }

    private static String result(String category, String score) {
        return "{\"image_id\": \"a\", \"category_id\": " + category + ", \"bbox\": [10, 10, 40, 40], \"score\": " + score + "}";
    }
}
