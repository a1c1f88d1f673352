package org.frcnn4j.data;

/**
 * One detected box in an image: the currency between the detector, result files and the evaluators.
 * Coordinates follow the same conventions as {@link GroundTruthBox} for the dataset the image belongs to.
 *
 * @param imageId the id of the image as in its dataset ({@link Annotation#imageId()})
 * @param label   class index into the dataset's {@link ClassList}
 */
public record Detection(String imageId, int label, double x1, double y1, double x2, double y2, double score) {}
