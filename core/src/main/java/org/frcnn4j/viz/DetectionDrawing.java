package org.frcnn4j.viz;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.frcnn4j.model.Detector.DetectedBox;

/** Detections drawn on their image: a box per object, its class name and score above it, a colour per class. */
public final class DetectionDrawing {
    private DetectionDrawing() {}

    public static BufferedImage draw(BufferedImage image, List<DetectedBox> boxes) {
        BufferedImage out = new BufferedImage(image.getWidth(), image.getHeight(), BufferedImage.TYPE_INT_RGB);
        Graphics2D g = out.createGraphics();
        try {
            g.drawImage(image, 0, 0, null);
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            float stroke = Math.max(2f, Math.min(image.getWidth(), image.getHeight()) / 200f);
            g.setStroke(new BasicStroke(stroke));
            g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, Math.max(11, (int) (stroke * 6))));
            FontMetrics fm = g.getFontMetrics();
            for (int i = boxes.size() - 1; i >= 0; i--) { // best drawn last, on top
                DetectedBox b = boxes.get(i);
                Color c = colour(b.label());
                int x = Math.round(b.x1());
                int y = Math.round(b.y1());
                int w = Math.round(b.x2() - b.x1());
                int h = Math.round(b.y2() - b.y1());
                g.setColor(c);
                g.drawRect(x, y, w, h);
                String text = String.format(java.util.Locale.ROOT, "%s %.2f", b.className(), b.score());
                int tw = fm.stringWidth(text) + 6;
                int th = fm.getHeight();
                int ty = y - th < 0 ? y : y - th;
                g.fillRect(x, ty, tw, th);
                g.setColor(Color.WHITE);
                g.drawString(text, x + 3, ty + fm.getAscent());
            }
        } finally {
            g.dispose();
        }
        return out;
    }

    /** Draws and writes a PNG atomically (temp file + rename). */
    public static void write(BufferedImage image, List<DetectedBox> boxes, Path file) throws IOException {
        org.frcnn4j.io.AtomicFiles.write(file, out -> ImageIO.write(draw(image, boxes), "png", out));
    }

    private static Color colour(int label) {
        float hue = (label * 0.618034f) % 1f;
        return Color.getHSBColor(hue, 0.85f, 0.9f);
    }
}
