package org.frcnn4j.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

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
    void nullArgumentsAndEmptyClassNamesFromJavaAreOneLine() {
        Path root = SharedData.bundled("raccoon");
        assertThatThrownBy(() -> Dataset.open(null, null, null)).isInstanceOf(org.frcnn4j.io.BadInputException.class)
                .hasMessage("Dataset.open: the dataset path is null");
        assertThatThrownBy(() -> Dataset.open(root, "test", java.util.Arrays.asList("raccoon", null)))
                .isInstanceOf(org.frcnn4j.io.BadInputException.class).hasMessage("Dataset.open: class name 2 of 2 is null");
        assertThatThrownBy(() -> Dataset.open(root, "test", List.of(" ")))
                .isInstanceOf(org.frcnn4j.io.BadInputException.class).hasMessage("Dataset.open: class name 1 of 1 is empty");
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
    void cocoInstancesFile() {
        Dataset d = Dataset.open(SharedData.bundled("coco-mini"), null, null);
        assertThat(d.format()).isEqualTo(Dataset.Format.COCO);
        assertThat(d.images()).hasSize(8);
        assertThat(d.objectCount()).isEqualTo(54);
        assertThat(d.classes().size()).isEqualTo(80);
        assertThat(d.classes().categoryId(79)).isEqualTo(90); // ids 1..90 with gaps map to labels 0..79
        assertThat(d.classes().name(0)).isEqualTo("person");
        Annotation first = d.images().get(0);
        assertThat(first.imageId()).isEqualTo("30");
        assertThat(first.imageFile()).isEqualTo(SharedData.bundled("coco-mini").resolve("train2017/000000000030.jpg"));
        assertThat(first.imageFile()).exists();
        assertThat(d.problems()).isEmpty();
        // --classes on COCO keeps those categories, in that order, with their ids; other categories' boxes are problems
        Dataset two = Dataset.open(SharedData.bundled("coco-mini"), null, List.of("dog", "person"));
        assertThat(two.classes().names()).containsExactly("dog", "person");
        assertThat(two.classes().categoryIds()).containsExactly(18, 1);
        assertThat(two.problems()).isNotEmpty().allSatisfy(p -> assertThat(p.message()).contains("unknown or unselected category_id"));
    }

    @Test
    void grayscaleImagesLoadAsRgb() {
        BufferedImage img = Images.readRgb(SharedData.bundled("raccoon").resolve("JPEGImages/raccoon-150.jpg"));
        assertThat(img.getType()).isEqualTo(BufferedImage.TYPE_INT_RGB);
    }

    /** An empty VOC folder (Annotations, JPEGImages) with these lines as its classes.txt. */
    private static Path vocFolder(Path root, String classes) throws IOException {
        Files.createDirectories(root.resolve("Annotations"));
        Files.createDirectories(root.resolve("JPEGImages"));
        Files.writeString(root.resolve("classes.txt"), classes);
        return root;
    }

    @Test
    void badInputIsReportedWithItsFile(@TempDir Path tmp) throws IOException {
        Path root = vocFolder(tmp.resolve("bad"), "cat\ndog\n");
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
        assertThat(problems.get(0)).endsWith("unknown class 'horse' (classes: cat, dog)");
        assertThat(problems.get(1)).endsWith("box [20, 5, 10, 30] of 'dog' is inverted (max < min)");
        assertThat(problems.get(2)).endsWith("box [5, 5, 5, 9] of 'dog' has zero area");
        assertThat(problems.get(3)).contains("outside the 60x40 image");

        DatasetCheck check = DatasetCheck.run(d, true);
        List<String> all = check.problems().stream().map(Problem::toString).toList();
        assertThat(all).anyMatch(p -> p.contains("a.jpg") && p.contains("annotated size 60x40 disagrees with the image's 50x40"));
        assertThat(all).anyMatch(p -> p.contains("b.jpg") && p.contains("missing"));
        assertThat(all).anyMatch(p -> p.contains("c.jpg") && p.contains("not an image"));
        assertThat(check.negativeImages()).isEqualTo(2);

        // every broken file is a problem of its own, found in the same pass; the rest still loads
        Files.writeString(root.resolve("Annotations/b.xml"), "<annotation><size>");
        Files.writeString(root.resolve("Annotations/d.xml"), xml(30, 30, "<object><name>cat</name></object>"));
        Files.writeString(root.resolve("Annotations/e.xml"), xml(30, 30, obj("cat", 1, 1, 10, 10)
                .replace("<xmax>10</xmax>", "<xmax>ten</xmax>")));
        Files.writeString(root.resolve("Annotations/f.xml"), xml(30, 30, obj("cat", -3, 1, 10, 10)));
        Files.writeString(root.resolve("Annotations/g.xml"), "<annotation><object><name>cat</name></object></annotation>");
        Files.writeString(root.resolve("ImageSets.txt"), "");
        Dataset again = Dataset.open(root, null, null);
        assertThat(again.problems().stream().map(Problem::toString).toList()).containsSubsequence(
                root.resolve("Annotations/b.xml") + ": malformed XML at line 1: XML document structures must start and end within the same entity.",
                root.resolve("Annotations/d.xml") + ": object 1 ('cat') has no <bndbox>",
                root.resolve("Annotations/e.xml") + ": object 1 ('cat'): <xmax> is not a number: 'ten'",
                root.resolve("Annotations/f.xml") + ": box [-3, 1, 10, 10] of 'cat' has a negative coordinate",
                root.resolve("Annotations/g.xml") + ": no <size> and the image g.jpg cannot be read to tell");
        assertThat(again.images()).extracting(Annotation::imageId).containsExactly("a", "c", "d", "e", "f");
        assertThat(again.leftOut()).containsExactlyInAnyOrder("b", "g"); // a's problems are of its objects only
        Files.createDirectories(root.resolve("ImageSets/Main"));
        Files.write(root.resolve("ImageSets/Main/some.txt"), List.of("a", "h", "a"));
        Dataset some = Dataset.open(root, "some", null);
        assertThat(some.images()).extracting(Annotation::imageId).containsExactly("a");
        assertThat(some.leftOut()).containsExactly("h"); // no annotation file; the second 'a' is the first one
        assertThatThrownBy(() -> Dataset.open(root, "val", null)).hasMessageContaining("no such split 'val'");
    }

    @Test
    void vocSizeComesFromTheImageWhenMissingAndDifficultIsZeroOrOne(@TempDir Path tmp) throws IOException {
        Path root = vocFolder(tmp.resolve("voc"), "cat\n");
        for (String id : List.of("a", "b", "c", "d", "e", "f", "g")) {
            ImageIO.write(new BufferedImage(40, 30, BufferedImage.TYPE_INT_RGB), "png", root.resolve("JPEGImages/" + id + ".jpg").toFile());
        }
        // as py-faster-rcnn (which takes sizes from the image files) and VOCevaldet (which never reads <size>)
        Files.writeString(root.resolve("Annotations/a.xml"), "<annotation>" + obj("cat", 1, 1, 10, 10) + "</annotation>");
        Files.writeString(root.resolve("Annotations/b.xml"), xml(0, -3, obj("cat", 1, 1, 10, 10)));
        Files.writeString(root.resolve("Annotations/c.xml"), xml(40, 30, obj("cat", 1, 1, 10, 10)
                .replace("<difficult>0</difficult>", "<difficult>maybe</difficult>") + obj("cat", 2, 2, 10, 10)));
        Files.writeString(root.resolve("Annotations/d.xml"), xml(40, 30, obj("cat", 1, 1, 10, 10)
                .replace("<difficult>0</difficult>", "<difficult> 2 </difficult>")));
        Files.writeString(root.resolve("Annotations/e.xml"), xml(40, 30, obj("cat", 1, 1, 10, 10)
                .replace("<difficult>0</difficult>", "<difficult>1</difficult>") + obj("cat", 2, 2, 10, 10)
                .replace("<difficult>0</difficult>", "<difficult></difficult>")));
        // a size that is no whole number of pixels is the image's too (it was cut to 40, and 1e12 to 2^31 - 1)
        Files.writeString(root.resolve("Annotations/f.xml"), xml(40, 30, obj("cat", 1, 1, 10, 10))
                .replace("<width>40</width>", "<width>40.7</width>").replace("<height>30</height>", "<height>1e12</height>"));
        // Java's number syntax is no annotation's: 10f is not ten
        Files.writeString(root.resolve("Annotations/g.xml"), xml(40, 30, obj("cat", 1, 1, 10, 10)
                .replace("<xmax>10</xmax>", "<xmax>10f</xmax>")));
        Dataset d = Dataset.open(root, null, null);
        assertThat(d.problems()).extracting(Problem::toString).containsExactly(
                root.resolve("Annotations/c.xml") + ": object 1 ('cat'): <difficult> is 'maybe', not 0 or 1",
                root.resolve("Annotations/d.xml") + ": object 1 ('cat'): <difficult> is '2', not 0 or 1",
                root.resolve("Annotations/g.xml") + ": object 1 ('cat'): <xmax> is not a number: '10f'");
        assertThat(d.images()).extracting(a -> a.imageId() + " " + a.width() + "x" + a.height() + " " + a.objects().size())
                .containsExactly("a 40x30 1", "b 40x30 1", "c 40x30 1", "d 40x30 0", "e 40x30 2", "f 40x30 1", "g 40x30 0");
        assertThat(d.images().get(4).objects()).extracting(GroundTruthBox::difficult).containsExactly(true, false);
    }

    @Test
    void aDatasetsClassFileIsReadWholeLinesOrRefusedNamingIt(@TempDir Path tmp) throws IOException {
        Path root = tmp.resolve("voc");
        Files.createDirectories(root.resolve("Annotations"));
        Files.writeString(root.resolve("Annotations/a.xml"), xml(40, 30, obj("traffic light", 1, 1, 10, 10)));
        Path classes = root.resolve("classes.txt");
        Files.createDirectories(classes);
        assertThatThrownBy(() -> Dataset.open(root, null, null)).isInstanceOf(DatasetException.class)
                .hasMessage(classes + ": is a folder, not a class list file");
        Files.delete(classes);
        Files.writeString(classes, "cat\ndog\ncat\n");
        assertThatThrownBy(() -> Dataset.open(root, null, null)).isInstanceOf(DatasetException.class)
                .hasMessage(classes + ": class name 'cat' appears twice");
        Files.write(classes, new byte[] {'c', 'a', (byte) 0xff, 't', '\n'});
        assertThatThrownBy(() -> Dataset.open(root, null, null)).hasMessage(classes + ": cannot read: not UTF-8 text");
        Files.writeString(classes, "\n \n");
        assertThatThrownBy(() -> Dataset.open(root, null, null)).hasMessage(classes + ": no class names in it (one a line)");
        // a name is the whole line (darknet's coco.names has 'traffic light'), a Windows editor's BOM and CRs aside
        Files.writeString(classes, "\uFEFFtraffic light\r\ntraffic cone\r\n");
        Dataset d = Dataset.open(root, null, null);
        assertThat(d.classes().names()).containsExactly("traffic light", "traffic cone");
        assertThat(d.problems()).isEmpty();
        assertThat(d.objectCount()).isEqualTo(1);
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

    @Test
    void everyCocoProblemIsFoundInOnePass(@TempDir Path tmp) throws IOException {
        Path json = tmp.resolve("instances_x.json");
        Files.writeString(json, """
                {"images": [
                  {"id": 1, "file_name": "a.jpg", "width": 100, "height": 80},
                  {"id": 1, "file_name": "b.jpg", "width": 100, "height": 80},
                  {"id": "two", "file_name": "c.jpg", "width": 100, "height": 80},
                  {"id": 3, "width": 100, "height": 80},
                  {"id": 4, "file_name": "d.jpg", "width": 0, "height": 80}],
                 "annotations": [
                  {"id": 10, "image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20]},
                  {"id": 10, "image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20]},
                  {"id": 11, "image_id": 9, "category_id": 1, "bbox": [10, 10, 20, 20]},
                  {"id": 12, "image_id": 1, "category_id": 5, "bbox": [10, 10, 20, 20]},
                  {"id": 13, "image_id": 1, "category_id": 1, "bbox": [10, "ten", 20, 20]},
                  {"id": 14, "image_id": 1, "category_id": 1, "bbox": [10, 10, -2, 20]},
                  {"id": 15, "image_id": 1, "category_id": 1, "bbox": [90, 10, 40, 20]},
                  {"id": 16, "image_id": 3, "category_id": 1, "bbox": [10, 10, 20, 20]}],
                 "categories": [{"id": 1, "name": "cat"}, {"id": 1, "name": "dog"}, {"id": 2, "name": "cat"}]}
                """);
        Dataset d = Dataset.open(json, null, null);
        assertThat(d.problems()).extracting(Problem::toString).containsExactly(
                json + ": category id 1 appears twice",
                json + ": category name 'cat' appears twice (ids differ)",
                json + ": image id 1 appears twice",
                json + ": image 3 of 'images' has no numeric 'id': {\"id\":\"two\",\"file_name\":\"c.jpg\",\"width\":100,\"height\":80}",
                json + ": image 3 has no 'file_name'",
                json + ": image 4 has no positive integer 'width' and 'height'",
                json + ": annotation id 10 appears twice",
                json + ": annotation 11 of image 9: no such image",
                json + ": annotation 12 of image 1: unknown category_id 5",
                json + ": annotation 13 of image 1: bbox is not [x, y, w, h] numbers: [10,\"ten\",20,20]",
                json + ": annotation 14 of image 1: box of negative size",
                json + ": annotation 15 of image 1: box [90.0, 10.0, 40.0, 20.0] lies outside the 100x80 image");
        assertThat(d.images()).hasSize(1);
        assertThat(d.objectCount()).isEqualTo(1);
        // image 1 is in; "two" has no id to leave out; annotation 16 went with its image 3, without a problem of its own
        assertThat(d.leftOut()).containsExactlyInAnyOrder("3", "4");
        // a split names a file of a COCO folder: given with one file, it is an error, not ignored
        assertThatThrownBy(() -> Dataset.open(json, "val", null)).isInstanceOf(DatasetException.class)
                .hasMessageStartingWith(json + ": one COCO instances file is one split");
        Files.writeString(json, "{\"images\": [");
        assertThatThrownBy(() -> Dataset.open(json, null, null)).isInstanceOf(DatasetException.class)
                .hasMessageStartingWith(json + ": malformed JSON at line 1");
    }

    @Test
    void cocoIdsFlagsAreasAndCategoryNamesAreChecked(@TempDir Path tmp) throws IOException {
        Path json = tmp.resolve("instances_x.json");
        Files.writeString(json, """
                {"images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 80}],
                 "annotations": [
                  {"image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20]},
                  {"id": 2, "image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20], "iscrowd": "yes"},
                  {"id": 3, "image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20], "iscrowd": 2},
                  {"id": 4, "image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20], "area": -5},
                  {"id": 5, "image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20], "area": "big"},
                  {"id": 6, "image_id": 1, "category_id": 2, "bbox": [10, 10, 20, 20]},
                  {"id": 7, "image_id": 1, "category_id": 4294967297, "bbox": [10, 10, 20, 20]},
                  {"id": 8, "image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20], "iscrowd": 1, "area": 150.5},
                  {"id": 9, "image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20], "iscrowd": 0}],
                 "categories": [{"id": 1, "name": "cat"}, {"id": 2}, {"id": 3, "name": " "}]}
                """);
        Dataset d = Dataset.open(json, null, null);
        assertThat(d.problems()).extracting(Problem::toString).containsExactly(
                json + ": category 2 has no 'name': {\"id\":2}",
                json + ": category 3 has no 'name': {\"id\":3,\"name\":\" \"}",
                json + ": annotation 1 of 'annotations' has no numeric 'id': "
                        + "{\"image_id\":1,\"category_id\":1,\"bbox\":[10,10,20,20]}",
                json + ": annotation 2 of image 1: 'iscrowd' is \"yes\", not 0 or 1",
                json + ": annotation 3 of image 1: 'iscrowd' is 2, not 0 or 1",
                json + ": annotation 4 of image 1: 'area' is -5, not a number >= 0",
                json + ": annotation 5 of image 1: 'area' is \"big\", not a number >= 0",
                json + ": annotation 6 of image 1: unknown category_id 2",
                json + ": annotation 7 of image 1: unknown category_id 4294967297");
        assertThat(d.classes().names()).containsExactly("cat");
        assertThat(d.images().get(0).objects()).extracting(o -> o.crowd() + " " + o.area())
                .containsExactly("true 150.5", "false 400.0");
    }
}
