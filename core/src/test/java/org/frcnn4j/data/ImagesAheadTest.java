package org.frcnn4j.data;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Decoding ahead keeps the files' order, carries each failure with its file, and decodes what a plain read does. */
class ImagesAheadTest {
    private static final Path JPEGS = Path.of("").toAbsolutePath().getParent().resolve("datasets/raccoon/JPEGImages");

    @Test
    void givesEveryFileInOrderWithItsPixelsOrItsProblem(@TempDir Path tmp) throws Exception {
        Path text = Files.writeString(tmp.resolve("notes.jpg"), "not an image");
        List<Path> files = List.of(JPEGS.resolve("raccoon-1.jpg"), text, JPEGS.resolve("raccoon-2.jpg"),
                tmp.resolve("missing.jpg"), JPEGS.resolve("raccoon-3.jpg"));
        List<String> seen = new ArrayList<>();
        try (ImagesAhead ahead = new ImagesAhead(files, 2)) {
            while (ahead.hasNext()) {
                ImagesAhead.Decoded d = ahead.next();
                if (d.image() != null) {
                    assertThat(d.error()).isNull();
                    java.awt.image.BufferedImage plain = Images.readRgb(d.file());
                    assertThat(d.image().getRGB(0, 0, plain.getWidth(), plain.getHeight(), null, 0, plain.getWidth()))
                            .isEqualTo(plain.getRGB(0, 0, plain.getWidth(), plain.getHeight(), null, 0, plain.getWidth()));
                    seen.add(d.file().getFileName() + " ok");
                } else {
                    assertThat(d.error().getMessage()).contains(d.file().getFileName().toString());
                    seen.add(d.file().getFileName() + " " + d.error().reason());
                }
            }
        }
        assertThat(seen).containsExactly("raccoon-1.jpg ok",
                "notes.jpg not an image: no decoder here recognises its contents (JPEG, PNG, BMP, GIF, WBMP are read)",
                "raccoon-2.jpg ok", "missing.jpg image file is missing", "raccoon-3.jpg ok");
    }
}
