package org.frcnn4j.data;

import java.awt.image.BufferedImage;
import java.awt.image.ColorModel;
import java.awt.image.DataBufferByte;
import java.awt.image.DataBufferInt;
import java.awt.image.IndexColorModel;
import java.awt.image.PixelInterleavedSampleModel;
import java.awt.image.Raster;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.event.IIOReadWarningListener;
import javax.imageio.stream.ImageInputStream;

/**
 * Image files to RGB pixels, as PIL's {@code Image.open(f).convert("RGB")} gives them (what torchvision's datasets
 * and py-faster-rcnn's readers see): grayscale replicated to three channels, 16-bit samples reduced to their high byte,
 * palettes looked up, alpha dropped (not composited), CMYK through PIL's formula. EXIF orientation is not applied, as
 * PIL does not apply it on open either.
 *
 * <p>Anything that is not a readable image is refused with a {@link DatasetException} naming the file: missing, a
 * folder, empty, no decoder recognises it, truncated or corrupt (any warning the decoder raises), or larger than
 * {@link #maxPixels()} according to its header (checked before the pixels are decoded, so a tiny file that claims
 * 100,000 x 100,000 pixels cannot exhaust memory).
 */
public final class Images {
    /** The default limit on width x height: 100 megapixels (a 12,000 x 8,000 photo fits). */
    public static final long DEFAULT_MAX_PIXELS = 100_000_000L;

    /** Decoder warnings about colour management, which say nothing about the data being damaged. */
    private static final java.util.regex.Pattern COLOUR_NOTE =
            java.util.regex.Pattern.compile("(?i)icc|colou?r profile|colou?r conversion|to rgb conversion");

    private static volatile long maxPixels = Long.getLong("frcnn.maxImagePixels", DEFAULT_MAX_PIXELS);

    static {
        // Register every ImageIO plug-in (TwelveMonkeys' JPEG reader among them) once, before any decoding: left to
        // the first concurrent reads, registration races, and early images were seen decoded by the JDK's own JPEG
        // reader (slightly different pixels) while later ones went through TwelveMonkeys'.
        ImageIO.scanForPlugins();
        ImageIO.setUseCache(false);
    }

    private Images() {}

    /** The largest width x height decoded (default {@value #DEFAULT_MAX_PIXELS}; {@code -Dfrcnn.maxImagePixels}). */
    public static long maxPixels() {
        return maxPixels;
    }

    /** Sets the limit on width x height for every later read in this process. */
    public static void setMaxPixels(long pixels) {
        if (pixels < 1) {
            throw new org.frcnn4j.io.BadInputException("the image size limit must be positive, got " + pixels);
        }
        maxPixels = pixels;
    }

    /** Decodes an image as RGB, or throws a {@link DatasetException} that names the file and the problem. */
    public static BufferedImage readRgb(Path file) {
        return readRgb(file, maxPixels);
    }

    /** As {@link #readRgb(Path)}, with its own limit on width x height. */
    public static BufferedImage readRgb(Path file, long pixelLimit) {
        checkFile(file);
        return withReader(file, () -> ImageIO.createImageInputStream(file.toFile()), "cannot decode image: ",
                r -> decode(file, r, pixelLimit));
    }

    /** Opens the stream a decoder reads. */
    @FunctionalInterface
    private interface Source {
        ImageInputStream open() throws IOException;
    }

    /** What is done with the decoder chosen for a stream. */
    @FunctionalInterface
    private interface ReaderWork<T> {
        T apply(ImageReader reader) throws IOException;
    }

    /**
     * {@code work} with the decoder for {@code source}; any failure a {@link DatasetException} naming {@code label}
     * ({@code failure} + the reason, unless it says what is wrong itself).
     */
    private static <T> T withReader(Path label, Source source, String failure, ReaderWork<T> work) {
        try (ImageInputStream in = source.open()) {
            return work.apply(reader(label, in));
        } catch (DatasetException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            throw new DatasetException(label, failure + message(e), e);
        }
    }

    private static ImageInputStream inMemory(byte[] data) {
        // no ImageIO disk cache for bytes already in memory
        return new javax.imageio.stream.MemoryCacheImageInputStream(new java.io.ByteArrayInputStream(data));
    }

    /** {width, height} from the header; the decoder is released. */
    private static int[] dimensions(ImageReader reader) throws IOException {
        try {
            return new int[] {reader.getWidth(0), reader.getHeight(0)};
        } finally {
            reader.dispose();
        }
    }

    private static BufferedImage decode(Path file, ImageReader reader, long pixelLimit) throws IOException {
        try {
            int w = reader.getWidth(0);
            int h = reader.getHeight(0);
            checkSize(file, w, h, pixelLimit);
            List<String> warnings = new ArrayList<>();
            reader.addIIOReadWarningListener((IIOReadWarningListener) (source, warning) -> {
                if (!COLOUR_NOTE.matcher(warning).find()) {
                    warnings.add(warning); // "Premature end of JPEG file", "Corrupt JPEG data: ...", ...
                }
            });
            BufferedImage img = reader.read(0);
            if (!warnings.isEmpty()) {
                throw new DatasetException(file, "truncated or corrupt image data (" + warnings.get(0) + ")");
            }
            return toRgb(img);
        } finally {
            reader.dispose();
        }
    }

    /**
     * Decodes an image held in memory (an upload) as {@link #readRgb(Path, long)} decodes a file; {@code name} stands
     * for it in the messages.
     */
    public static BufferedImage readRgb(byte[] data, String name, long pixelLimit) {
        Path label = Path.of(name);
        if (data.length == 0) {
            throw new DatasetException(label, "empty (0 bytes), not an image");
        }
        return withReader(label, () -> inMemory(data), "cannot decode image: ", r -> decode(label, r, pixelLimit));
    }

    /**
     * {width, height} of an image held in memory, from its header; a {@link DatasetException} when no decoder
     * recognises it ({@link #isImage} tells that case apart).
     */
    public static int[] header(byte[] data, String name) {
        return withReader(Path.of(name), () -> inMemory(data), "cannot read the image header: ", Images::dimensions);
    }

    /** Whether a decoder here recognises the bytes as an image (JPEG, PNG, BMP, GIF, WBMP), without decoding it. */
    public static boolean isImage(byte[] data) {
        if (data.length == 0) {
            return false;
        }
        try (ImageInputStream in = inMemory(data)) {
            return ImageIO.getImageReaders(in).hasNext();
        } catch (IOException e) {
            return false;
        }
    }

    /** {width, height} from the file's header without decoding the pixels; a {@link DatasetException} when unreadable. */
    public static int[] header(Path file) {
        checkFile(file);
        return withReader(file, () -> ImageIO.createImageInputStream(file.toFile()), "cannot read the image header: ",
                Images::dimensions);
    }

    /** {width, height} read from the file's header, or null when it cannot be read. */
    public static int[] size(Path file) {
        try {
            return header(file);
        } catch (DatasetException e) {
            return null;
        }
    }

    /** The reasons a path is not an image file, before any decoder looks at it. */
    private static void checkFile(Path file) {
        org.frcnn4j.io.BadInputException.requireGiven(file, "Images", "the image file");
        if (Files.isDirectory(file)) {
            throw new DatasetException(file, "is a folder, not an image file");
        }
        if (!Files.exists(file)) {
            throw new DatasetException(file, "image file is missing");
        }
        try {
            if (Files.size(file) == 0) {
                throw new DatasetException(file, "empty file (0 bytes), not an image");
            }
        } catch (IOException e) {
            throw new DatasetException(file, "cannot read: " + message(e), e);
        }
        if (!Files.isReadable(file)) {
            throw new DatasetException(file, "cannot read: permission denied");
        }
    }

    private static ImageReader reader(Path file, ImageInputStream in) {
        if (in == null) {
            throw new DatasetException(file, "cannot open the file");
        }
        Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
        if (!readers.hasNext()) {
            throw new DatasetException(file, "not an image: no decoder here recognises its contents "
                    + "(JPEG, PNG, BMP, GIF, WBMP are read)");
        }
        ImageReader reader = readers.next();
        reader.setInput(in, true, true);
        return reader;
    }

    private static void checkSize(Path file, int w, int h, long limit) {
        if (w <= 0 || h <= 0) {
            throw new DatasetException(file, "the header says " + w + "x" + h + " pixels");
        }
        if ((long) w * h > limit) {
            throw new DatasetException(file, String.format(Locale.ROOT,
                    "%dx%d pixels (%.1f megapixels) is more than the limit of %.1f megapixels; not decoded", w, h,
                    (double) w * h / 1e6, limit / 1e6));
        }
    }

    private static String message(Throwable e) {
        return e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
    }

    /**
     * The image as {@link BufferedImage#TYPE_INT_RGB} (the same object when it already is), with PIL's conversions:
     * gray samples replicated (Java's own conversion treats gray as linear light and brightens it), 16-bit samples
     * reduced to their high byte, alpha dropped.
     */
    public static BufferedImage toRgb(BufferedImage img) {
        if (img.getType() == BufferedImage.TYPE_INT_RGB) {
            return img;
        }
        int w = img.getWidth();
        int h = img.getHeight();
        BufferedImage rgb = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        // written in place: setRGB and getRGB go through the colour models pixel by pixel
        int[] out = ((DataBufferInt) rgb.getRaster().getDataBuffer()).getData();
        if (interleavedSrgbBytes(img, out)) {
            return rgb;
        }
        ColorModel cm = img.getColorModel();
        Raster raster = img.getRaster();
        int bands = raster.getNumBands();
        int bits = raster.getSampleModel().getSampleSize(0);
        boolean direct = !(cm instanceof IndexColorModel)
                && (cm.getColorSpace().getType() == java.awt.color.ColorSpace.TYPE_GRAY
                    || (cm.getColorSpace().getType() == java.awt.color.ColorSpace.TYPE_RGB && bits > 8));
        if (direct) {
            // gray (with or without alpha) and 16-bit RGB: the samples themselves, as PIL reads them
            int colours = cm.getColorSpace().getType() == java.awt.color.ColorSpace.TYPE_GRAY ? 1 : Math.min(3, bands);
            int shift = Math.max(0, bits - 8);
            int[] samples = new int[w * bands];
            for (int y = 0; y < h; y++) {
                raster.getPixels(0, y, w, 1, samples);
                for (int x = 0; x < w; x++) {
                    int r = samples[x * bands] >>> shift;
                    int g = colours == 1 ? r : samples[x * bands + 1] >>> shift;
                    int b = colours == 1 ? r : samples[x * bands + 2] >>> shift;
                    out[y * w + x] = (r & 0xff) << 16 | (g & 0xff) << 8 | (b & 0xff);
                }
            }
        } else {
            // palettes, 8-bit RGB(A), BGR, CMYK converted by the decoder: the colour model's sRGB values, alpha dropped
            img.getRGB(0, 0, w, h, out, 0, w);
            for (int i = 0; i < out.length; i++) {
                out[i] &= 0xffffff;
            }
        }
        return rgb;
    }

    /**
     * The decoders' usual result, 8-bit sRGB bytes interleaved as B, G, R (JPEG, RGB PNG) or A, B, G, R (PNG with
     * alpha, not premultiplied), read straight from its buffer into {@code out}: the samples themselves, which is what
     * the colour model gives for sRGB, at a fraction of its per-pixel cost (a 500x375 JPEG: the conversion took as long
     * as the decoding, on the data threads that share two cores with training). False, with nothing written, for any
     * other layout.
     */
    private static boolean interleavedSrgbBytes(BufferedImage img, int[] out) {
        int type = img.getType();
        if ((type != BufferedImage.TYPE_3BYTE_BGR && type != BufferedImage.TYPE_4BYTE_ABGR)
                || !img.getColorModel().getColorSpace().isCS_sRGB()
                || !(img.getRaster().getSampleModel() instanceof PixelInterleavedSampleModel sm)
                || !(img.getRaster().getDataBuffer() instanceof DataBufferByte buffer) || buffer.getNumBanks() != 1) {
            return false;
        }
        int stride = sm.getPixelStride();
        int[] offsets = sm.getBandOffsets();
        int bands = type == BufferedImage.TYPE_3BYTE_BGR ? 3 : 4;
        // the band order of these types: red last; a subimage's raster starts at a translated origin
        if (stride != bands || offsets.length != bands || offsets[0] != bands - 1 || offsets[1] != bands - 2
                || offsets[2] != bands - 3) {
            return false;
        }
        Raster raster = img.getRaster();
        int dx = -raster.getSampleModelTranslateX();
        int dy = -raster.getSampleModelTranslateY();
        int scanline = sm.getScanlineStride();
        byte[] data = buffer.getData();
        int base = buffer.getOffset();
        int w = img.getWidth();
        int h = img.getHeight();
        for (int y = 0; y < h; y++) {
            int row = base + (y + dy) * scanline + dx * stride;
            for (int x = 0; x < w; x++) {
                int p = row + x * stride;
                out[y * w + x] = (data[p + offsets[0]] & 0xff) << 16 | (data[p + offsets[1]] & 0xff) << 8
                        | (data[p + offsets[2]] & 0xff);
            }
        }
        return true;
    }
}
