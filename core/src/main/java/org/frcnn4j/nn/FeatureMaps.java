package org.frcnn4j.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import java.util.ArrayList;
import java.util.List;

/**
 * What a backbone gives the RPN and the RoI head: one feature map per level, finest first, named as torchvision names
 * them ("0" for the single map of ZF and VGG-16; "0", "1", ... and FPN's extra "pool" level for the newer backbones).
 *
 * @param names one per level
 * @param maps  (N, C, H, W) each, the same C on every level
 */
public record FeatureMaps(List<String> names, List<NDArray> maps) {
    public FeatureMaps {
        names = List.copyOf(names);
        maps = List.copyOf(maps);
        if (names.size() != maps.size() || maps.isEmpty()) {
            throw new IllegalArgumentException("feature maps and names differ in number");
        }
    }

    /** The one map of a single-level backbone. */
    public static FeatureMaps single(NDArray map) {
        return new FeatureMaps(List.of("0"), List.of(map));
    }

    public int levels() {
        return maps.size();
    }

    public NDArray get(int level) {
        return maps.get(level);
    }

    /** Image {@code i} of the batch: each map's (1, C, H, W) slice. */
    public FeatureMaps image(int i) {
        List<NDArray> out = new ArrayList<>(maps.size());
        for (NDArray m : maps) {
            out.add(m.get(new NDIndex("{}:{}", i, i + 1)));
        }
        return new FeatureMaps(names, out);
    }

    /**
     * The levels RoIs are pooled from: those named by a number, as torchvision's MultiScaleRoIAlign(["0", "1", "2",
     * "3"]) takes them (FPN's extra max-pooled level only serves the RPN).
     */
    public List<Integer> poolingLevels() {
        List<Integer> out = new ArrayList<>();
        for (int i = 0; i < names.size(); i++) {
            if (names.get(i).matches("\\d+")) {
                out.add(i);
            }
        }
        return out;
    }
}
