package org.frcnn4j.anchor;

import java.util.ArrayList;
import java.util.List;
import org.frcnn4j.io.BadInputException;
import org.frcnn4j.io.Ranges;

/**
 * The anchors (paper, section 3.1.1). Read by {@link org.frcnn4j.rpn.RegionProposalNetwork} (through
 * {@link AnchorGenerator}).
 *
 * @param style      py-faster-rcnn's or torchvision's anchor placement
 * @param stride     feature stride in input pixels (16) where the style fixes it (paper style; torchvision derives
 *                   each level's stride from the input and feature sizes)
 * @param sizes      anchor sizes in pixels at every position of a single-level backbone (paper: 128, 256, 512 =
 *                   scales 8, 16, 32 of base 16)
 * @param ratios     aspect ratios h/w (0.5, 1, 2), the same on every level
 * @param levelSizes with a feature pyramid, the sizes of each level (torchvision's ResNet FPN: 32, 64, 128, 256, 512,
 *                   one per level; its MobileNetV3 FPN: all five on each of 3 levels); null for a single level
 */
public record AnchorConfig(AnchorGenerator.Style style, int stride, double[] sizes, double[] ratios, double[][] levelSizes) {
    public AnchorConfig {
        Ranges.given("anchors.style", style);
        Ranges.atLeast("anchors.stride", stride, 1);
        Ranges.positive("anchors.ratios", ratios);
        if (levelSizes == null) {
            Ranges.positive("anchors.sizes", sizes);
        } else {
            if (levelSizes.length == 0) {
                throw new BadInputException("anchors.levelSizes must list at least one level");
            }
            for (double[] level : levelSizes) {
                Ranges.positive("anchors.levelSizes (each level)", level);
                // the RPN head predicts the same k on every level
                if (level.length != levelSizes[0].length) {
                    throw new BadInputException("anchors.levelSizes must give every level as many sizes as the first ("
                            + levelSizes[0].length + "), not " + level.length);
                }
            }
        }
    }


    /** A single-level configuration. */
    public AnchorConfig(AnchorGenerator.Style style, int stride, double[] sizes, double[] ratios) {
        this(style, stride, sizes, ratios, null);
    }

    /** The generator of a single-level backbone. */
    public AnchorGenerator generator() {
        return generator(sizes);
    }

    /** One generator per level: the level sizes' generators, or the single one for each of {@code levels}. */
    public List<AnchorGenerator> generators(int levels) {
        List<AnchorGenerator> out = new ArrayList<>();
        for (int l = 0; l < levels; l++) {
            out.add(generator(sizesOf(l)));
        }
        return out;
    }

    /** The anchor sizes of feature level {@code level} (every level's, without a pyramid). */
    public double[] sizesOf(int level) {
        return levelSizes == null ? sizes : levelSizes[level];
    }

    /** Levels the configuration names (1 without a pyramid). */
    public int levels() {
        return levelSizes == null ? 1 : levelSizes.length;
    }

    private AnchorGenerator generator(double[] levelSizes) {
        if (style == AnchorGenerator.Style.PAPER) {
            double[] scales = new double[levelSizes.length];
            for (int i = 0; i < levelSizes.length; i++) {
                scales[i] = levelSizes[i] / stride;
            }
            return AnchorGenerator.paper(stride, ratios, scales);
        }
        return AnchorGenerator.torchvision(levelSizes, ratios);
    }

    /** Anchors per feature position (the RPN head's k); the same on every level. */
    public int anchorsPerPosition() {
        return (levelSizes == null ? sizes.length : levelSizes[0].length) * ratios.length;
    }
}
