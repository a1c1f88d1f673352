package org.frcnn4j.train;

import java.util.List;

/**
 * How a model is trained; saved as {@code train.json} in the run folder. The nested records hold the paper's
 * numbers (section 3.1.3 and 3.2, py-faster-rcnn's config.py) unless a preset says otherwise.
 *
 * @param schedule      approximate joint training, or the 4-step alternating training of section 3.2
 * @param iterations    joint: the number of iterations; alternating: the iterations of each of the 4 steps
 * @param imagesPerIteration images whose losses are averaged in one update (the paper: 1)
 * @param flip          random horizontal flips (the paper's only augmentation)
 * @param seed          shuffling, flips, sampling and initialisation all derive from it
 * @param frozen        parameter-name prefixes kept fixed (py-faster-rcnn freezes VGG-16's conv1 and conv2)
 * @param trainScales   shorter-side sizes, one drawn per training image (Fast R-CNN's multi-scale training, section
 *                      5.2 of that paper); empty: the model's own input size, as this paper trains
 */
public record TrainConfig(Schedule schedule, int[] iterations, int imagesPerIteration, boolean flip, long seed,
                          Solver solver, RpnTargets rpnTargets, RoiTargets roiTargets, Losses losses,
                          List<String> frozen, int checkpointEvery, int validateEvery, int[] trainScales) {

    public enum Schedule { JOINT, ALTERNATING }

    /** The total number of iterations of the schedule. */
    public int totalIterations() {
        int sum = 0;
        for (int i : iterations) {
            sum += i;
        }
        return sum;
    }

    public TrainConfig withIterations(int... its) {
        return new TrainConfig(schedule, its, imagesPerIteration, flip, seed, solver, rpnTargets, roiTargets, losses,
                frozen, checkpointEvery, validateEvery, trainScales);
    }

    public TrainConfig withSchedule(Schedule s, int... its) {
        return new TrainConfig(s, its, imagesPerIteration, flip, seed, solver, rpnTargets, roiTargets, losses, frozen,
                checkpointEvery, validateEvery, trainScales);
    }

    public TrainConfig withSeed(long s) {
        return new TrainConfig(schedule, iterations, imagesPerIteration, flip, s, solver, rpnTargets, roiTargets, losses,
                frozen, checkpointEvery, validateEvery, trainScales);
    }

    public TrainConfig withSolver(Solver s) {
        return new TrainConfig(schedule, iterations, imagesPerIteration, flip, seed, s, rpnTargets, roiTargets, losses,
                frozen, checkpointEvery, validateEvery, trainScales);
    }

    public TrainConfig withLosses(Losses l) {
        return new TrainConfig(schedule, iterations, imagesPerIteration, flip, seed, solver, rpnTargets, roiTargets, l,
                frozen, checkpointEvery, validateEvery, trainScales);
    }

    public TrainConfig withIntervals(int checkpoint, int validate) {
        return new TrainConfig(schedule, iterations, imagesPerIteration, flip, seed, solver, rpnTargets, roiTargets, losses,
                frozen, checkpoint, validate, trainScales);
    }

    public TrainConfig withTargets(RpnTargets r, RoiTargets o) {
        return new TrainConfig(schedule, iterations, imagesPerIteration, flip, seed, solver, r, o, losses, frozen,
                checkpointEvery, validateEvery, trainScales);
    }

    public TrainConfig withImagesPerIteration(int n) {
        return new TrainConfig(schedule, iterations, n, flip, seed, solver, rpnTargets, roiTargets, losses, frozen,
                checkpointEvery, validateEvery, trainScales);
    }

    public TrainConfig withTrainScales(int... scales) {
        for (int v : scales) {
            if (v <= 0) {
                throw new org.frcnn4j.io.BadInputException("training scales must be positive, got " + v);
            }
        }
        return new TrainConfig(schedule, iterations, imagesPerIteration, flip, seed, solver, rpnTargets, roiTargets, losses,
                frozen, checkpointEvery, validateEvery, scales.clone());
    }

    /** Learning-rate decay after the warm-up. */
    public enum Decay { STEP, COSINE }

    /**
     * SGD with momentum (py-faster-rcnn's solver habits).
     *
     * @param baseLr          learning rate (0.001 in py-faster-rcnn for VGG-16 with ImageNet weights)
     * @param biasLrFactor    biases learn this many times faster (2) and get no weight decay
     * @param steps           STEP decay: iterations (fractions of the schedule, 0..1) at which lr is multiplied by gamma
     * @param warmupIterations linear warm-up from warmupFactor * lr
     */
    public record Solver(double baseLr, double momentum, double weightDecay, double biasLrFactor, Decay decay,
                         double[] steps, double gamma, int warmupIterations, double warmupFactor, double clipGradNorm) {

        /** The learning rate at an iteration (0-based) of a run of {@code total} iterations. */
        public double learningRate(int iteration, int total) {
            double lr = baseLr;
            if (decay == Decay.COSINE) {
                double t = Math.min(1.0, Math.max(0.0, (double) (iteration - warmupIterations) / Math.max(1, total - warmupIterations)));
                lr = baseLr * 0.5 * (1 + StrictMath.cos(Math.PI * t));
            } else {
                for (double s : steps) {
                    if (iteration >= s * total) {
                        lr *= gamma;
                    }
                }
            }
            if (iteration < warmupIterations) {
                double alpha = (double) iteration / warmupIterations;
                lr *= warmupFactor * (1 - alpha) + alpha;
            }
            return lr;
        }
    }

    /**
     * RPN targets (section 3.1.2).
     *
     * @param ignoreCrossBoundary anchors crossing the image edge are ignored in training (paper; torchvision keeps them)
     */
    public record RpnTargets(int batchSize, float positiveFraction, float positiveIou, float negativeIou,
                             boolean ignoreCrossBoundary) {}

    /**
     * Fast R-CNN targets: proposals plus ground truth, up to {@code batchSize} RoIs with up to {@code positiveFraction}
     * foreground (IoU &gt;= foregroundIou); background IoU in [backgroundIouLow, foregroundIou).
     */
    public record RoiTargets(int batchSize, float positiveFraction, float foregroundIou, float backgroundIouLow) {}

    /** How the losses are normalised. */
    public enum RpnNormalization {
        /** The paper's equation 1: N_cls = the sampled anchors (256), N_reg = the number of anchor locations. */
        PAPER,
        /** py-faster-rcnn's and torchvision's code: both terms divided by the number of sampled anchors. */
        SAMPLED
    }

    /**
     * @param rpnLambda  the paper's lambda (10 with PAPER normalisation; 1 in the code)
     * @param rpnBeta    smooth L1 transition point (1 in the paper; 1/9 in py-faster-rcnn's RPN and torchvision)
     * @param headBeta   the head's smooth L1 transition (1 in py-faster-rcnn; 1/9 in torchvision)
     */
    public record Losses(RpnNormalization rpnNormalization, float rpnLambda, float rpnBeta, float headLambda,
                         float headBeta) {}
}
