package org.frcnn4j.data;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

/**
 * Images with their ground truth, the class list, and the problems found while reading (objects with an unknown
 * class or an impossible box are left out of {@link #images()} and reported here instead).
 *
 * @param format  the layout the dataset was read from
 * @param leftOut the ids of the images left out of {@link #images()} for a problem of their own annotation (a VOC file
 *                missing or unreadable, a COCO image entry without a file name or size): results for them are not
 *                mistakes of the results, as results for an id the dataset never had are
 */
public record Dataset(Format format, ClassList classes, List<Annotation> images, List<Problem> problems,
                      Set<String> leftOut) {
    /** The on-disk layouts understood. */
    public enum Format { VOC, COCO }

    public Dataset {
        images = List.copyOf(images);
        problems = List.copyOf(problems);
        leftOut = Set.copyOf(leftOut);
    }

    /** A dataset that left no image out. */
    public Dataset(Format format, ClassList classes, List<Annotation> images, List<Problem> problems) {
        this(format, classes, images, problems, Set.of());
    }

    /**
     * Opens a dataset: a VOCdevkit-style folder (with {@code Annotations/}), a COCO instances JSON file, or a folder
     * holding one in {@code annotations/}.
     *
     * @param path    the dataset
     * @param split   VOC: the image set {@code ImageSets/Main/<split>.txt} (null: every annotation file);
     *                COCO folder: picks {@code annotations/instances_<split>.json}; a COCO file: must be null
     * @param classes the class names in label order, or null for the dataset's own order (COCO: only these
     *                categories, by name)
     */
    public static Dataset open(Path path, String split, List<String> classes) {
        org.frcnn4j.io.BadInputException.requireGiven(path, "Dataset.open", "the dataset path");
        for (int i = 0; classes != null && i < classes.size(); i++) {
            org.frcnn4j.io.BadInputException.requireGiven(classes.get(i), "Dataset.open",
                    "class name " + (i + 1) + " of " + classes.size());
            if (classes.get(i).isBlank()) {
                throw new org.frcnn4j.io.BadInputException("Dataset.open: class name " + (i + 1) + " of "
                        + classes.size() + " is empty");
            }
        }
        if (!Files.exists(path)) {
            throw new DatasetException(path, "no such file or folder");
        }
        if (Files.isDirectory(path) && Files.isDirectory(path.resolve("Annotations"))) {
            return VocReader.read(path, split, classes);
        }
        if (Files.isRegularFile(path) && path.getFileName().toString().endsWith(".json")) {
            if (split != null) {
                throw new DatasetException(path, "one COCO instances file is one split: a split '" + split
                        + "' applies to a COCO folder (annotations/instances_" + split + ".json) or a VOCdevkit folder");
            }
            return CocoReader.read(path, null, classes);
        }
        if (Files.isDirectory(path.resolve("annotations"))) {
            return CocoReader.read(CocoReader.findInstancesJson(path, split), null, classes);
        }
        throw new DatasetException(path, "not a dataset: expected a VOCdevkit folder (with Annotations/), "
                + "a COCO instances .json file, or a folder with annotations/instances_*.json");
    }

    /** Total number of annotated objects. */
    public int objectCount() {
        return images.stream().mapToInt(a -> a.objects().size()).sum();
    }
}
