package org.frcnn4j.train;

import java.util.List;
import org.frcnn4j.head.HeadTraining;
import org.frcnn4j.rpn.RpnTraining;

/**
 * How a model is trained: the schedule, the optimiser and the data's order and augmentation, here; what the forward
 * pass needs for training (samples, loss weights) belongs to the parts that use it ({@link RpnTraining},
 * {@link HeadTraining}). Saved in the run folder's {@code run.json}. The paper's numbers (section 3.1.3 and 3.2,
 * py-faster-rcnn's config.py) unless a preset says otherwise.
 *
 * @param schedule      approximate joint training, or the 4-step alternating training of section 3.2
 * @param iterations    joint: the number of iterations; alternating: the iterations of each of the 4 steps
 * @param imagesPerIteration images whose losses are averaged in one update (the paper: 1)
 * @param flip          random horizontal flips (the paper's only augmentation)
 * @param seed          shuffling, flips, sampling and initialisation all derive from it
 * @param rpn           the RPN's anchor sampling and loss weights (its part of the forward pass, in {@code rpn})
 * @param head          the head's RoI sampling and loss weights (in {@code head})
 * @param frozen        parameter-name prefixes kept fixed (py-faster-rcnn freezes VGG-16's conv1 and conv2)
 * @param trainScales   shorter-side sizes, one drawn per training image (Fast R-CNN's multi-scale training, section
 *                      5.2 of that paper); empty: the model's own input size, as this paper trains
 */
public record TrainConfig(Schedule schedule, int[] iterations, int imagesPerIteration, boolean flip, long seed,
                          Solver solver, RpnTraining rpn, HeadTraining head,
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
        return new TrainConfig(schedule, its, imagesPerIteration, flip, seed, solver, rpn, head,
                frozen, checkpointEvery, validateEvery, trainScales);
    }

    public TrainConfig withSchedule(Schedule s, int... its) {
        return new TrainConfig(s, its, imagesPerIteration, flip, seed, solver, rpn, head, frozen,
                checkpointEvery, validateEvery, trainScales);
    }

    public TrainConfig withSeed(long s) {
        return new TrainConfig(schedule, iterations, imagesPerIteration, flip, s, solver, rpn, head,
                frozen, checkpointEvery, validateEvery, trainScales);
    }

    public TrainConfig withSolver(Solver s) {
        return new TrainConfig(schedule, iterations, imagesPerIteration, flip, seed, s, rpn, head,
                frozen, checkpointEvery, validateEvery, trainScales);
    }

    public TrainConfig withIntervals(int checkpoint, int validate) {
        return new TrainConfig(schedule, iterations, imagesPerIteration, flip, seed, solver, rpn, head,
                frozen, checkpoint, validate, trainScales);
    }

    /** What the forward pass needs of this configuration in training. */
    public org.frcnn4j.model.FasterRcnn.Training training() {
        return new org.frcnn4j.model.FasterRcnn.Training(rpn, head);
    }

    /** Other sampling and loss settings for the RPN and the head. */
    public TrainConfig withTraining(RpnTraining r, HeadTraining h) {
        return new TrainConfig(schedule, iterations, imagesPerIteration, flip, seed, solver, r, h, frozen,
                checkpointEvery, validateEvery, trainScales);
    }

    public TrainConfig withImagesPerIteration(int n) {
        return new TrainConfig(schedule, iterations, n, flip, seed, solver, rpn, head, frozen,
                checkpointEvery, validateEvery, trainScales);
    }

    public TrainConfig withTrainScales(int... scales) {
        for (int v : scales) {
            if (v <= 0) {
                throw new org.frcnn4j.io.BadInputException("training scales must be positive, got " + v);
            }
        }
        return new TrainConfig(schedule, iterations, imagesPerIteration, flip, seed, solver, rpn, head,
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
}
