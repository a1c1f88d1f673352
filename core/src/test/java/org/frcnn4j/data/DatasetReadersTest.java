package org.frcnn4j.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.frcnn4j.testing.SharedData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DatasetReadersTest {
    @Test
    void raccoonBundled() {
        Path root = SharedData.bundled("raccoon");
        Dataset all = Dataset.open(root, null, null);
        assertThat(all.images()).hasSize(200);
        assertThat(all.objectCount()).isEqualTo(217);
        assertThat(all.problems()).isEmpty();
        assertThat(all.classes().names()).containsExactly("raccoon");
        assertThat(Dataset.open(root, "train", null).images()).hasSize(160);
        Dataset test = Dataset.open(root, "test", null);
        assertThat(test.images()).hasSize(40);
        assertThat(test.objectCount()).isEqualTo(44);
    }

    @Test
    void vocCoordinatesBecomeZeroBased() {
        Dataset d = Dataset.open(SharedData.bundled("raccoon"), null, null);
        Annotation a = d.images().stream().filter(x -> x.imageId().equals("raccoon-1")).findFirst().orElseThrow();
        // raccoon-1.xml: <xmin>81</xmin><ymin>88</ymin><xmax>522</xmax><ymax>408</ymax>, 650x417
        GroundTruthBox b = a.objects().get(0);
        assertThat(new double[] {b.x1(), b.y1(), b.x2(), b.y2()}).containsExactly(80, 87, 521, 407);
        assertThat(a.width()).isEqualTo(650);
        assertThat(a.height()).isEqualTo(417);
    }

    @Test
    void vocMini100WithDifficultFlags() {
        Dataset d = Dataset.open(SharedData.bundled("voc-mini100"), "all", null);
        assertThat(d.images()).hasSize(100);
        assertThat(d.objectCount()).isEqualTo(273);
        assertThat(d.images().stream().flatMap(a -> a.objects().stream()).filter(GroundTruthBox::difficult).count())
                .isEqualTo(38);
        assertThat(d.classes().size()).isEqualTo(20);
        assertThat(d.classes().name(0)).isEqualTo("aeroplane"); // voc.names order
        assertThat(d.classes().categoryId(14)).isEqualTo(15);
    }

    @Test
    void coco128WhenShared() {
        Path coco = SharedData.shared("coco128");
        assumeTrue(coco != null, "../shared/data/coco128 is not here");
        Dataset d = Dataset.open(coco, null, null);
        assertThat(d.images()).hasSize(128);
        assertThat(d.objectCount()).isEqualTo(939);
        assertThat(d.images().stream().flatMap(a -> a.objects().stream()).filter(GroundTruthBox::crowd).count())
                .isEqualTo(10);
        assertThat(d.classes().size()).isEqualTo(80);
        assertThat(d.classes().categoryId(79)).isEqualTo(90); // ids 1..90 with gaps map to labels 0..79
        assertThat(d.images().get(0).imageFile()).exists();
        assertThat(d.problems()).isEmpty();
    }

    @Test
    void grayscaleImagesLoadAsRgb() {
        BufferedImage img = Images.readRgb(SharedData.bundled("raccoon").resolve("JPEGImages/raccoon-150.jpg"));
        assertThat(img.getType()).isEqualTo(BufferedImage.TYPE_INT_RGB);
    }

    @Test
    void badInputIsReportedWithItsFile(@TempDir Path tmp) throws IOException {
        Path root = tmp.resolve("bad");
        Files.createDirectories(root.resolve("Annotations"));
        Files.createDirectories(root.resolve("JPEGImages"));
        Files.writeString(root.resolve("classes.txt"), "cat\ndog\n");
        ImageIO.write(new BufferedImage(50, 40, BufferedImage.TYPE_INT_RGB), "jpg", root.resolve("JPEGImages/a.jpg").toFile());
        Files.writeString(root.resolve("JPEGImages/c.jpg"), "not a jpeg");
        Files.writeString(root.resolve("Annotations/a.xml"), xml(60, 40,
                obj("cat", 1, 1, 10, 10) + obj("horse", 1, 1, 10, 10) + obj("dog", 20, 5, 10, 30)
                        + obj("dog", 5, 5, 5, 9) + obj("cat", 30, 30, 70, 39)));
        Files.writeString(root.resolve("Annotations/b.xml"), xml(30, 30, "")); // no image, no objects
        Files.writeString(root.resolve("Annotations/c.xml"), xml(30, 30, ""));
        Dataset d = Dataset.open(root, null, null);
        assertThat(d.images()).hasSize(3);
        assertThat(d.objectCount()).isEqualTo(1);
        List<String> problems = d.problems().stream().map(Problem::toString).toList();
        assertThat(problems).hasSize(4).allMatch(p -> p.startsWith(root.resolve("Annotations/a.xml").toString()));
        assertThat(problems.get(0)).contains("unknown class 'horse'");
        assertThat(problems.get(1)).contains("negative size");
        assertThat(problems.get(2)).contains("zero size");
        assertThat(problems.get(3)).contains("outside the 60x40 image");

        DatasetCheck check = DatasetCheck.run(d, true);
        List<String> all = check.problems().stream().map(Problem::toString).toList();
        assertThat(all).anyMatch(p -> p.contains("a.jpg") && p.contains("annotated size 60x40 disagrees with the image's 50x40"));
        assertThat(all).anyMatch(p -> p.contains("b.jpg") && p.contains("missing"));
        assertThat(all).anyMatch(p -> p.contains("c.jpg") && p.contains("cannot decode"));
        assertThat(check.negativeImages()).isEqualTo(2);

        Files.writeString(root.resolve("Annotations/b.xml"), "<annotation><size>");
        assertThatThrownBy(() -> Dataset.open(root, null, null)).isInstanceOf(DatasetException.class)
                .hasMessageStartingWith(root.resolve("Annotations/b.xml").toString()).hasMessageContaining("malformed XML");
        assertThatThrownBy(() -> Dataset.open(root, "val", null)).hasMessageContaining("no such split 'val'");
    }

    @Test
    void malformedCocoJson(@TempDir Path tmp) throws IOException {
        Path json = tmp.resolve("instances_x.json");
        Files.writeString(json, "{\"images\": [");
        assertThatThrownBy(() -> Dataset.open(json, null, null)).isInstanceOf(DatasetException.class)
                .hasMessageStartingWith(json.toString()).hasMessageContaining("malformed JSON");
        Files.writeString(json, "{\"images\": []}");
        assertThatThrownBy(() -> Dataset.open(json, null, null)).hasMessageContaining("no 'annotations' array");
    }

    static String xml(int w, int h, String objects) {
        return "<annotation><size><width>" + w + "</width><height>" + h + "</height><depth>3</depth></size>"
                + objects + "</annotation>";
    }

    static String obj(String name, int x1, int y1, int x2, int y2) {
        return "<object><name>" + name + "</name><difficult>0</difficult><bndbox><xmin>" + x1 + "</xmin><ymin>" + y1
                + "</ymin><xmax>" + x2 + "</xmax><ymax>" + y2 + "</ymax></bndbox></object>";
    }
}
