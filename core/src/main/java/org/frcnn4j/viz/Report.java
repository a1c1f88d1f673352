package org.frcnn4j.viz;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.frcnn4j.data.Annotation;
import org.frcnn4j.data.Dataset;
import org.frcnn4j.data.Detection;
import org.frcnn4j.data.Images;
import org.frcnn4j.model.Detector.DetectedBox;
import org.frcnn4j.model.FasterRcnn;

/** An HTML page of a run: the mAP, the loss curve, and every test image with its detections drawn. */
public final class Report {
    private Report() {}

    /** Writes {@code dir/index.html} and {@code dir/images/*.png}; returns the page. Detections under 0.3 are not drawn. */
    public static Path write(Path dir, FasterRcnn model, Dataset test, List<Detection> detections, double voc07,
                             double vocArea, String lossPng) throws IOException {
        Path images = Files.createDirectories(dir.resolve("images"));
        StringBuilder cards = new StringBuilder();
        for (Annotation a : test.images()) {
            List<DetectedBox> boxes = new ArrayList<>();
            for (Detection d : detections) {
                if (d.imageId().equals(a.imageId()) && d.score() >= 0.3) {
                    boxes.add(new DetectedBox(d.label() + 1, test.classes().name(d.label()), (float) d.x1(), (float) d.y1(),
                            (float) d.x2(), (float) d.y2(), (float) d.score()));
                }
            }
            DetectionDrawing.write(Images.readRgb(a.imageFile()), boxes, images.resolve(a.imageId() + ".png"));
            cards.append(String.format(Locale.ROOT, "<figure><img src=\"images/%s.png\" loading=\"lazy\"><figcaption>%s: "
                    + "%d detections &ge; 0.3, %d ground-truth boxes</figcaption></figure>%n",
                    esc(a.imageId()), esc(a.imageId()), boxes.size(), a.objects().size()));
        }
        String html = String.format(Locale.ROOT, """
                <!doctype html>
                <html><head><meta charset="utf-8"><title>frcnn4j report</title>
                <style>body{font-family:sans-serif;margin:2em}figure{display:inline-block;margin:.5em;vertical-align:top}
                figure img{max-width:360px;max-height:300px}figcaption{font-size:.8em;color:#444}</style></head><body>
                <h1>frcnn4j: %s</h1>
                <p>Preset <code>%s</code>, %d test images. <b>VOC07 mAP %.4f</b> (11-point); area AP %.4f.</p>
                <h2>Training losses</h2><img src="%s" alt="loss curve">
                <h2>Test images</h2>
                %s
                </body></html>
                """, esc(String.join(", ", test.classes().names())), esc(model.config().preset()), test.images().size(),
                voc07, vocArea, lossPng, cards);
        Path page = dir.resolve("index.html");
        org.frcnn4j.io.AtomicFiles.write(page, html);
        return page;
    }

    private static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
