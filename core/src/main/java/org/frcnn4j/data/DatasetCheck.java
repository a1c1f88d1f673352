package org.frcnn4j.data;

import java.util.ArrayList;
import java.util.List;

/**
 * What {@code frcnn data check} reports: counts, image sizes, and every problem, including those only found by
 * opening each image (missing or undecodable files, a {@code <size>} that disagrees with the pixels).
 *
 * @param boxesPerClass objects per label, difficult and crowd included
 */
public record DatasetCheck(Dataset dataset, int images, int boxes, int[] boxesPerClass, int difficult, int crowd,
                           int negativeImages, int minWidth, int maxWidth, int minHeight, int maxHeight,
                           List<Problem> problems) {

    /** Checks every image of the dataset; {@code decode} also decodes the pixels (slower, finds corrupt files). */
    public static DatasetCheck run(Dataset dataset, boolean decode) {
        int[] perClass = new int[dataset.classes().size()];
        int boxes = 0, difficult = 0, crowd = 0, negatives = 0;
        int minW = Integer.MAX_VALUE, maxW = 0, minH = Integer.MAX_VALUE, maxH = 0;
        List<Problem> problems = new ArrayList<>(dataset.problems());
        for (Annotation a : dataset.images()) {
            for (GroundTruthBox o : a.objects()) {
                perClass[o.label()]++;
                boxes++;
                difficult += o.difficult() ? 1 : 0;
                crowd += o.crowd() ? 1 : 0;
            }
            negatives += a.objects().isEmpty() ? 1 : 0;
            minW = Math.min(minW, a.width());
            maxW = Math.max(maxW, a.width());
            minH = Math.min(minH, a.height());
            maxH = Math.max(maxH, a.height());
        }
        // the images themselves, several at a time (decoding dominates), problems kept in dataset order
        dataset.images().parallelStream().map(a -> {
            List<Problem> found = new ArrayList<>(1);
            checkImage(a, decode, found);
            return found;
        }).toList().forEach(problems::addAll);
        if (dataset.images().isEmpty()) {
            minW = minH = 0;
        }
        return new DatasetCheck(dataset, dataset.images().size(), boxes, perClass, difficult, crowd, negatives,
                minW, maxW, minH, maxH, problems);
    }

    private static void checkImage(Annotation a, boolean decode, List<Problem> problems) {
        int[] wh;
        try {
            if (decode) {
                var img = Images.readRgb(a.imageFile());
                wh = new int[] {img.getWidth(), img.getHeight()};
            } else {
                wh = Images.header(a.imageFile());
            }
        } catch (DatasetException e) {
            problems.add(new Problem(a.imageFile(), e.reason()));
            return;
        }
        if (wh[0] != a.width() || wh[1] != a.height()) {
            problems.add(new Problem(a.imageFile(), "annotated size " + a.width() + "x" + a.height()
                    + " disagrees with the image's " + wh[0] + "x" + wh[1]));
        }
    }

    public boolean ok() {
        return problems.isEmpty();
    }

    /** The problems as lines, the first {@code limit} of them, then how many more there are. */
    public List<String> describe(int limit) {
        List<String> out = new ArrayList<>();
        problems.stream().limit(limit).forEach(p -> out.add(p.toString()));
        if (problems.size() > limit) {
            out.add("... and " + (problems.size() - limit) + " more");
        }
        return out;
    }
}
