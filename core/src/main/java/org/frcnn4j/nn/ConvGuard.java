package org.frcnn4j.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.frcnn4j.nn.ConvCheck.Errors;
import org.frcnn4j.nn.ConvCheck.Gradients;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Every convolution of the library runs through here, so that none is computed wrong on any CPU. The first time a
 * {@link ConvShape} is used with a set of needed gradients, the engine's own convolution is checked against a
 * reference ({@link ConvCheck}); where it is wrong, the next route that checks out is used instead (channels padded to
 * a multiple of 16, of 32, then matrix products without convolution kernels), and the choice is kept for the life of
 * the process. Checks are per shape, never per machine: the same CPU computes one shape right and the next wrong.
 * When no route checks out, the convolution stops with {@link EngineDefectException} naming the shape.
 *
 * <p>Which gradients must be right is part of the question: a layer on the image never needs its input gradient, and in
 * inference none is needed (libtorch computes only what autograd asks for).
 *
 * <p>{@code -Dfrcnn.conv.route=direct|padded|products} forces one route for every shape without checking (to measure
 * a route, or to see the engine's own results); {@code frcnn doctor} reports what is in use.
 */
public final class ConvGuard {
    private static final Logger LOG = LoggerFactory.getLogger(ConvGuard.class);

    /** The routes tried, in order of cost. */
    public static final List<ConvRoute> ROUTES = List.of(new ConvRoute.Direct(), new ConvRoute.PaddedChannels(16),
            new ConvRoute.PaddedChannels(32), new ConvRoute.ShiftedProducts());

    private static final ConvGuard SHARED = new ConvGuard(ConvCheck::run, forcedRoute(System.getProperty("frcnn.conv.route")))
            .keepingVerdicts();

    /** Checks a route for a shape; the library's is {@link ConvCheck#run}, tests give others. */
    @FunctionalInterface
    public interface Checker {
        Errors check(ConvRoute route, ConvShape shape, Gradients gradients, MemoryLayout layout);
    }

    /**
     * The route chosen for a shape, its needed gradients and the precision asked for.
     *
     * @param winograd     whether the Winograd transform was asked for ({@link EngineFacts#winogradRoute}: a float32
     *                     forward pass on a large enough map, where {@link EngineFacts#winogradConvolutions} allows it)
     * @param directErrors what the route asked for first gave: the engine's own convolution in that precision, or the
     *                     Winograd route (null when a route was forced)
     * @param routeErrors  what the chosen route gave (null when forced)
     */
    public record Verdict(ConvShape shape, Gradients gradients, Precision precision, MemoryLayout layout, boolean winograd,
                          ConvRoute route, Errors directErrors, Errors routeErrors) {
        /**
         * Whether the engine's own convolution in the asked precision and layout was wrong, so another route runs
         * instead (a 1x1 convolution on a channels-last map is a matrix product by design, not as a workaround).
         */
        public boolean workaround() {
            if (winograd) {
                return !(route instanceof ConvRoute.Winograd || route instanceof ConvRoute.WinogradProducts);
            }
            // float32's direct convolution answering a bfloat16 call is a fallback too
            return !(route instanceof ConvRoute.Direct && precision == Precision.FP32 || route instanceof ConvRoute.Bfloat16
                    || route instanceof ConvRoute.PointwiseProduct p && p.bfloat16() == (precision == Precision.BF16));
        }

        public String describe() {
            String s = shape.describe() + " (gradients: " + gradients.name().toLowerCase(Locale.ROOT)
                    + (precision == Precision.FP32 ? "" : ", " + precision)
                    + (layout == MemoryLayout.NCHW ? "" : ", channels-last") + (winograd ? ", large maps" : "") + "): ";
            if (directErrors == null) {
                return s + route.describe(shape) + ", forced, not checked";
            }
            if (!workaround()) {
                return s + (route instanceof ConvRoute.PointwiseProduct || winograd ? route.describe(shape) + ", " : "")
                        + "right (" + routeErrors.describe() + ")";
            }
            return s + (winograd ? "WRONG by Winograd (" : "WRONG in the engine (") + directErrors.describe() + "); using "
                    + route.describe(shape) + " (" + routeErrors.describe() + ")";
        }
    }

    private record Key(ConvShape shape, Gradients gradients, Precision precision, MemoryLayout layout, boolean winograd) {}

    private final Checker checker;
    private final ConvRoute forced;
    private final Map<Key, Verdict> verdicts = new ConcurrentHashMap<>();
    private boolean keep;
    private volatile ConvVerdicts kept;

    /**
     * @param forced a route to use for every shape without checking, or null to check
     */
    public ConvGuard(Checker checker, ConvRoute forced) {
        this.checker = checker;
        this.forced = forced;
    }

    /** Keeps verdicts between runs on this machine ({@link ConvVerdicts}); the shared guard does. */
    private ConvGuard keepingVerdicts() {
        this.keep = true;
        return this;
    }

    private ConvVerdicts kept() {
        ConvVerdicts k = kept;
        if (k == null && keep) {
            synchronized (this) {
                if (kept == null) {
                    kept = ConvVerdicts.forThisMachine();
                    keep = kept != null;
                }
                k = kept;
            }
        }
        return k;
    }

    /**
     * Forgets every verdict, this process's and those kept from earlier runs, so that each shape is checked again
     * (and the kept ones rewritten): {@code frcnn doctor}.
     */
    public void checkAfresh() {
        verdicts.clear();
        ConvVerdicts k = kept();
        if (k != null) {
            k.clear();
        }
    }

    /** The file that keeps this machine's verdicts between runs, or null. */
    public java.nio.file.Path keptIn() {
        ConvVerdicts k = kept();
        return k == null ? null : k.file();
    }

    /** The process-wide guard that the library's layers use. */
    public static ConvGuard shared() {
        return SHARED;
    }

    /**
     * The convolution of {@code x} by the route that checks out for this shape and the gradients this call needs.
     *
     * @param gradients what the backward pass will ask of this call ({@link #gradientsNeeded})
     */
    public NDArray forward(NDArray x, NDArray weight, NDArray bias, ConvShape shape, Gradients gradients) {
        count(x.getShape(), shape, gradients);
        if (gradients == Gradients.NONE && PeerArithmetic.active() && MemoryLayout.of(x) == MemoryLayout.NCHW
                && GemmOrder.peerRunsNative(x.getShape(), shape)) {
            return GemmOrder.convolution(x, weight, bias, shape); // where torch 1.13 keeps it from oneDNN: its sums
        }
        return forwardUncounted(x, weight, bias, shape, gradients);
    }

    /**
     * The input gradient of a stride-1 convolution whose output gradient is {@code g}, computed as a forward
     * convolution by the Winograd route, where this machine's inference would take that route for the transposed
     * shape on this map; null elsewhere (the engine's own backward kernel is then the faster way). The input gradient
     * of a stride-1 convolution is the output gradient convolved with the kernel turned by 180 degrees, input and output
     * channels swapped, and the padding that restores the input's size ({@link HandBackward}: autograd cannot take this
     * route, as it differentiates whatever the forward pass ran). Counted as the gradient it is, not as a forward pass.
     */
    NDArray inputGradientByWinograd(NDArray g, NDArray weight, ConvShape shape) {
        int k = shape.kernel();
        if (!sameSize(shape)) {
            return null;
        }
        ConvShape transposed = ConvShape.of(shape.outChannels(), shape.inChannels(), k, 1, shape.padding());
        int h = (int) g.getShape().get(2);
        int w = (int) g.getShape().get(3);
        if (forced != null || MemoryLayout.of(g) != MemoryLayout.NCHW
                || !winograd(transposed, Precision.FP32, MemoryLayout.NCHW, Gradients.NONE)
                || !winogradPaysForInputGradient(transposed, transposed.outputSize(h), transposed.outputSize(w))) {
            return null;
        }
        return winogradInputGradient(g, weight, shape);
    }

    /** {@link #inputGradientByWinograd}'s computation, whatever the map's size (tests check it on small maps). */
    NDArray winogradInputGradient(NDArray g, NDArray weight, ConvShape shape) {
        ConvShape transposed = ConvShape.of(shape.outChannels(), shape.inChannels(), shape.kernel(), 1, shape.padding());
        NDArray turned = weight.transpose(1, 0, 2, 3).flip(2, 3);
        turned.attach(g.getManager()); // made from a parameter: it would live with the model otherwise
        try {
            return verdict(transposed, Gradients.NONE, Precision.FP32, MemoryLayout.NCHW, true).route()
                    .forwardOnce(g, turned, null, transposed);
        } finally {
            turned.close();
        }
    }

    /**
     * The weight and bias gradients of a stride-1 3x3 convolution with input {@code x} and output gradient {@code g}
     * by Winograd's F(4x4, 3x3) ({@link ScriptedOps#winogradWeightGradient}: the 36 products as one grouped 1x1
     * convolution over the tiles), where this machine's inference takes the products route for the shape on this map
     * and the computation checks out for the shape against the float64 reference (checked on first use, as routes are);
     * null elsewhere.
     */
    NDArray[] weightGradientByWinograd(NDArray x, NDArray g, ConvShape shape) {
        if (forced != null || !(EngineFacts.winogradRoute() instanceof ConvRoute.WinogradProducts)
                || !winograd(shape, Precision.FP32, MemoryLayout.NCHW, Gradients.NONE)
                || !ConvRoute.WinogradProducts.paysForWeightGradient(shape, (int) g.getShape().get(2), (int) g.getShape().get(3))
                || MemoryLayout.of(x) != MemoryLayout.NCHW || MemoryLayout.of(g) != MemoryLayout.NCHW) {
            return null;
        }
        boolean right = winogradWeightGradients.computeIfAbsent(shape, s -> {
            double e = ConvCheck.weightGradientError(s, (xc, gc) -> ScriptedOps.winogradWeightGradient(xc, gc, s.padding()));
            boolean ok = e <= new ConvRoute.WinogradProducts().tolerance();
            if (!ok) {
                LOG.info("weight gradients of {} by Winograd's products are off by {} here: the engine computes them", s, e);
            }
            return ok;
        });
        return right ? ScriptedOps.winogradWeightGradient(x, g, shape.padding()) : null;
    }

    /**
     * Whether {@code shape} is a plain stride-1 convolution whose padding keeps the map's size: its input gradient is
     * then a forward convolution of the same kind ({@link #inputGradientByWinograd}, {@link ChainTape}).
     */
    static boolean sameSize(ConvShape shape) {
        return shape.stride() == 1 && shape.groups() == 1 && shape.dilation() == 1
                && 2 * shape.padding() == shape.kernel() - 1;
    }

    /** Per shape, whether {@link #weightGradientByWinograd} checked out on this machine. */
    private final Map<ConvShape, Boolean> winogradWeightGradients = new ConcurrentHashMap<>();

    /** Counts the gradients of a convolution that a hand-written backward pass computed ({@link #forward} counts the rest). */
    static void countGradients(ai.djl.ndarray.types.Shape in, ConvShape shape, Gradients gradients) {
        long forward = forwardFlops(in, shape);
        BACKWARD_FLOPS.add(forward * ((gradients.input() ? 1 : 0) + (gradients.weight() ? 1 : 0)));
    }

    /** {@link #forward} without counting the call (a forward pass computed again for its gradients). */
    NDArray forwardUncounted(NDArray x, NDArray weight, NDArray bias, ConvShape shape, Gradients gradients) {
        // the layout decides which kernels run, so it is part of what is checked; a strided view is copied (as the
        // engine would copy it) into a dense layout first
        MemoryLayout layout = MemoryLayout.of(x);
        if (subsampled(shape)) {
            // a strided 1x1 convolution is the stride-1 one on every stride-th pixel: the same sums
            int st = shape.stride();
            x = x.get(new ai.djl.ndarray.index.NDIndex(":, :, ::" + st + ", ::" + st));
            shape = unstrided(shape);
            // the slice is a strided view: dense again in its layout (what the engine would copy anyway)
            x = layout == MemoryLayout.NHWC ? layout.apply(x) : MemoryLayout.rowMajorCopy(x);
            layout = layout == null ? MemoryLayout.NCHW : layout;
        } else if (layout == null) {
            layout = MemoryLayout.NCHW;
            x = MemoryLayout.rowMajorCopy(x);
        }
        Precision precision = precisionFor(shape, gradients);
        // a forced route is what the caller wants to see: no Winograd in its place
        boolean winograd = forced == null && winograd(shape, precision, layout, gradients)
                && winogradPays(shape, shape.outputSize((int) x.getShape().get(2)), shape.outputSize((int) x.getShape().get(3)));
        return verdict(shape, gradients, precision, layout, winograd).route().forward(x, weight, bias, shape);
    }

    /**
     * The route an inference call (no gradients) of {@code shape} on a row-major map of {@code height} x {@code width}
     * runs in the thread's precision, or null for a shape that runs on a subsampled copy: what {@link BlockedChain}
     * plans its layers by.
     */
    ConvRoute inferenceRoute(ConvShape shape, int height, int width) {
        Precision precision = precisionFor(shape, Gradients.NONE);
        if (subsampled(shape)) {
            return null;
        }
        boolean winograd = forced == null && winograd(shape, precision, MemoryLayout.NCHW, Gradients.NONE)
                && winogradPays(shape, shape.outputSize(height), shape.outputSize(width));
        return verdict(shape, Gradients.NONE, precision, MemoryLayout.NCHW, winograd).route();
    }

    /** Counts an inference call that a route outside this class ran (for the achieved rate, as {@link #forward} does). */
    static void countInference(ai.djl.ndarray.types.Shape in, ConvShape shape) {
        count(in, shape, Gradients.NONE);
    }

    /**
     * The thread's precision ({@link Precision#current}) for a call: bfloat16 also for a call that needs gradients
     * (bfloat16 training, {@link ConvRoute.Bfloat16}) where the scripted module has a training method for the shape,
     * float32 otherwise.
     */
    static Precision precisionFor(ConvShape shape, Gradients gradients) {
        Precision p = Precision.current();
        return gradients == Gradients.NONE || p == Precision.FP32 || ScriptedOps.trains(shape) ? p : Precision.FP32;
    }

    /** Forward and backward work of every convolution run through a guard since the process started. */
    private static final java.util.concurrent.atomic.LongAdder FORWARD_FLOPS = new java.util.concurrent.atomic.LongAdder();
    private static final java.util.concurrent.atomic.LongAdder BACKWARD_FLOPS = new java.util.concurrent.atomic.LongAdder();

    /**
     * Floating-point operations (2 per multiply-add) as the convolutions' definitions count them, not what a route
     * does instead. A gradient, of the input or of the weight, takes as many as the forward pass (the same products,
     * summed over other indices); a layer on the image needs no input gradient, and inference needs neither.
     *
     * @param forward  the forward passes'
     * @param backward the gradients' that the calls said they would need
     */
    public record Flops(long forward, long backward) {
        public long total() {
            return forward + backward;
        }

        /** The work done between {@code earlier} and this count. */
        public Flops since(Flops earlier) {
            return new Flops(forward - earlier.forward, backward - earlier.backward);
        }
    }

    /** The count so far, over all threads: differences of two counts measure the work in between. */
    public static Flops flopsSoFar() {
        return new Flops(FORWARD_FLOPS.sum(), BACKWARD_FLOPS.sum());
    }

    private static long forwardFlops(ai.djl.ndarray.types.Shape in, ConvShape shape) {
        long out = (long) shape.outputSize((int) in.get(2)) * shape.outputSize((int) in.get(3));
        return 2L * in.get(0) * shape.outChannels() * out * (shape.inChannels() / shape.groups()) * shape.kernel()
                * shape.kernel();
    }

    private static void count(ai.djl.ndarray.types.Shape in, ConvShape shape, Gradients gradients) {
        FORWARD_FLOPS.add(forwardFlops(in, shape));
        countGradients(in, shape, gradients);
    }

    /**
     * The forward floating-point operations of the convolutions that {@code work} runs on this thread and any other
     * while it runs, as the convolutions' definitions count them (not what a route does instead).
     */
    public static synchronized long countFlops(Runnable work) {
        Flops before = flopsSoFar();
        work.run();
        return flopsSoFar().since(before).forward();
    }

    /**
     * Whether a shape runs as its stride-1 version on subsampled input: 1x1 kernels with a stride and no padding
     * (ResNet's downsampling shortcuts). libtorch 2.7.1's oneDNN divides by zero while choosing its blocking for the
     * input gradient of some of them (512 -> 1024 and 1024 -> 2048 with stride 2, on an AMD EPYC of family 26, with
     * its AVX-512 and AVX2 kernels, at every input size): a SIGFPE that ends the JVM, which no check can survive.
     */
    static boolean subsampled(ConvShape shape) {
        return shape.kernel() == 1 && shape.stride() > 1 && shape.padding() == 0 && shape.groups() == 1;
    }

    private static ConvShape unstrided(ConvShape s) {
        return new ConvShape(s.inChannels(), s.outChannels(), 1, 1, 0, s.dilation(), s.groups(),
                s.inputSize() == 0 ? 0 : s.outputSize(s.inputSize()));
    }

    /**
     * Whether a call may use the Winograd route ({@link EngineFacts#winogradRoute}), whatever its map's size: a
     * float32 forward pass on a row-major map, a shape the route covers, a machine where
     * {@link EngineFacts#winogradConvolutions} says it is the faster algorithm, and gradients the route can give
     * (NNPACK's: any, the engine computing them; the products': none). Decided from these facts alone, never from
     * timing, so the arithmetic of a model on a machine does not change from run to run.
     */
    static boolean winograd(ConvShape shape, Precision precision, MemoryLayout layout, Gradients gradients) {
        if (precision != Precision.FP32 || layout != MemoryLayout.NCHW || PeerArithmetic.opened()) {
            return false;
        }
        ConvRoute route = EngineFacts.winogradRoute();
        return route.covers(shape) && (gradients == Gradients.NONE || route instanceof ConvRoute.Winograd)
                && EngineFacts.winogradConvolutions();
    }

    /** Whether this machine's Winograd route saves time for {@code shape} on some map (its channels allow it). */
    static boolean winogradMayPay(ConvShape shape) {
        return !(EngineFacts.winogradRoute() instanceof ConvRoute.WinogradProducts)
                || ConvRoute.WinogradProducts.wideEnough(shape);
    }

    /** Whether this machine's Winograd route saves time for {@code shape} on an output of {@code height} x {@code width}. */
    static boolean winogradPays(ConvShape shape, int height, int width) {
        return EngineFacts.winogradRoute() instanceof ConvRoute.WinogradProducts
                ? ConvRoute.WinogradProducts.pays(shape, height, width) : ConvRoute.Winograd.pays(height, width);
    }

    /**
     * {@link #winogradPays} for an input gradient ({@link #inputGradientByWinograd}), whose turned kernel the products
     * route transforms on every call: it needs more tiles there ({@link ConvRoute.WinogradProducts#paysForInputGradient}).
     */
    static boolean winogradPaysForInputGradient(ConvShape transposed, int height, int width) {
        return EngineFacts.winogradRoute() instanceof ConvRoute.WinogradProducts
                ? ConvRoute.WinogradProducts.paysForInputGradient(transposed, height, width)
                : ConvRoute.Winograd.pays(height, width);
    }

    /**
     * Checks the shapes now (e.g. when a model is built), instead of at their first use; also the Winograd route of the
     * shapes that may take it.
     */
    public void prepare(Collection<ConvShape> shapes, Gradients gradients, MemoryLayout layout) {
        for (ConvShape s : shapes) {
            Precision precision = precisionFor(s, gradients);
            verdict(s, gradients, precision, layout, false);
            if (forced == null && winograd(s, precision, layout, gradients) && winogradMayPay(s)) {
                verdict(s, gradients, precision, layout, true);
            }
        }
    }

    /** The float32 route for a shape, checked on first use (a strided 1x1 shape: its stride-1 version's). */
    public Verdict verdict(ConvShape shape, Gradients gradients) {
        return verdict(shape, gradients, Precision.FP32, MemoryLayout.NCHW, false);
    }

    /**
     * The route for a shape in a precision, checked on first use. In bfloat16 the engine's bfloat16 convolution is
     * tried first; where it is wrong, the shape runs by its float32 route (exact, just not faster).
     */
    public Verdict verdict(ConvShape shape, Gradients gradients, Precision precision, MemoryLayout layout,
                           boolean winograd) {
        ConvShape checked = subsampled(shape) ? unstrided(shape) : shape;
        return verdicts.computeIfAbsent(new Key(checked, gradients, precision, layout, winograd),
                k -> choose(k.shape(), k.gradients(), k.precision(), k.layout(), k.winograd()));
    }

    /**
     * The routes tried for a precision and layout, in order: on channels-last maps 1x1 convolutions as matrix
     * products first ({@link ConvRoute.PointwiseProduct}: oneDNN's own crash on some CPUs), then bfloat16's own
     * convolution where asked, then the Winograd route where asked, then float32's routes.
     */
    static List<ConvRoute> routes(Precision precision, MemoryLayout layout, boolean winograd) {
        return routes(precision, layout, winograd, Gradients.NONE);
    }

    /** {@link #routes(Precision, MemoryLayout, boolean)} for calls that need {@code gradients}. */
    static List<ConvRoute> routes(Precision precision, MemoryLayout layout, boolean winograd, Gradients gradients) {
        List<ConvRoute> out = new ArrayList<>();
        if (layout == MemoryLayout.NHWC) {
            // the bfloat16 product is a call autograd cannot record: inference only
            if (precision == Precision.BF16 && gradients == Gradients.NONE) {
                out.add(new ConvRoute.PointwiseProduct(true));
            }
            out.add(new ConvRoute.PointwiseProduct(false));
        }
        if (precision == Precision.BF16) {
            out.add(new ConvRoute.Bfloat16());
        }
        if (winograd) {
            out.add(EngineFacts.winogradRoute());
        }
        out.addAll(ROUTES);
        return List.copyOf(out);
    }

    /** Every verdict so far, by shape. */
    public List<Verdict> verdicts() {
        List<Verdict> out = new ArrayList<>(verdicts.values());
        out.sort(Comparator.comparing((Verdict v) -> v.shape().describe()).thenComparing(v -> v.gradients()));
        return out;
    }

    /** The route forced for every shape, or null when routes are checked. */
    public ConvRoute forced() {
        return forced;
    }

    private Verdict choose(ConvShape shape, Gradients gradients, Precision precision, MemoryLayout layout,
                           boolean winograd) {
        List<ConvRoute> routes = routes(precision, layout, winograd, gradients);
        if (forced != null) {
            // a shape the forced route does not change or cannot compute runs as the engine's own (channels-last 1x1
            // convolutions as products, bfloat16 as bfloat16)
            ConvRoute route = routes.get(0).covers(shape) && !(routes.get(0) instanceof ConvRoute.Direct) ? routes.get(0)
                    : forced.covers(shape) ? forced : new ConvRoute.Direct();
            return new Verdict(shape, gradients, precision, layout, winograd, route, null, null);
        }
        ConvVerdicts k = kept();
        Verdict known = k == null ? null : k.get(shape, gradients, precision, layout, winograd, routes);
        if (known != null) {
            return known;
        }
        Errors direct = null;
        for (ConvRoute route : routes) {
            if (!route.covers(shape)) {
                continue;
            }
            Errors e = checker.check(route, shape, gradients, layout);
            if (direct == null) {
                direct = e;
            }
            if (e.right(route.tolerance())) {
                Verdict v = new Verdict(shape, gradients, precision, layout, winograd, route, direct, e);
                if (v.workaround()) {
                    LOG.info("convolution {}", v.describe());
                }
                if (k != null) {
                    k.put(v, routes);
                }
                return v;
            }
        }
        throw new EngineDefectException("convolution " + shape.describe() + " is computed wrong by this machine's engine ("
                + direct.describe() + ") and no other route checks out; run 'frcnn doctor'");
    }

    /**
     * The gradients a convolution call needs: none outside a gradient collector; inside one, the input's unless the
     * input is data (the image: nothing upstream learns), and the weight's when {@code weightParameter} (the stored
     * parameter, not a view of it) is trained. The input's cannot be read off the array: for results of other ops
     * PyTorch's requires_grad reaches Java as false.
     */
    public static Gradients gradientsNeeded(boolean inputIsData, NDArray weightParameter) {
        if (!JniUtils.isGradMode()) {
            return Gradients.NONE;
        }
        return Gradients.of(!inputIsData, JniUtils.requiresGrad((PtNDArray) weightParameter));
    }

    /** {@code direct}, {@code padded} (to 32) or {@code products}; null or {@code auto} for checked routes. */
    static ConvRoute forcedRoute(String name) {
        if (name == null || name.isBlank() || name.equals("auto")) {
            return null;
        }
        return switch (name) {
            case "direct" -> new ConvRoute.Direct();
            case "padded" -> new ConvRoute.PaddedChannels(32);
            case "products" -> new ConvRoute.ShiftedProducts();
            default -> throw new IllegalArgumentException("frcnn.conv.route must be auto, direct, padded or products, not '" + name + "'");
        };
    }

    /** A convolution that this machine's engine computes wrong, with no route around it. */
    public static final class EngineDefectException extends RuntimeException {
        public EngineDefectException(String message) {
            super(message);
        }
    }
}
