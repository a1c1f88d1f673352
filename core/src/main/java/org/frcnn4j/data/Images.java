package org.frcnn4j.data;

import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;

/**
 * Image files to RGB pixels. Grayscale, CMYK (through the TwelveMonkeys JPEG plug-in on the class path) and images
 * with alpha all come back as {@link BufferedImage#TYPE_INT_RGB}; alpha is composited over black.
 */
public final class Images {
    static {
        // Register every ImageIO plug-in (TwelveMonkeys' JPEG reader among them) once, before any decoding: left to
        // the first concurrent reads, registration races, and early images were seen decoded by the JDK's own JPEG
        // reader (slightly different pixels) while later ones went through TwelveMonkeys'.
        ImageIO.scanForPlugins();
    }

    private Images() {}

    /** Decodes an image as RGB, or throws a {@link DatasetException} that names the file. */
    public static BufferedImage readRgb(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new DatasetException(file, "image file is missing");
        }
        BufferedImage img;
        try {
            img = ImageIO.read(file.toFile());
        } catch (IOException | RuntimeException e) {
            throw new DatasetException(file, "cannot decode image: " + e.getMessage(), e);
        }
        if (img == null) {
            throw new DatasetException(file, "cannot decode image: not a format this JVM reads");
        }
        return toRgb(img);
    }

    /** The image as {@link BufferedImage#TYPE_INT_RGB} (the same object when it already is). */
    public static BufferedImage toRgb(BufferedImage img) {
        if (img.getType() == BufferedImage.TYPE_INT_RGB) {
            return img;
        }
        BufferedImage rgb = new BufferedImage(img.getWidth(), img.getHeight(), BufferedImage.TYPE_INT_RGB);
        Graphics2D g = rgb.createGraphics();
        try {
            g.drawImage(img, 0, 0, null);
        } finally {
            g.dispose();
        }
        return rgb;
    }

    /** {width, height} read from the file's header without decoding the pixels, or null when it cannot be read. */
    public static int[] size(Path file) {
        if (!Files.isRegularFile(file)) {
            return null;
        }
        try (ImageInputStream in = ImageIO.createImageInputStream(file.toFile())) {
            if (in == null) {
                return null;
            }
            Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
            if (!readers.hasNext()) {
                return null;
            }
            ImageReader reader = readers.next();
            try {
                reader.setInput(in);
                return new int[] {reader.getWidth(0), reader.getHeight(0)};
            } finally {
                reader.dispose();
            }
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }
}
