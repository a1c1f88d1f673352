package org.frcnn4j.testing;

import org.frcnn4j.data.Annotation;
import org.frcnn4j.data.GroundTruthBox;

/** An annotation's boxes and labels in the form the training forward pass takes. */
public final class GroundTruth {
    private GroundTruth() {}

    /** Every box of the annotation, x1 y1 x2 y2 in original-image pixels (m x 4). */
    public static float[] boxes(Annotation a) {
        float[] out = new float[4 * a.objects().size()];
        for (int i = 0; i < a.objects().size(); i++) {
            GroundTruthBox o = a.objects().get(i);
            out[4 * i] = (float) o.x1();
            out[4 * i + 1] = (float) o.y1();
            out[4 * i + 2] = (float) o.x2();
            out[4 * i + 3] = (float) o.y2();
        }
        return out;
    }

    /** Their classes as the model numbers them, 1..K (0 is background). */
    public static int[] labels(Annotation a) {
        return a.objects().stream().mapToInt(o -> o.label() + 1).toArray();
    }
}
