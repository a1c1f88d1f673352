package org.frcnn4j.data;

import java.nio.file.Path;
import java.util.List;

/**
 * The ground truth of one image. An empty object list is a valid negative image.
 *
 * @param imageId   the dataset's id: the VOC file stem, or the COCO image id as text
 * @param imageFile where the image is
 * @param width     image width in pixels, as annotated
 * @param height    image height in pixels, as annotated
 */
public record Annotation(String imageId, Path imageFile, int width, int height, List<GroundTruthBox> objects) {
    public Annotation {
        objects = List.copyOf(objects);
    }
}
