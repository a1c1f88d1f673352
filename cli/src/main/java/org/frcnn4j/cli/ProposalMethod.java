package org.frcnn4j.cli;

import java.awt.image.BufferedImage;
import java.nio.file.Path;
import org.frcnn4j.io.BadInputException;
import org.frcnn4j.model.Detector;
import org.frcnn4j.proposals.SelectiveSearch;
import org.frcnn4j.rpn.ProposalGenerator;
import org.frcnn4j.rpn.RpnConfig;

/** A source of region proposals chosen on the command line: a model's RPN, or Selective Search. */
abstract class ProposalMethod implements AutoCloseable {
    abstract String name();

    abstract ProposalGenerator.Proposals propose(BufferedImage image);

    @Override
    public void close() {}

    /**
     * @param method rpn or selective-search
     * @param mode   fast or quality (Selective Search)
     * @param top    proposals wanted per image; the RPN's post-NMS top N is raised to it when smaller, from at least 3
     *               times as many candidates before NMS (one ranked list for every N, as the paper tests: Figure 4)
     */
    static ProposalMethod parse(String method, String mode, Path model, int top) {
        return parse(method, mode, model, top, org.frcnn4j.nn.Precision.FP32, c -> c, Candidates.AT_LEAST_3N);
    }

    /** How many candidates the RPN ranks before NMS when more proposals are asked for than the model keeps. */
    enum Candidates {
        /** The model's own (its proposals then come first: {@code frcnn propose}). */
        THE_MODELS,
        /** At least 3 times as many as asked for: one ranked list for every N, as the paper tests (Figure 4). */
        AT_LEAST_3N
    }

    /**
     * As {@link #parse(String, String, Path, int)}, the RPN computing in {@code precision}, its configuration
     * {@code adjust}ed (a run's --arithmetic), from {@code candidates}.
     */
    static ProposalMethod parse(String method, String mode, Path model, int top, org.frcnn4j.nn.Precision precision,
                                java.util.function.UnaryOperator<org.frcnn4j.model.FasterRcnnConfig> adjust,
                                Candidates candidates) {
        boolean widenCandidates = candidates == Candidates.AT_LEAST_3N;
        switch (method) {
            case "rpn" -> {
                if (model == null) {
                    throw new BadInputException("--method rpn needs --model");
                }
                precision.requireAvailable();
                Detector d = Detector.load(model, loaded -> {
                    org.frcnn4j.model.FasterRcnnConfig c = adjust.apply(loaded);
                    RpnConfig r = c.rpn();
                    return r.postNmsTopNTest() >= top ? c
                            // propose: only the cap after NMS moves, the model's own candidates before it
                            // (torchvision's top N per level), so that its own proposals are the first of these
                            : c.with(r.withTopN(widenCandidates ? Math.max(r.preNmsTopNTest(), 3 * top)
                                    : r.preNmsTopNTest(), top));
                });
                try {
                    d.withPrecision(precision);
                } catch (RuntimeException e) {
                    d.close();
                    throw e;
                }
                return new ProposalMethod() {
                    String name() {
                        return "rpn";
                    }

                    ProposalGenerator.Proposals propose(BufferedImage image) {
                        return d.propose(image, top);
                    }

                    @Override
                    public void close() {
                        d.close();
                    }
                };
            }
            case "selective-search" -> {
                SelectiveSearch ss = SelectiveSearch.of(switch (mode) {
                    case "fast" -> SelectiveSearch.Mode.FAST;
                    case "quality" -> SelectiveSearch.Mode.QUALITY;
                    default -> throw new BadInputException("--mode must be fast or quality, got '" + mode + "'");
                });
                return new ProposalMethod() {
                    String name() {
                        return "selective-search";
                    }

                    ProposalGenerator.Proposals propose(BufferedImage image) {
                        float[] boxes = ss.propose(image, top, 0);
                        float[] scores = new float[boxes.length / 4];
                        for (int i = 0; i < scores.length; i++) {
                            scores[i] = 1f - (float) i / scores.length; // rank order: Selective Search has no scores
                        }
                        return new ProposalGenerator.Proposals(boxes, scores);
                    }
                };
            }
            default -> throw new BadInputException("--method must be rpn or selective-search, got '" + method + "'");
        }
    }
}
