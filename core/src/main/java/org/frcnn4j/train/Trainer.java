package org.frcnn4j.train;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.frcnn4j.data.Dataset;
import org.frcnn4j.eval.VocEvaluator;
import org.frcnn4j.model.BackboneCheckpoint;
import org.frcnn4j.model.DatasetDetection;
import org.frcnn4j.model.FasterRcnn;
import org.frcnn4j.model.FasterRcnn.Train;
import org.frcnn4j.model.FasterRcnnConfig;
import org.frcnn4j.model.ModelFiles;
import org.frcnn4j.nn.ConvGuard;
import org.frcnn4j.nn.HandBackward;
import org.frcnn4j.nn.Precision;
import org.frcnn4j.nn.Parameters;
import org.frcnn4j.transform.ImageTransform;

/**
 * Trains a Faster R-CNN on a dataset, as approximate joint training or as the 4-step alternating training of the
 * paper's section 3.2, in a run folder: {@code log.csv} (one row per iteration), {@code val.csv} (validation mAP at
 * intervals), checkpoints ({@link Checkpoints}) and the final model folder {@code model/}. A run can resume from its
 * last checkpoint and then continues exactly as an uninterrupted run would (same weights, optimizer state, images,
 * flips and samples; dropout excepted).
 */
public final class Trainer {
    /** Receives progress; the library prints nothing itself. */
    public interface Listener {
        void iteration(IterationLog log);

        default void validation(int iteration, double mAP) {}

        default void message(String text) {}
    }

    /** One iteration's numbers (losses averaged over its images; NaN for losses the step does not train). */
    public record IterationLog(int iteration, int totalIterations, int step, double learningRate, double rpnObjectness,
                               double rpnBox, double classifier, double boxRegression, double loss, double seconds) {}

    /**
     * Training stopped on request ({@link #requestStop}) at an iteration boundary, after a checkpoint of that
     * iteration: resuming continues from there.
     */
    public static final class StoppedException extends RuntimeException {
        private final int iteration;

        public StoppedException(int iteration) {
            super("stopped after iteration " + iteration);
            this.iteration = iteration;
        }

        public int iteration() {
            return iteration;
        }
    }

    private volatile boolean stopRequested;

    /** The convolutions' work and the time of the iterations {@link #run} has executed, validation excluded. */
    public static final class Work {
        private long forward;
        private long backward;
        private double seconds;
        private int iterations;

        synchronized void add(ConvGuard.Flops f, double s) {
            forward += f.forward();
            backward += f.backward();
            seconds += s;
            iterations++;
        }

        public synchronized int iterations() {
            return iterations;
        }

        /** The convolutions' floating-point operations of all iterations, forward and gradients. */
        public synchronized ConvGuard.Flops flops() {
            return new ConvGuard.Flops(forward, backward);
        }

        public synchronized double seconds() {
            return seconds;
        }
    }

    private final Work work = new Work();

    /** What the iterations run so far computed in convolutions, and how long they took. */
    public Work work() {
        return work;
    }

    /**
     * Asks a running {@link #run} to stop cleanly: the iteration under way finishes, a checkpoint of it is written,
     * and {@code run} throws {@link StoppedException}. Safe from any thread (a signal handler, a UI).
     */
    public void requestStop() {
        stopRequested = true;
    }

    /** Training stopped: a non-finite loss (the last good checkpoint is kept). */
    public static final class TrainingException extends RuntimeException {
        public TrainingException(String message) {
            super(message);
        }
    }

    static final String CSV_HEADER = "iteration,step,lr,rpn_objectness,rpn_box,classifier,box_regression,total,seconds";

    private FasterRcnnConfig modelConfig;
    private final TrainConfig config;
    private final Dataset train;
    private final Dataset validation;
    private final Path runDir;
    private final Listener listener;
    private org.frcnn4j.proposals.ProposalCache precomputed;
    private InitialWeights initialWeights;
    private boolean replace;
    private Precision precision = Precision.FP32;
    private java.util.Map<String, Object> dataset = java.util.Map.of();
    private final java.util.Map<Integer, ImageTransform> scaledTransforms = new java.util.concurrent.ConcurrentHashMap<>();

    public Trainer(FasterRcnnConfig modelConfig, TrainConfig config, Dataset train, Dataset validation, Path runDir,
                   Listener listener) {
        this.modelConfig = modelConfig;
        this.config = config;
        this.train = train;
        this.validation = validation;
        this.runDir = runDir;
        this.listener = listener;
    }

    /**
     * Trains Fast R-CNN on precomputed proposals instead of the RPN's (the pipeline the paper improves on: R-CNN's
     * Selective Search boxes). Only the backbone and the head learn; the schedule must be joint.
     */
    public Trainer withPrecomputedProposals(org.frcnn4j.proposals.ProposalCache cache) {
        if (config.schedule() != TrainConfig.Schedule.JOINT) {
            throw new org.frcnn4j.io.BadInputException("precomputed proposals train Fast R-CNN alone: use the joint schedule");
        }
        this.precomputed = cache;
        // the model records where its regions come from, so that detect and eval use the same kind
        this.modelConfig = modelConfig.with(FasterRcnnConfig.Proposals.SELECTIVE_SEARCH);
        return this;
    }

    /**
     * Starts from a model folder's weights instead of random initialisation (both detectors of alternating training
     * start from them, as py-faster-rcnn's start from the ImageNet model); see {@link ModelFiles#initialise}.
     */
    public Trainer withInitialWeights(Path modelDir) {
        this.initialWeights = (c, manager, seed) -> ModelFiles.initialise(modelDir, c, manager, seed);
        return this;
    }

    /**
     * Starts the backbone body from an ImageNet classification checkpoint (torchvision's resnet50 or
     * mobilenet_v3_large .pth) and draws the rest; the model configuration must have the checkpoint's depth and width
     * ({@link BackboneCheckpoint#configure}).
     */
    public Trainer withInitialBackbone(Path checkpoint) {
        this.initialWeights = (c, manager, seed) -> BackboneCheckpoint.initialise(checkpoint, c, manager, seed);
        return this;
    }

    /** Where a fresh run's weights come from. */
    @FunctionalInterface
    private interface InitialWeights {
        FasterRcnn create(FasterRcnnConfig config, NDManager manager, long seed);
    }

    /**
     * Records what the run trains on (the dataset's path, splits, classes: anything the caller wants a resumed run
     * compared against), saved in the run folder's {@value #RUN_FILE}.
     */
    public Trainer withDataset(java.util.Map<String, Object> description) {
        this.dataset = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(description));
        return this;
    }

    /**
     * Trains with the convolutions and their gradients in bfloat16 ({@link Precision#BF16}: bfloat16 inputs, float32
     * sums, float32 weights and updates; channels-last maps) where the CPU has AVX512_BF16 or AMX; refused elsewhere.
     * Everything else (normalisation, the fully connected head, the losses, the step) stays float32. The default,
     * float32, is what the parity tests hold to. Not part of the run's settings: a resumed run may change it.
     */
    public Trainer withPrecision(Precision p) {
        this.precision = p.requireAvailable();
        return this;
    }

    /**
     * Lets a fresh run replace another run in its folder (its log, validation, checkpoints and model), and a resumed
     * run continue with settings other than the run's own. Without it both are refused.
     */
    public Trainer replacing(boolean yes) {
        this.replace = yes;
        return this;
    }

    /** The run's settings (model, training, dataset), written when it starts; a resumed run must match them. */
    public static final String RUN_FILE = "run.json";

    /** Settings that change no arithmetic: a resumed run may change them freely. */
    private static final java.util.Set<String> FREE = java.util.Set.of("train.checkpointEvery", "train.validateEvery");

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private com.fasterxml.jackson.databind.node.ObjectNode runRecord() {
        com.fasterxml.jackson.databind.node.ObjectNode o = JSON.createObjectNode();
        o.set("model", JSON.valueToTree(modelConfig));
        o.set("train", JSON.valueToTree(config));
        o.set("dataset", JSON.valueToTree(dataset));
        return o;
    }

    /** Whether the folder holds (part of) a run: a log, checkpoints or the run's settings. */
    public static boolean holdsRun(Path dir) {
        return Files.exists(dir.resolve("log.csv")) || Files.exists(dir.resolve("checkpoints"))
                || Files.exists(dir.resolve(RUN_FILE)) || Files.exists(dir.resolve("train.json"));
    }

    /** A fresh run into a folder with another run: refused, or (replacing) the old run's files removed. */
    private void startAfresh() throws IOException {
        if (!holdsRun(runDir)) {
            return;
        }
        // a start that failed before its first iteration (bad data, a bad flag) left files but no progress: its
        // leftovers are cleared as --force clears a run, without asking for --force
        boolean progress = Files.exists(runDir.resolve("checkpoints")) || Files.exists(runDir.resolve("model"))
                || loggedIterations(runDir) > 0;
        if (progress && !replace) {
            throw new org.frcnn4j.io.BadInputException(runDir + ": holds another run (log.csv, checkpoints); continue "
                    + "it with --resume, train into another folder, or replace it with --force");
        }
        for (String name : List.of("log.csv", "val.csv", "train.json", RUN_FILE, "loss.png", "checkpoints", "model")) {
            org.frcnn4j.io.AtomicFiles.deleteTree(runDir.resolve(name));
        }
    }

    /** The iterations log.csv records (0 when it is missing or holds its header only). */
    private static long loggedIterations(Path runDir) throws IOException {
        Path log = runDir.resolve("log.csv");
        if (!Files.isRegularFile(log)) {
            return 0;
        }
        try (java.util.stream.Stream<String> lines = Files.lines(log)) {
            return Math.max(0, lines.filter(l -> !l.isBlank()).count() - 1);
        }
    }

    /** A resumed run must have the settings it started with (unless replacing). */
    private void checkSameRun() throws IOException {
        Path f = runDir.resolve(RUN_FILE);
        if (replace || !Files.isRegularFile(f)) {
            return; // runs written before run.json existed cannot be compared
        }
        com.fasterxml.jackson.databind.JsonNode saved;
        try {
            saved = JSON.readTree(f.toFile());
        } catch (IOException e) {
            throw new org.frcnn4j.io.BadInputException(f + ": unreadable run settings: " + e.getMessage(), e);
        }
        // compared as written: float fields read back as they were printed
        String diff = org.frcnn4j.io.JsonDiff.first(saved, JSON.readTree(JSON.writeValueAsBytes(runRecord())), FREE);
        if (diff != null) {
            throw new org.frcnn4j.io.BadInputException(runDir + ": the run there differs from these settings in "
                    + diff + " (the run's vs now); resume it with its own settings, or give --force to go on with these");
        }
    }

    private FasterRcnn newModel(NDManager manager, long seed) {
        return initialWeights == null ? FasterRcnn.create(modelConfig, manager, seed)
                : initialWeights.create(modelConfig, manager, seed);
    }

    /** Trains (or resumes) and returns the final model, also saved in {@code runDir/model}. */
    public FasterRcnn run(NDManager manager, boolean resume) throws IOException {
        Files.createDirectories(runDir);
        Checkpoints checkpoints = new Checkpoints(runDir);
        Checkpoints.State state = resume ? checkpoints.latest() : null;
        if (resume && state == null) {
            listener.message("no checkpoint in " + runDir + ": starting from the beginning");
        }
        if (state == null) {
            if (!resume) {
                startAfresh();
            }
            org.frcnn4j.io.AtomicFiles.write(runDir.resolve(RUN_FILE), JSON.writeValueAsBytes(runRecord()));
            org.frcnn4j.io.AtomicFiles.write(runDir.resolve("log.csv"), CSV_HEADER + "\n");
        } else {
            checkSameRun();
            truncateLog(state.iteration());
            listener.message("resuming at iteration " + state.iteration() + " from " + state.folder());
        }
        int start = state == null ? 0 : state.iteration();
        int[] steps = config.schedule() == TrainConfig.Schedule.JOINT ? new int[] {config.iterations()[0]} : config.iterations();
        if (config.schedule() == TrainConfig.Schedule.ALTERNATING && steps.length != 4) {
            throw new IllegalArgumentException("alternating training needs 4 step lengths, got " + steps.length);
        }
        int total = 0;
        for (int s : steps) {
            total += s;
        }
        FasterRcnn model = state == null ? newModel(manager, config.seed())
                : ModelFiles.load(state.folder(), manager);
        FasterRcnn proposer = null;
        if (state != null && Files.isDirectory(state.folder().resolve(Checkpoints.PROPOSER))) {
            proposer = ModelFiles.load(state.folder().resolve(Checkpoints.PROPOSER), manager);
        }
        int first = 0;
        for (int s = 0; s < steps.length; s++) {
            int end = first + steps[s];
            if (start < end) {
                if (config.schedule() == TrainConfig.Schedule.ALTERNATING && start == first) {
                    // entering a step: set up its networks (section 3.2)
                    if (s == 1) {
                        proposer = model; // step 1's RPN proposes; Fast R-CNN trains with its own backbone
                        model = newModel(manager, RandomStreams.of(config.seed(), RandomStreams.Purpose.INITIALISATION, 2).nextLong());
                    } else if (s == 2) {
                        if (proposer != null) {
                            proposer.close();
                            proposer = null;
                        }
                        // RPN from the detector's backbone, new RPN layers drawn from the run's seed
                        model = withFreshRpn(model, manager,
                                RandomStreams.of(config.seed(), RandomStreams.Purpose.INITIALISATION, 3).nextLong());
                    }
                }
                runStep(s, first, end, Math.max(start, first), total, model, proposer, manager, state, checkpoints);
                state = null;
            }
            first = end;
        }
        if (proposer != null) {
            proposer.close();
        }
        ModelFiles.save(model, runDir.resolve("model"));
        return model;
    }

    private static FasterRcnn withFreshRpn(FasterRcnn detector, NDManager manager, long seed) {
        Parameters params = new Parameters(manager, seed);
        detector.parameters().all().forEach((name, value) -> {
            if (!name.startsWith("rpn.")) {
                params.put(name, value);
            }
        });
        FasterRcnn model = new FasterRcnn(detector.config(), params);
        detector.close();
        return model;
    }

    /**
     * The input transform of iteration {@code it}'s image {@code b}: the model's, or with multi-scale training one
     * of the configured shorter sides, drawn from the seed and the position (so a resumed run draws the same).
     */
    private ImageTransform transformFor(FasterRcnn model, int it, int b) {
        int scale = trainingScale(config, it, b);
        return scale == 0 ? model.transform() : scaledTransforms.computeIfAbsent(scale, s -> new ImageTransform(
                modelConfig.transform().withSizes(s, modelConfig.transform().maxSize())));
    }

    /** The shorter side drawn for iteration {@code it}'s image {@code b}, or 0 without multi-scale training. */
    static int trainingScale(TrainConfig config, int it, int b) {
        int[] scales = config.trainScales();
        if (scales == null || scales.length == 0) {
            return 0;
        }
        return scales[RandomStreams.of(config.seed(), RandomStreams.Purpose.TRAINING_SCALE, it, b)
                .nextInt(scales.length)];
    }

    /** What each step trains: joint = everything; alternating = RPN, head, RPN layers only, head layers only. */
    private List<String> trainable(int step, FasterRcnn model) {
        List<String> out = new ArrayList<>();
        for (String name : model.parameters().all().keySet()) {
            boolean frozen = config.frozen().stream().anyMatch(name::startsWith);
            boolean inStep = switch (precomputed != null ? 1 : config.schedule() == TrainConfig.Schedule.JOINT ? -1 : step) {
                case 0 -> !name.startsWith("roi_heads.");
                case 1 -> !name.startsWith("rpn.");
                case 2 -> name.startsWith("rpn.");
                case 3 -> name.startsWith("roi_heads.");
                default -> true;
            };
            if (inStep && !frozen && !model.parameters().isBuffer(name)) { // buffers (batch-norm statistics) never train
                out.add(name);
            }
        }
        return out;
    }

    private void runStep(int step, int first, int end, int from, int total, FasterRcnn model, FasterRcnn proposer,
                         NDManager manager, Checkpoints.State resumed, Checkpoints checkpoints) throws IOException {
        List<String> names = trainable(step, model);
        model.parameters().all().forEach((name, a) -> a.setRequiresGradient(names.contains(name)));
        if (proposer != null) {
            proposer.parameters().all().values().forEach(a -> a.setRequiresGradient(false));
        }
        Train what = precomputed != null ? Train.HEAD : config.schedule() == TrainConfig.Schedule.JOINT ? Train.BOTH
                : step % 2 == 0 ? Train.RPN : Train.HEAD;
        java.util.Map<String, org.frcnn4j.data.Annotation> byId = new java.util.HashMap<>();
        train.images().forEach(a -> byId.put(a.imageId(), a));
        int perIteration = config.imagesPerIteration();
        // batch statistics (the v2 model's batch norms) must be the batch's: those models keep the batched pass
        java.util.concurrent.ExecutorService workers = model.parameters().hasBatchStatistics() ? null
                : dataParallelWorkers(perIteration);
        try (Sgd sgd = new Sgd(config.solver(), manager);
             TrainingData data = new TrainingData(train, config.seed(), config.flip(), modelConfig.plusOne(),
                     (long) from * perIteration).withInput((k, image, m) -> transformFor(model,
                     Math.toIntExact(k / perIteration), (int) (k % perIteration)).apply(image, m));
             StepGate gate = StepGate.fromProperty()) {
            if (resumed != null) {
                Checkpoints.loadOptimizer(resumed, sgd);
            }
            // -Dfrcnn.profile=FILE: PyTorch's profiler over two iterations (Chrome trace JSON), by default this step's
            // 4th and 5th; -Dfrcnn.profileAfter=N starts it after N iterations instead (past the native heap's growth,
            // whose page faults inflate the first iterations' elementwise operators several times over)
            String profile = System.getProperty("frcnn.profile");
            int profileAfter = Integer.getInteger("frcnn.profileAfter", 3);
            boolean profiling = false;
            for (int it = from; it < end; it++) {
                gate.await(); // before the profiler starts: its trace holds iterations, not waits
                if (profile != null && it == from + profileAfter) {
                    profiling = true;
                    ai.djl.pytorch.jni.JniUtils.startProfile(false, true, false);
                }
                long t0 = System.nanoTime();
                ConvGuard.Flops flops0 = ConvGuard.flopsSoFar();
                double lr = config.solver().learningRate(it - first, end - first);
                double[] sums = new double[5];
                try (NDManager scope = model.parameters().manager().newSubManager()) {
                    List<FasterRcnn.TrainingImage> batch = new ArrayList<>();
                    List<String> ids = new ArrayList<>();
                    for (int b = 0; b < perIteration; b++) {
                        TrainingData.Example ex = data.next();
                        ids.add(ex.imageId());
                        ImageTransform.Transformed t = ex.input();
                        t.tensor().attach(scope);
                        float[] proposals = proposer == null ? null : proposer.trainingProposals(t);
                        if (precomputed != null) {
                            proposals = t.toInput(ex.frame(precomputed.proposals(byId.get(ex.imageId())), modelConfig.plusOne()));
                        }
                        Random random = RandomStreams.of(config.seed(), RandomStreams.Purpose.SAMPLING, it, b);
                        batch.add(new FasterRcnn.TrainingImage(t, t.toInput(ex.boxes()), ex.labels(), proposals, random));
                    }
                    List<ImageLosses> losses = workers != null ? inParallel(model, batch, what, workers)
                            : together(model, batch, what);
                    for (int b = 0; b < losses.size(); b++) {
                        if (losses.get(b).sampledAnchors() == 0) {
                            reportNoAnchors(ids.get(b), batch.get(b).image());
                        }
                        accumulate(sums, losses.get(b), perIteration);
                    }
                    checkFinite(it, sums, what);
                    sgd.step(model.parameters(), names, lr);
                }
                double seconds = (System.nanoTime() - t0) / 1e9;
                work.add(ConvGuard.flopsSoFar().since(flops0), seconds);
                if (profiling && (it == from + profileAfter + 1 || it + 1 == end)) {
                    ai.djl.pytorch.jni.JniUtils.stopProfile(profile);
                    profiling = false;
                }
                IterationLog log = new IterationLog(it + 1, total, step + 1, lr, sums[0], sums[1], sums[2], sums[3],
                        sums[4], seconds);
                appendLog(log);
                listener.iteration(log);
                boolean last = it + 1 == end;
                boolean stopping = stopRequested && !last;
                boolean checkpoint = stopping || (config.checkpointEvery() > 0 && ((it + 1) % config.checkpointEvery() == 0 || last));
                if (checkpoint || last) {
                    requireFiniteWeights(it, model);
                }
                if (checkpoint) {
                    checkpoints.save(it + 1, step, model, sgd, step == 1 ? proposer : null);
                }
                if (stopping) {
                    throw new StoppedException(it + 1);
                }
                if (validation != null && config.validateEvery() > 0 && ((it + 1) % config.validateEvery() == 0 || (last && it + 1 == total))) {
                    validate(it + 1, model);
                }
            }
        } finally {
            if (workers != null) {
                workers.shutdownNow();
            }
        }
    }

    private static final String[] LOSS_NAMES = {"rpn_objectness", "rpn_box", "classifier", "box_regression"};

    /** Adds one image's losses (divided by the images per iteration); a loss the step does not train stays NaN. */
    private static void accumulate(double[] sums, ImageLosses l, int n) {
        for (int i = 0; i < 4; i++) {
            if (!l.trained()[i]) {
                sums[i] = Double.NaN;
                continue;
            }
            double v = l.values()[i] / n;
            sums[i] += v;
            sums[4] += v;
        }
    }

    /**
     * One image's four losses as numbers, which of them the step trains (an array, not null), and the anchors its RPN
     * loss was taken over.
     */
    private record ImageLosses(double[] values, boolean[] trained, int sampledAnchors) {
        static ImageLosses of(FasterRcnn.Losses l) {
            NDArray[] parts = {l.rpnObjectness(), l.rpnBox(), l.classifier(), l.boxRegression()};
            double[] values = new double[4];
            boolean[] trained = new boolean[4];
            for (int i = 0; i < 4; i++) {
                trained[i] = parts[i] != null;
                values[i] = trained[i] ? parts[i].getFloat() : Double.NaN;
            }
            return new ImageLosses(values, trained, l.sampledAnchors());
        }

        /** Whether every trained loss is finite: only then do its gradients go into the parameters. */
        boolean finite() {
            for (int i = 0; i < 4; i++) {
                if (trained[i] && !Double.isFinite(values[i])) {
                    return false;
                }
            }
            return true;
        }
    }

    /** The iteration's images as one batch through the network, and one backward pass of their mean loss. */
    private List<ImageLosses> together(FasterRcnn model, List<FasterRcnn.TrainingImage> batch, Train what) {
        List<ImageLosses> out = new ArrayList<>();
        try (GradientCollector gc = Engine.getInstance().newGradientCollector();
             HandBackward.Scope hand = HandBackward.open()) {
            List<FasterRcnn.Losses> losses;
            try (Precision.Scope arithmetic = Precision.use(precision)) {
                losses = model.trainingForward(batch, config.training(), what);
            }
            NDArray loss = null;
            for (FasterRcnn.Losses l : losses) {
                NDArray imageLoss = org.frcnn4j.nn.Scalars.div(l.total(), batch.size());
                loss = loss == null ? imageLoss : loss.add(imageLoss);
                out.add(ImageLosses.of(l));
            }
            if (out.stream().allMatch(ImageLosses::finite)) {
                gc.backward(loss);
                hand.backward(); // on into the parts that ran their forward pass without autograd
            }
        }
        return out;
    }

    /**
     * Data-parallel: each image of the iteration through the network on a thread of its own, each thread with one
     * engine thread, each on the batch's canvas ({@link FasterRcnn#trainingShare}); their backward passes add into the
     * parameters' gradients, as one pass over the batch would. On 2 cores the one-at-a-time pass leaves a core idle
     * for a fifth of the time (Java between operators, single-threaded small operators, the autograd engine's own
     * work); two images side by side fill it. Two images only: gradients then arrive as a + b or b + a, the same
     * float sum, so runs stay deterministic.
     */
    private List<ImageLosses> inParallel(FasterRcnn model, List<FasterRcnn.TrainingImage> batch, Train what,
                                         java.util.concurrent.ExecutorService workers) {
        long[] canvas = model.canvasSize(batch);
        int batchHeight = FasterRcnn.batchHeight(batch);
        List<java.util.concurrent.Future<ImageLosses>> futures = new ArrayList<>();
        for (FasterRcnn.TrainingImage image : batch) {
            futures.add(workers.submit(() -> {
                try (org.frcnn4j.nn.GradMode on = org.frcnn4j.nn.GradMode.set(true);
                     Precision.Scope arithmetic = Precision.use(precision);
                     HandBackward.Scope hand = HandBackward.open()) {
                    FasterRcnn.Losses l = model.trainingShare(image, config.training(), what, canvas, batchHeight);
                    ImageLosses values = ImageLosses.of(l);
                    if (values.finite()) {
                        NDArray imageLoss = org.frcnn4j.nn.Scalars.div(l.total(), batch.size());
                        ai.djl.pytorch.jni.JniUtils.backward((ai.djl.pytorch.engine.PtNDArray) imageLoss,
                                (ai.djl.pytorch.engine.PtNDArray) imageLoss.onesLike(), false, false);
                        hand.backward();
                    }
                    return values;
                }
            }));
        }
        // every image finished before anything is thrown: the iteration's arrays are freed when the caller's scope
        // closes, which must not happen under a thread still computing with them
        List<ImageLosses> out = new ArrayList<>();
        Throwable failure = null;
        boolean interrupted = false;
        for (java.util.concurrent.Future<ImageLosses> f : futures) {
            while (true) {
                try {
                    out.add(f.get());
                    break;
                } catch (java.util.concurrent.ExecutionException e) {
                    if (failure == null) {
                        failure = e.getCause();
                    }
                    break;
                } catch (InterruptedException e) {
                    interrupted = true; // wait on: the thread is using this iteration's arrays
                }
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        if (failure instanceof RuntimeException r) {
            throw r;
        }
        if (failure instanceof Error err) {
            throw err;
        }
        if (failure != null) {
            throw new IllegalStateException(failure);
        }
        return out;
    }

    /**
     * Threads for {@link #inParallel}, or null to run the iteration's images as one batch: two images per iteration
     * on a machine with two cores or more, unless {@code -Dfrcnn.dataParallel=false} (and never for a model whose
     * batch norms train with the batch's statistics: there each image alone would see only its own, and both threads
     * would update the running statistics at once).
     */
    private static java.util.concurrent.ExecutorService dataParallelWorkers(int perIteration) {
        if (perIteration != 2 || Runtime.getRuntime().availableProcessors() < 2
                || !Boolean.parseBoolean(System.getProperty("frcnn.dataParallel", "true"))) {
            return null;
        }
        // one engine thread each: two threads of two would fight over two cores
        return java.util.concurrent.Executors.newFixedThreadPool(perIteration,
                org.frcnn4j.nn.EngineThreads.single("frcnn4j-train"));
    }

    /**
     * Says once per run that an image gave the RPN nothing to learn: with cross-boundary anchors ignored (paper, section
     * 3.1.3) an input smaller than the smallest anchor has no anchor inside it. Its RPN losses are 0; training goes on.
     */
    private void reportNoAnchors(String imageId, ImageTransform.Transformed image) {
        if (!noAnchorsReported) {
            noAnchorsReported = true;
            listener.message("image " + imageId + ": no anchor lies inside its " + image.width() + "x" + image.height()
                    + " input (anchors crossing the border are ignored), so the RPN learns nothing from it;"
                    + " a larger --min-size or smaller anchors fix this (reported once)");
        }
    }

    private boolean noAnchorsReported;

    private static void checkFinite(int it, double[] sums, Train what) {
        for (int i = 0; i < 4; i++) {
            boolean trained = what == Train.BOTH || (what == Train.RPN) == (i < 2);
            if (trained && !Double.isFinite(sums[i])) {
                throw new TrainingException("iteration " + (it + 1) + ": the " + LOSS_NAMES[i] + " loss is " + sums[i]
                        + "; training stopped and the last checkpoint is kept (try a lower learning rate)");
            }
        }
    }

    /**
     * A checkpoint is only ever of finite weights: an update can overflow them while its loss was still finite, and
     * the next iteration would then stop on a NaN loss with the overflowed weights already saved.
     */
    private static void requireFiniteWeights(int it, FasterRcnn model) {
        try (ai.djl.ndarray.NDScope scope = new ai.djl.ndarray.NDScope()) {
            for (java.util.Map.Entry<String, NDArray> e : model.parameters().all().entrySet()) {
                float s = e.getValue().abs().sum().getFloat();
                if (!Float.isFinite(s)) {
                    throw new TrainingException("iteration " + (it + 1) + ": the weights became non-finite ('" + e.getKey()
                            + "'); training stopped and the last checkpoint is kept (try a lower learning rate)");
                }
            }
        }
    }

    private void validate(int iteration, FasterRcnn model) {
        double map = VocEvaluator.evaluate(validation, DatasetDetection.detectAll(model, validation, null),
                VocEvaluator.Options.voc07()).mAP();
        try {
            Path f = runDir.resolve("val.csv");
            if (!Files.exists(f)) {
                Files.writeString(f, "iteration,voc07_mAP\n");
            }
            Files.writeString(f, iteration + "," + map + "\n", StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        listener.validation(iteration, map);
    }

    private void appendLog(IterationLog l) throws IOException {
        String row = String.format(java.util.Locale.ROOT, "%d,%d,%.6g,%s,%s,%s,%s,%.6f,%.3f%n", l.iteration(), l.step(),
                l.learningRate(), num(l.rpnObjectness()), num(l.rpnBox()), num(l.classifier()), num(l.boxRegression()),
                l.loss(), l.seconds());
        Files.writeString(runDir.resolve("log.csv"), row, StandardOpenOption.APPEND);
    }

    private static String num(double v) {
        return Double.isNaN(v) ? "" : String.format(java.util.Locale.ROOT, "%.6f", v);
    }

    /** Drops log rows after the checkpoint a resumed run restarts from. */
    private void truncateLog(int iteration) throws IOException {
        Path f = runDir.resolve("log.csv");
        List<String> keep = new ArrayList<>();
        keep.add(CSV_HEADER);
        if (Files.exists(f)) {
            for (String line : Files.readAllLines(f)) {
                // rows up to the checkpoint; a row cut short by a kill (no full set of columns) is dropped
                String[] cols = line.split(",", -1);
                if (cols.length == CSV_HEADER.split(",").length && cols[0].matches("\\d{1,9}")
                        && Integer.parseInt(cols[0]) <= iteration) {
                    keep.add(line);
                }
            }
        }
        org.frcnn4j.io.AtomicFiles.write(f, String.join("\n", keep) + "\n");
    }

}
