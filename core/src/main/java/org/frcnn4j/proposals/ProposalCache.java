package org.frcnn4j.proposals;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.awt.image.BufferedImage;
import org.frcnn4j.data.Annotation;
import org.frcnn4j.data.Images;

/**
 * Precomputed Selective Search proposals on disk, one file per image ({@code <dir>/<imageId>.boxes}: a count, then
 * x1, y1, x2, y2 floats in original pixels), as the R-CNN pipeline keeps them. Files are written atomically; a missing
 * file is computed and written on first use.
 */
public final class ProposalCache {
    private final Path dir;
    private final SelectiveSearch search;
    private final int maxBoxes;

    public ProposalCache(Path dir, SelectiveSearch search, int maxBoxes) {
        this.dir = dir;
        this.search = search;
        this.maxBoxes = maxBoxes;
    }

    /** The image's proposals, from the cache or computed now. */
    public float[] proposals(Annotation image) throws IOException {
        Path f = dir.resolve(image.imageId() + ".boxes");
        if (Files.isRegularFile(f)) {
            try (DataInputStream in = new DataInputStream(new java.io.BufferedInputStream(Files.newInputStream(f)))) {
                return read(in);
            }
        }
        BufferedImage img = Images.readRgb(image.imageFile());
        float[] boxes = search.propose(img, maxBoxes, image.imageId().hashCode());
        org.frcnn4j.io.AtomicFiles.write(f, raw -> {
            DataOutputStream out = new DataOutputStream(new java.io.BufferedOutputStream(raw));
            write(boxes, out);
            out.flush();
        });
        return boxes;
    }

    static float[] read(InputStream in) throws IOException {
        DataInputStream d = new DataInputStream(in);
        int n = d.readInt();
        float[] b = new float[4 * n];
        for (int i = 0; i < b.length; i++) {
            b[i] = d.readFloat();
        }
        return b;
    }

    static void write(float[] boxes, OutputStream out) throws IOException {
        DataOutputStream d = new DataOutputStream(out);
        d.writeInt(boxes.length / 4);
        for (float v : boxes) {
            d.writeFloat(v);
        }
        d.flush();
    }
}
