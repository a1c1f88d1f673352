package org.frcnn4j.data;

/**
 * One annotated object.
 *
 * <p>Coordinates are 0-based pixels. VOC XML counts pixels from 1, so the VOC reader subtracts 1 from every
 * coordinate, once, on reading (as py-faster-rcnn's {@code pascal_voc.py}); (x1, y1, x2, y2) then name the first and
 * last pixel covered, inclusive. COCO boxes [x, y, w, h] are continuous and become (x, y, x + w, y + h).
 *
 * @param label     class index into the dataset's {@link ClassList} (0-based; no background class here)
 * @param difficult VOC's difficult flag: neither a true nor a false positive when detected, not counted in recall
 * @param crowd     COCO's iscrowd flag: a region of many instances, matched by any number of detections
 * @param area      COCO's {@code area} field (segment area) when given, else the box area
 */
public record GroundTruthBox(int label, double x1, double y1, double x2, double y2,
                             boolean difficult, boolean crowd, double area) {}
