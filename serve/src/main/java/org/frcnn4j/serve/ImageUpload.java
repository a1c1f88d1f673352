package org.frcnn4j.serve;

import io.javalin.http.Context;
import io.javalin.http.UploadedFile;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.InputStream;
import java.util.Locale;
import org.frcnn4j.data.DatasetException;
import org.frcnn4j.data.Images;

/**
 * The image of a request: the body itself ({@code image/jpeg}, {@code image/png}, ...) or the multipart field
 * {@code image}. Checked in the order that costs least: a body at all (400), something a decoder recognises (415),
 * the size its header claims (413, before any pixel is decoded), then the pixels (400 when they are corrupt).
 */
final class ImageUpload {
    private ImageUpload() {}

    /** The decoded image (RGB), or an {@link ApiError} with the status that says what was wrong. */
    static BufferedImage read(Context ctx, long maxPixels) {
        byte[] data = bytes(ctx);
        if (data.length == 0) {
            throw new ApiError(400, "no image: send the image as the request body (Content-Type image/jpeg, "
                    + "image/png, ...) or as the multipart field 'image'");
        }
        if (!Images.isImage(data)) {
            throw new ApiError(415, "not an image: no decoder here recognises the body (JPEG, PNG, BMP, GIF are read)");
        }
        int[] size;
        try {
            size = Images.header(data, "upload");
        } catch (DatasetException e) {
            throw new ApiError(400, "unreadable image header: " + e.reason());
        }
        if (size[0] <= 0 || size[1] <= 0) {
            throw new ApiError(400, "the image header says " + size[0] + "x" + size[1] + " pixels");
        }
        if ((long) size[0] * size[1] > maxPixels) {
            throw new ApiError(413, String.format(Locale.ROOT, "%dx%d pixels (%.1f megapixels) is more than the "
                    + "limit of %.1f megapixels; not decoded", size[0], size[1], size[0] * (double) size[1] / 1e6,
                    maxPixels / 1e6));
        }
        try {
            return Images.readRgb(data, "upload", maxPixels);
        } catch (DatasetException e) {
            throw new ApiError(400, e.reason());
        }
    }

    private static byte[] bytes(Context ctx) {
        String type = ctx.contentType() == null ? "" : ctx.contentType().toLowerCase(Locale.ROOT);
        if (type.startsWith("multipart/form-data")) {
            UploadedFile file;
            try {
                file = ctx.uploadedFile("image");
            } catch (Exception e) { // Jetty's multipart parser: a part over the size limit, or a malformed body
                String why = String.valueOf(e.getMessage()) + " " + String.valueOf(e.getCause());
                if (why.toLowerCase(Locale.ROOT).contains("size") || why.toLowerCase(Locale.ROOT).contains("large")) {
                    throw new ApiError(413, "the upload is larger than the limit");
                }
                throw new ApiError(400, "malformed multipart body: " + e.getMessage());
            }
            if (file == null) {
                throw new ApiError(400, "no image: the multipart request has no field 'image'");
            }
            try (InputStream in = file.content()) {
                return in.readAllBytes();
            } catch (IOException e) {
                throw new ApiError(400, "cannot read the upload: " + e.getMessage());
            }
        }
        return ctx.bodyAsBytes();
    }
}
