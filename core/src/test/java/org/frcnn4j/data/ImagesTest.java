package org.frcnn4j.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every kind of image people collect decodes to the RGB pixels PIL gives (tools/images/make_image_fixtures.py wrote
 * the files and PIL's pixels); every kind of non-image is one clear error naming the file.
 */
class ImagesTest {
    static final Path DIR = Path.of("src/test/resources/images");

    @Test
    void everyImageKindDecodesToPilsPixels() throws Exception {
        JsonNode expected = new ObjectMapper().readTree(DIR.resolve("expected.json").toFile());
        Iterator<Map.Entry<String, JsonNode>> it = expected.fields();
        int checked = 0;
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> e = it.next();
            String name = e.getKey();
            int w = e.getValue().get("width").asInt();
            int h = e.getValue().get("height").asInt();
            byte[] pil = Files.readAllBytes(DIR.resolve(name + ".rgb"));
            BufferedImage img = Images.readRgb(DIR.resolve(name));
            assertThat(img.getType()).as(name).isEqualTo(BufferedImage.TYPE_INT_RGB);
            assertThat(new int[] {img.getWidth(), img.getHeight()}).as(name + " size").containsExactly(w, h);
            long sum = 0;
            int max = 0;
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    int rgb = img.getRGB(x, y);
                    for (int c = 0; c < 3; c++) {
                        int ours = (rgb >> (16 - 8 * c)) & 0xff;
                        int theirs = pil[(y * w + x) * 3 + c] & 0xff;
                        int d = Math.abs(ours - theirs);
                        sum += d;
                        max = Math.max(max, d);
                    }
                }
            }
            double mean = (double) sum / (3.0 * w * h);
            if (e.getValue().get("compare").asText().equals("jpeg")) {
                // two JPEG decoders (libjpeg-turbo in PIL, the JDK's here) round their IDCTs differently
                assertThat(mean).as(name + " mean difference").isLessThan(1.5);
                assertThat(max).as(name + " largest difference").isLessThanOrEqualTo(12);
            } else {
                assertThat(max).as(name + " largest difference").isZero();
            }
            checked++;
        }
        assertThat(checked).isEqualTo(15);
    }

    @Test
    void everyKindOfNonImageIsOneLineNamingTheFile(@TempDir Path tmp) throws Exception {
        byte[] jpeg = Files.readAllBytes(Path.of("../datasets/raccoon/JPEGImages/raccoon-1.jpg"));
        byte[] png = Files.readAllBytes(DIR.resolve("rgba.png"));
        Files.write(tmp.resolve("empty.jpg"), new byte[0]);
        Files.writeString(tmp.resolve("notes.jpg"), "these are my notes, not a photo\n");
        Files.createDirectory(tmp.resolve("folder.jpg"));
        Files.write(tmp.resolve("half.jpg"), java.util.Arrays.copyOf(jpeg, jpeg.length / 2));
        Files.write(tmp.resolve("half.png"), java.util.Arrays.copyOf(png, png.length / 2));
        Files.write(tmp.resolve("header-only.jpg"), java.util.Arrays.copyOf(jpeg, 600));
        Files.write(tmp.resolve("huge.png"), hugePng(100_000, 100_000));
        Map<String, String> expected = Map.of(
                "empty.jpg", "empty file (0 bytes), not an image",
                "notes.jpg", "not an image: no decoder here recognises its contents",
                "folder.jpg", "is a folder, not an image file",
                "missing.jpg", "image file is missing",
                "half.jpg", "truncated or corrupt image data",
                "half.png", "cannot decode image",
                "header-only.jpg", "truncated or corrupt image data",
                "huge.png", "100000x100000 pixels (10000.0 megapixels) is more than the limit of 100.0 megapixels; not decoded");
        for (Map.Entry<String, String> e : expected.entrySet()) {
            Path file = tmp.resolve(e.getKey());
            assertThatThrownBy(() -> Images.readRgb(file)).as(e.getKey()).isInstanceOf(DatasetException.class)
                    .hasMessageStartingWith(file + ": " + e.getValue()).hasMessageNotContaining("\n")
                    .satisfies(x -> assertThat(((DatasetException) x).file()).isEqualTo(file));
        }
        // the header alone is read for the limit: a tiny file claiming 10 gigapixels is refused at once
        assertThat(Files.size(tmp.resolve("huge.png"))).isLessThan(100);
    }

    @Test
    void theSizeLimitIsConfigurable() {
        Path photo = Path.of("../datasets/raccoon/JPEGImages/raccoon-1.jpg");
        int[] wh = Images.header(photo);
        assertThatThrownBy(() -> Images.readRgb(photo, (long) wh[0] * wh[1] - 1))
                .hasMessageContaining(wh[0] + "x" + wh[1] + " pixels");
        assertThat(Images.readRgb(photo, (long) wh[0] * wh[1]).getWidth()).isEqualTo(wh[0]);
    }

    /** A PNG signature and an IHDR chunk that claims a w x h RGB image, with no pixel data. */
    static byte[] hugePng(int w, int h) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'});
        ByteBuffer ihdr = ByteBuffer.allocate(17).put("IHDR".getBytes()).putInt(w).putInt(h)
                .put((byte) 8).put((byte) 2).put((byte) 0).put((byte) 0).put((byte) 0);
        CRC32 crc = new CRC32();
        crc.update(ihdr.array());
        out.write(ByteBuffer.allocate(4).putInt(13).array());
        out.write(ihdr.array());
        out.write(ByteBuffer.allocate(4).putInt((int) crc.getValue()).array());
        return out.toByteArray();
    }

    /**
     * The direct read of interleaved sRGB bytes (what JPEG and PNG decoding gives) equals the colour model's own
     * conversion, pixel for pixel: a decoded photo, a subimage of it (a raster that starts inside its buffer), and an
     * A, B, G, R image with varied alpha (not premultiplied: alpha is dropped, the colour kept).
     */
    @Test
    void interleavedBytesConvertAsTheColourModelDoes() throws Exception {
        BufferedImage photo = ImageIO.read(Path.of("../datasets/raccoon/JPEGImages/raccoon-1.jpg").toFile());
        assertThat(photo.getType()).isEqualTo(BufferedImage.TYPE_3BYTE_BGR);
        BufferedImage abgr = new BufferedImage(37, 23, BufferedImage.TYPE_4BYTE_ABGR);
        java.util.Random random = new java.util.Random(5);
        for (int y = 0; y < abgr.getHeight(); y++) {
            for (int x = 0; x < abgr.getWidth(); x++) {
                abgr.setRGB(x, y, random.nextInt());
            }
        }
        for (BufferedImage img : List.of(photo, photo.getSubimage(13, 7, 101, 57), abgr, abgr.getSubimage(3, 2, 20, 11))) {
            BufferedImage rgb = Images.toRgb(img);
            assertThat(rgb.getType()).isEqualTo(BufferedImage.TYPE_INT_RGB);
            int w = img.getWidth();
            int h = img.getHeight();
            int[] expected = img.getRGB(0, 0, w, h, null, 0, w);
            int[] actual = rgb.getRGB(0, 0, w, h, null, 0, w);
            for (int i = 0; i < expected.length; i++) {
                expected[i] |= 0xff000000;
            }
            assertThat(actual).isEqualTo(expected);
        }
    }
}
