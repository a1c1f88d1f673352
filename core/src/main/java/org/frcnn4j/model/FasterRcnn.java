package org.frcnn4j.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.NDManager;
import java.awt.image.BufferedImage;
import java.util.Random;
import org.frcnn4j.backbone.Backbone;
import org.frcnn4j.backbone.Backbones;
import org.frcnn4j.head.DetectionPostprocessor;
import org.frcnn4j.head.FastRcnnHead;
import org.frcnn4j.head.HeadTraining;
import org.frcnn4j.head.ProposalTargets;
import org.frcnn4j.io.BadInputException;
import org.frcnn4j.nn.ConvCheck;
import org.frcnn4j.nn.ConvGuard;
import org.frcnn4j.nn.MemoryLayout;
import org.frcnn4j.nn.Precision;
import org.frcnn4j.nn.FeatureMaps;
import org.frcnn4j.nn.HandBackward;
import org.frcnn4j.nn.Parameters;
import org.frcnn4j.roi.RoiFeatureExtractor;
import org.frcnn4j.rpn.ProposalGenerator;
import org.frcnn4j.rpn.RegionProposalNetwork;
import org.frcnn4j.rpn.RpnTraining;
import org.frcnn4j.transform.ImageTransform;

/**
 * Faster R-CNN (paper, Figure 2): one backbone computes the feature map; the RPN proposes regions from it; each
 * proposal is pooled from the same map and classified by the Fast R-CNN head. {@link #forward} is that diagram,
 * step by step; {@link #detect} and {@link #propose} wrap it with the image transform and the mapping back to the
 * original image.
 *
 * <p>Not thread-safe: give each thread its own model (see {@link org.frcnn4j.model.Detector}).
 */
public final class FasterRcnn implements AutoCloseable {
    private final FasterRcnnConfig config;
    private final Parameters params;
    private final ImageTransform transform;
    private final Backbone backbone;
    private final RegionProposalNetwork rpn;
    private final RoiFeatureExtractor roiPool;
    private final FastRcnnHead head;
    private final DetectionPostprocessor postprocessor;
    private volatile Precision precision = Precision.FP32;
    /**
     * The memory layout of inference's feature maps ({@link MemoryLayout}) as set by {@link #withLayout} or
     * {@code -Dfrcnn.layout=nhwc|nchw}; null: {@link MemoryLayout#preferred} for the precision (channels-last for
     * bfloat16 on AMX, row-major otherwise). Training's maps stay row-major.
     */
    private volatile MemoryLayout layout = configuredLayout();
    /** Bfloat16 copies of the fully connected weights, made by {@link #withPrecision} (weight to kept index). */
    private volatile java.util.Map<NDArray, Integer> kept = java.util.Map.of();
    /** Held (shared) by every call that uses the weights; {@link #close()} takes it alone, so they are never freed during one. */
    private final java.util.concurrent.locks.ReentrantReadWriteLock uses = new java.util.concurrent.locks.ReentrantReadWriteLock();
    /** Set by {@link #close()}, holding {@link #uses} alone. */
    private boolean closed;

    /** A model whose weights are all freshly initialised from {@code seed} (or loaded into {@code params} first). */
    public FasterRcnn(FasterRcnnConfig config, Parameters params) {
        this.config = config;
        this.params = params;
        this.transform = new ImageTransform(config.transform());
        // fast arithmetic folds batch norm whatever module the weights came from; torchvision's computes it as that one
        this.backbone = Backbones.create(config.arithmetic() == FasterRcnnConfig.Arithmetic.FAST
                ? config.backbone().folded() : config.backbone(), params);
        this.rpn = new RegionProposalNetwork(config.rpn(), config.anchors(), config.plusOne(), params,
                backbone.outChannels(), backbone.stride());
        int pyramid = config.backbone().fpn() == null ? 1 : config.backbone().fpn().returned().size();
        this.roiPool = RoiFeatureExtractor.create(config.roi(), backbone.stride(), pyramid);
        int pooled = config.roi().outputSize();
        this.head = new FastRcnnHead(params, backbone.outChannels(), pooled, config.head().fcSize(),
                config.head().numClasses(), config.head().dropout(), config.head().convLayers());
        this.postprocessor = new DetectionPostprocessor(config.head(), config.plusOne());
        // inference's convolutions are checked now; training's (with gradients) at their first use
        ConvGuard.shared().prepare(params.convolutions(), ConvCheck.Gradients.NONE, MemoryLayout.NCHW);
    }

    /**
     * The arithmetic of this model's inference from now on ({@link Precision}); training is float32 whatever this
     * says. Bfloat16 is refused with one line on a CPU without AVX512_BF16 or AMX; its convolutions are checked now.
     */
    public synchronized FasterRcnn withPrecision(Precision p) {
        try (Use u = use()) {
            BadInputException.requireGiven(p, "withPrecision", "the precision");
            if (p != Precision.FP32) {
                p.requireAvailable();
                try (Precision.Scope s = Precision.use(p)) {
                    ConvGuard.shared().prepare(params.convolutions(), ConvCheck.Gradients.NONE, layoutFor(p));
                }
            }
            forgetKept();
            if (p == Precision.BF16) {
                // the fully connected layers' weights (2-D), rounded once: they are most of a head's bytes
                java.util.Map<NDArray, Integer> k = new java.util.IdentityHashMap<>();
                params.all().forEach((name, w) -> {
                    if (w.getShape().dimension() == 2 && !params.isBuffer(name)) {
                        k.put(w, org.frcnn4j.nn.ScriptedOps.keep(w));
                    }
                });
                kept = java.util.Collections.unmodifiableMap(k);
            }
            this.precision = p;
            return this;
        }
    }

    /**
     * Inference's settings on this thread until closed: autograd off (libtorch starts every new thread with it on, so
     * a service's worker threads would otherwise record graphs, and bfloat16, which is for calls without gradients,
     * would not be used there), and this model's precision.
     */
    private Precision.Scope inference() {
        org.frcnn4j.nn.GradMode off = org.frcnn4j.nn.GradMode.set(false);
        Precision.Scope p = Precision.use(precision, kept);
        Precision.Scope peer = config.arithmetic() == FasterRcnnConfig.Arithmetic.TORCHVISION
                ? org.frcnn4j.nn.PeerArithmetic.open() : () -> { };
        return () -> {
            peer.close();
            p.close();
            off.close();
        };
    }

    private void forgetKept() {
        kept.values().forEach(org.frcnn4j.nn.ScriptedOps::forget);
        kept = java.util.Map.of();
    }

    public Precision precision() {
        return precision;
    }

    /** Sets the memory layout of this model's inference and training ({@link MemoryLayout}); results are the same either way. */
    public FasterRcnn withLayout(MemoryLayout l) {
        this.layout = java.util.Objects.requireNonNull(l);
        return this;
    }

    /** The memory layout this model's inference runs in now. */
    public MemoryLayout layout() {
        return layoutFor(precision);
    }

    private MemoryLayout layoutFor(Precision p) {
        MemoryLayout l = layout;
        return l != null ? l : MemoryLayout.preferred(p);
    }

    /** {@code -Dfrcnn.layout}, or null where unset (the precision's preferred layout). */
    private static MemoryLayout configuredLayout() {
        String v = System.getProperty("frcnn.layout", "auto");
        return switch (v.toLowerCase(java.util.Locale.ROOT)) {
            case "auto", "" -> null;
            case "nhwc", "channels-last" -> MemoryLayout.NHWC;
            case "nchw" -> MemoryLayout.NCHW;
            default -> throw new IllegalArgumentException("frcnn.layout must be auto, nhwc or nchw, not '" + v + "'");
        };
    }

    /** A new model with random weights. */
    public static FasterRcnn create(FasterRcnnConfig config, NDManager manager, long seed) {
        return new FasterRcnn(config, new Parameters(manager, seed));
    }

    public FasterRcnnConfig config() {
        return config;
    }

    public Parameters parameters() {
        return params;
    }

    /** The backbone, for measuring it apart ({@code bench}'s GFLOP/s). */
    public Backbone backbone() {
        return backbone;
    }

    RegionProposalNetwork rpn() {
        return rpn;
    }

    public ImageTransform transform() {
        return transform;
    }

    /**
     * Everything one inference pass computed, in input-image pixels (after resizing).
     *
     * @param features   the backbone's feature maps
     * @param rpn        the RPN's outputs and proposals
     * @param head       the head's raw outputs for the proposals
     * @param detections after post-processing
     * @param millis     time per stage: backbone, rpn, roi, head, post
     */
    public record Forward(FeatureMaps features, RegionProposalNetwork.Result rpn, FastRcnnHead.Output head,
                          DetectionPostprocessor.Result detections, double[] millis) {
        /** {@link #millis()} by stage name ({@link #STAGES} from "backbone" on), after the given earlier stages. */
        public java.util.Map<String, Double> millisByStage(java.util.Map<String, Double> earlier) {
            java.util.Map<String, Double> ms = new java.util.LinkedHashMap<>(earlier);
            for (int i = 0; i < millis.length; i++) {
                ms.put(STAGES.get(2 + i), millis[i]);
            }
            return java.util.Collections.unmodifiableMap(ms);
        }
    }

    /** The paper's Figure 2 on one transformed image, in inference mode. Arrays live in the image tensor's manager. */
    public Forward forward(ImageTransform.Transformed image) {
        return forward(image, null);
    }

    /**
     * As {@link #forward(ImageTransform.Transformed)}, or with the given regions (input pixels) instead of the RPN's
     * proposals when {@code rois} is not null: Fast R-CNN on precomputed proposals (the rpn stage is then empty).
     */
    public Forward forward(ImageTransform.Transformed image, float[] rois) {
        try (Use u = use(); Precision.Scope s = inference()) {
            return forwardIn(image, rois);
        }
    }

    private Forward forwardIn(ImageTransform.Transformed image, float[] rois) {
        long t0 = System.nanoTime();
        FeatureMaps features = backbone.forward(layout().apply(image.tensor()), false);
        return afterBackbone(features, image.tensor(), image, rois, (System.nanoTime() - t0) / 1e6);
    }

    /**
     * Figure 2 from the feature map on: the RPN (unless {@code rois} are given), RoI pooling, the head and
     * post-processing of one image, whose features may be its part of a batch's ({@code input} is the network input).
     */
    private Forward afterBackbone(FeatureMaps features, NDArray input, ImageTransform.Transformed image, float[] rois,
                                  double backboneMs) {
        long t1 = System.nanoTime();
        RegionProposalNetwork.Result proposals = rois != null ? null
                : rpn.forward(features, input, image.height(), image.width(), image.scale(), false);
        float[] regions = rois != null ? rois : proposals.proposals().boxes();
        long t2 = System.nanoTime();
        NDArray pooled = roiPool.extract(features, regions, image.height(), false);
        long t3 = System.nanoTime();
        FastRcnnHead.Output out = head.forward(pooled, false);
        float[] logits = out.classLogits().toFloatArray();
        float[] deltas = out.boxDeltas().toFloatArray();
        long t4 = System.nanoTime();
        DetectionPostprocessor.Result dets = postprocessor.apply(logits, deltas, regions, image.height(), image.width());
        long t5 = System.nanoTime();
        double[] ms = {backboneMs, (t2 - t1) / 1e6, (t3 - t2) / 1e6, (t4 - t3) / 1e6, (t5 - t4) / 1e6};
        return new Forward(features, proposals, out, dets, ms);
    }

    /** Which parts a training step updates, and so which losses it computes. */
    public enum Train {
        /** RPN losses only (alternating training, steps 1 and 3). */
        RPN,
        /** Fast R-CNN losses only (steps 2 and 4). */
        HEAD,
        /** All four (approximate joint training). */
        BOTH
    }

    /**
     * The four losses of one image; any the step does not train is null.
     *
     * @param rpnObjectness log loss over the sampled anchors
     * @param rpnBox        lambda * smooth L1 over the positive anchors
     * @param classifier    log loss over the sampled RoIs
     * @param boxRegression smooth L1 over the foreground RoIs' class deltas
     * @param sampledAnchors the anchors the RPN's losses were taken over (-1 when the RPN is not trained)
     */
    public record Losses(NDArray rpnObjectness, NDArray rpnBox, NDArray classifier, NDArray boxRegression,
                         int sampledAnchors) {
        public NDArray total() {
            NDArray sum = null;
            for (NDArray a : new NDArray[] {rpnObjectness, rpnBox, classifier, boxRegression}) {
                if (a != null) {
                    sum = sum == null ? a : sum.add(a);
                }
            }
            return sum;
        }
    }

    /**
     * The training forward pass of one image (paper, section 3.1.3 and 3.2): backbone, RPN with its sampled anchor
     * targets, and the head on RoIs sampled from the proposals (or {@code proposals}, when another network gives them,
     * as in step 2 of alternating training). Proposal coordinates carry no gradient (approximate joint training).
     *
     * @param gtBoxes   ground truth in input-image pixels (m x 4)
     * @param gtLabels  their classes, 1..K
     * @param proposals proposals to train the head on instead of this network's own, or null
     */
    public Losses trainingForward(ImageTransform.Transformed image, float[] gtBoxes, int[] gtLabels, float[] proposals,
                                  Training training, Train what, Random random) {
        return trainingForward(java.util.List.of(new TrainingImage(image, gtBoxes, gtLabels, proposals, random)), training,
                what).get(0);
    }

    /** What a training pass samples and how it weighs the losses: the RPN's and the head's own settings. */
    public record Training(RpnTraining rpn, HeadTraining head) {}

    /**
     * One image of a training iteration.
     *
     * @param gtBoxes   ground truth in input-image pixels (m x 4)
     * @param gtLabels  their classes, 1..K
     * @param proposals proposals to train the head on instead of the network's own, or null
     * @param random    the generator of this image's anchor and RoI samples
     */
    public record TrainingImage(ImageTransform.Transformed image, float[] gtBoxes, int[] gtLabels, float[] proposals,
                                Random random) {}

    /**
     * The training forward pass of an iteration's images as one batch, as torchvision and detectron2 batch them: the
     * images share one zero canvas ({@link ImageTransform#batch}, rounded up to the model's size multiple), the
     * backbone runs once over it, each image's RPN covers the whole canvas (anchors over the padding are negatives, and
     * torchvision-style anchor strides come from the canvas size), and its proposals are clipped to the image itself.
     * With multi-scale training the smaller image of a pair is seen on a larger canvas and its group-norm statistics
     * include the padding, so batching is part of what torchvision trains (one seed of bench/raccoon: the peer reached
     * 0.72 VOC07 mAP batched, 0.63 one image at a time; a single 40-image mAP is noisy, the direction is what this
     * records). A batch of one is the image's own input.
     */
    public java.util.List<Losses> trainingForward(java.util.List<TrainingImage> batch, Training train, Train what) {
        return trainingForward(batch, train, what, canvasSize(batch), batchHeight(batch));
    }

    /** The (height, width) of the zero canvas that a training batch's images share ({@link ImageTransform#batch}). */
    public long[] canvasSize(java.util.List<TrainingImage> batch) {
        return ImageTransform.canvasSize(batch.stream().map(b -> b.image().tensor()).toList(),
                config.transform().sizeDivisible());
    }

    /** MultiScaleRoIAlign infers the levels' scales from the largest image of the batch, as torchvision's does. */
    public static int batchHeight(java.util.List<TrainingImage> batch) {
        return batch.stream().mapToInt(b -> b.image().height()).max().orElse(0);
    }

    /**
     * One image's share of {@link #trainingForward(java.util.List, Training, Train)} for a batch whose canvas and
     * largest height are given: the image alone on a canvas of the batch's size, so that it sees what it would see in
     * the batch (padding included). Images of a batch can so run on threads of their own (data-parallel training:
     * their gradients add up in the parameters as the batch's would).
     */
    public Losses trainingShare(TrainingImage image, Training train, Train what, long[] canvasSize, int batchHeight) {
        return trainingForward(java.util.List.of(image), train, what, canvasSize, batchHeight).get(0);
    }

    private java.util.List<Losses> trainingForward(java.util.List<TrainingImage> batch, Training train, Train what,
                                                   long[] canvasSize, int batchHeight) {
        try (Use u = use()) {
            NDArray canvas = ImageTransform.batch(batch.stream().map(b -> b.image().tensor()).toList(), canvasSize);
            // in the layout of the precision training runs in: channels-last for bfloat16 on AMX, whose kernels then
            // compute the convolutions and both gradients on the maps as they lie (ReLU and max pooling keep the layout)
            FeatureMaps features = backbone.forward(layoutFor(Precision.current()).apply(canvas), true);
            java.util.List<ImageStage> stages = new java.util.ArrayList<>();
            for (int i = 0; i < batch.size(); i++) {
                TrainingImage b = batch.get(i);
                FeatureMaps own = batch.size() == 1 ? features : features.image(i);
                stages.add(proposalStage(own, canvas, batchHeight, b, train, what));
            }
            return headStage(stages, train, below(features));
        }
    }

    /**
     * What lies below the head's pooled features: nothing that learns (the backbone frozen), leaves of a hand-written
     * backward pass (VGG-16's chain), or layers recorded for autograd.
     */
    private HandBackward.Below below(FeatureMaps features) {
        if (!params.anyTrains(name -> !name.startsWith("rpn.") && !name.startsWith("roi_heads."))) {
            return HandBackward.Below.FROZEN;
        }
        return features.maps().stream().allMatch(HandBackward::isLeaf) ? HandBackward.Below.HAND_WRITTEN
                : HandBackward.Below.RECORDED;
    }

    /** An image's RPN losses and its sampled RoIs, pooled, before the head (null fields for what is not trained). */
    private record ImageStage(RegionProposalNetwork.Losses rpn, ProposalTargets.Sample sample, NDArray pooled) {}

    /**
     * An image's share of the training pass up to the head (paper, section 3.2: the RPN and Fast R-CNN on shared
     * features): the RPN's losses, and the RoIs sampled from its proposals (or the given ones), pooled from the image's
     * own feature map. {@code input} is the (possibly batched) network input.
     */
    private ImageStage proposalStage(FeatureMaps features, NDArray input, int batchHeight, TrainingImage b, Training train,
                                     Train what) {
        ImageTransform.Transformed image = b.image();
        RegionProposalNetwork.Result r = null;
        RegionProposalNetwork.Losses rpnLosses = null;
        if (what != Train.HEAD || b.proposals() == null) {
            r = rpn.forward(features, input, image.height(), image.width(), image.scale(), true);
        }
        if (what != Train.HEAD) {
            rpnLosses = rpn.losses(r, b.gtBoxes(), image.height(), image.width(), train.rpn(), b.random());
        }
        if (what == Train.RPN) {
            return new ImageStage(rpnLosses, null, null);
        }
        float[] source = b.proposals() != null ? b.proposals() : r.proposals().boxes();
        ProposalTargets.Sample s = new ProposalTargets(train.head(), config.head().boxWeights(), config.plusOne())
                .sample(source, b.gtBoxes(), b.gtLabels(), b.random());
        return new ImageStage(rpnLosses, s, roiPool.extract(features, s.rois(), batchHeight, true));
    }

    /**
     * The Fast R-CNN head over all images' pooled RoIs at once, as torchvision runs its box head over the batch (one
     * fc6 product of twice the rows is cheaper than two: the 19 MB weight streams once), then each image's losses on
     * its own rows, as before.
     */
    private java.util.List<Losses> headStage(java.util.List<ImageStage> stages, Training train, HandBackward.Below below) {
        FastRcnnHead.Output all = null;
        if (stages.get(0).pooled() != null) {
            all = head.forward(stages.size() == 1 ? stages.get(0).pooled()
                    : NDArrays.concat(new NDList(stages.stream().map(ImageStage::pooled).toList())), true, below);
        }
        java.util.List<Losses> out = new java.util.ArrayList<>();
        long row = 0;
        for (ImageStage st : stages) {
            FastRcnnHead.Losses headLosses = null;
            if (all != null) {
                long rows = st.sample().labels().length;
                FastRcnnHead.Output own = stages.size() == 1 ? all : new FastRcnnHead.Output(
                        all.classLogits().get(new NDIndex("{}:{}", row, row + rows)),
                        all.boxDeltas().get(new NDIndex("{}:{}", row, row + rows)));
                row += rows;
                headLosses = head.losses(own, st.sample(), train.head());
            }
            RegionProposalNetwork.Losses rpnLosses = st.rpn();
            out.add(new Losses(rpnLosses == null ? null : rpnLosses.objectness(), rpnLosses == null ? null : rpnLosses.box(),
                    headLosses == null ? null : headLosses.classifier(), headLosses == null ? null : headLosses.box(),
                    rpnLosses == null ? -1 : rpnLosses.sampledAnchors()));
        }
        return out;
    }

    /**
     * This network's proposals for training another one (alternating training, step 2): the RPN in training mode's
     * top-N settings, no gradients.
     */
    public float[] trainingProposals(ImageTransform.Transformed image) {
        try (Use u = use()) {
            FeatureMaps features = backbone.forward(image.tensor(), false);
            return rpn.forward(features, image.tensor(), image.height(), image.width(), image.scale(), true).proposals().boxes();
        }
    }

    /** Selective Search boxes per image for the head, when the model was trained on them ({@link FasterRcnnConfig#proposals()}). */
    public static final int SELECTIVE_SEARCH_BOXES = 2000;

    /**
     * Detections in the original image's pixels, best first; labels 1..K. The regions come from the RPN, or from
     * Selective Search (fast mode, {@value #SELECTIVE_SEARCH_BOXES} boxes) for a Fast R-CNN trained on its boxes.
     */
    public DetectionPostprocessor.Result detect(BufferedImage image) {
        return detectTimed(image).detections();
    }

    /** The stages {@link #detectTimed} times, in order. */
    public static final java.util.List<String> STAGES =
            java.util.List.of("proposals", "transform", "backbone", "rpn", "roi", "head", "postprocess");

    /**
     * Detections and the milliseconds each of {@link #STAGES} took ("proposals" is Selective Search's time for a
     * model trained on its boxes, else 0; "rpn" is then 0).
     */
    public record Timed(DetectionPostprocessor.Result detections, java.util.Map<String, Double> millis) {}

    /** As {@link #detect(BufferedImage)}, with the time of each stage. */
    public Timed detectTimed(BufferedImage image) {
        try (Use u = use()) {
            long t0 = System.nanoTime();
            float[] selective = null;
            if (config.proposals() == FasterRcnnConfig.Proposals.SELECTIVE_SEARCH) {
                selective = org.frcnn4j.proposals.SelectiveSearch.of(org.frcnn4j.proposals.SelectiveSearch.Mode.FAST)
                        .propose(image, SELECTIVE_SEARCH_BOXES, 0);
            }
            long t1 = System.nanoTime();
            try (NDManager step = params.manager().newSubManager()) {
                ImageTransform.Transformed t = transform.apply(image, step);
                long t2 = System.nanoTime();
                Forward f = forward(t, selective == null ? null : t.toInput(selective));
                DetectionPostprocessor.Result r = f.detections();
                java.util.Map<String, Double> earlier = new java.util.LinkedHashMap<>();
                earlier.put("proposals", (t1 - t0) / 1e6);
                earlier.put("transform", (t2 - t1) / 1e6);
                return new Timed(r.withBoxes(toOriginal(r.boxes(), t)), f.millisByStage(earlier));
            }
        }
    }

    /**
     * Detections for several images (original pixels, one result per image, in order), the images of equal input size
     * sharing forward passes: the backbone runs once per size over those images stacked, then each image's RPN, RoI
     * pooling and head run on its own part of the feature map. Equal sizes only, unlike torchvision's padded batches:
     * on a shared larger canvas an image's group-norm statistics and the features near its edges would change, so its
     * detections would differ from {@link #detect}'s; stacked equal sizes give the same detections (to float rounding).
     * A model on Selective Search boxes runs its images one at a time.
     */
    public java.util.List<DetectionPostprocessor.Result> detectBatch(java.util.List<BufferedImage> images) {
        try (Use u = use()) {
            BadInputException.requireGiven(images, "detectBatch", "the list of images");
            for (int i = 0; i < images.size(); i++) {
                BadInputException.requireGiven(images.get(i), "detectBatch", "image " + i + " of " + images.size());
            }
            if (images.size() <= 1 || config.proposals() == FasterRcnnConfig.Proposals.SELECTIVE_SEARCH) {
                return images.stream().map(this::detect).toList();
            }
            DetectionPostprocessor.Result[] out = new DetectionPostprocessor.Result[images.size()];
            try (NDManager step = params.manager().newSubManager();
                 Precision.Scope s = inference()) {
                java.util.List<ImageTransform.Transformed> ts = images.stream().map(img -> transform.apply(img, step)).toList();
                java.util.Map<ai.djl.ndarray.types.Shape, java.util.List<Integer>> bySize = new java.util.LinkedHashMap<>();
                for (int i = 0; i < ts.size(); i++) {
                    bySize.computeIfAbsent(ts.get(i).tensor().getShape(), k -> new java.util.ArrayList<>()).add(i);
                }
                for (java.util.List<Integer> group : bySize.values()) {
                    NDArray stacked = ImageTransform.batch(group.stream().map(i -> ts.get(i).tensor()).toList(),
                            config.transform().sizeDivisible());
                    FeatureMaps features = backbone.forward(layout().apply(stacked), false);
                    for (int j = 0; j < group.size(); j++) {
                        ImageTransform.Transformed t = ts.get(group.get(j));
                        FeatureMaps own = group.size() == 1 ? features : features.image(j);
                        DetectionPostprocessor.Result r = afterBackbone(own, stacked, t, null, 0).detections();
                        out[group.get(j)] = r.withBoxes(toOriginal(r.boxes(), t));
                    }
                }
            }
            return java.util.List.of(out);
        }
    }

    /**
     * Fast R-CNN on given proposals (the pipeline before the RPN: Selective Search boxes, in original pixels):
     * detections in original pixels. The RPN is not run.
     */
    public DetectionPostprocessor.Result detectWithProposals(BufferedImage image, float[] proposals) {
        try (Use u = use()) {
            checkProposals(proposals);
            try (NDManager step = params.manager().newSubManager()) {
                ImageTransform.Transformed t = transform.apply(image, step);
                DetectionPostprocessor.Result r = forward(t, t.toInput(proposals)).detections();
                return r.withBoxes(toOriginal(r.boxes(), t));
            }
        }
    }

    /** Given proposals must be whole boxes of finite numbers: NaN would silently give no detections. */
    private static void checkProposals(float[] proposals) {
        BadInputException.requireGiven(proposals, "detect", "the proposals");
        if (proposals.length % 4 != 0) {
            throw new BadInputException("detect: " + proposals.length + " proposal coordinates are not whole boxes "
                    + "(4 numbers, x1 y1 x2 y2, per box)");
        }
        for (int i = 0; i < proposals.length; i++) {
            if (!Float.isFinite(proposals[i])) {
                throw new BadInputException("detect: proposal " + i / 4 + " has a coordinate " + proposals[i]);
            }
        }
    }

    /** The RPN's proposals in the original image's pixels, best first, at most {@code topN}. */
    public ProposalGenerator.Proposals propose(BufferedImage image, int topN) {
        try (Use u = use()) {
            if (topN < 0) {
                throw new BadInputException("propose: the number of proposals must be 0 or more, got " + topN);
            }
            try (NDManager step = params.manager().newSubManager()) {
                ImageTransform.Transformed t = transform.apply(image, step);
                ProposalGenerator.Proposals p;
                try (Precision.Scope s = inference()) {
                    FeatureMaps features = backbone.forward(layout().apply(t.tensor()), false);
                    p = rpn.forward(features, t.tensor(), t.height(), t.width(), t.scale(), false).proposals().top(topN);
                }
                return new ProposalGenerator.Proposals(toOriginal(p.boxes(), t), p.scores());
            }
        }
    }

    /** Boxes from resized-input pixels to original pixels (torchvision's resize_boxes: float32 ratios). */
    public static float[] toOriginal(float[] boxes, ImageTransform.Transformed t) {
        return t.toOriginal(boxes);
    }

    @Override
    public synchronized void close() {
        uses.writeLock().lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            forgetKept();
            params.close();
            org.frcnn4j.nn.WinogradKernels.forgetClosed();
        } finally {
            uses.writeLock().unlock();
        }
    }

    /** A call's use of the weights, until closed; throws where the model is closed (its weights freed). */
    private Use use() {
        java.util.concurrent.locks.Lock shared = uses.readLock();
        shared.lock();
        if (closed) {
            shared.unlock();
            throw new IllegalStateException("this model is closed; load or create it again to use it");
        }
        return shared::unlock;
    }

    /** What {@link #use()} holds. */
    @FunctionalInterface
    private interface Use extends AutoCloseable {
        @Override
        void close();
    }
}
