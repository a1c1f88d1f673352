package org.frcnn4j.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import java.util.List;
import org.frcnn4j.nn.ConvCheck.Gradients;

/**
 * The training pass of a chain of stride-1 convolutions, each followed by a ReLU and, where asked, a k x k max pool of
 * stride k (VGG-16's body), with its backward pass written out by hand ({@link HandBackward}) instead of recorded by
 * autograd.
 *
 * <p>Why: autograd differentiates whatever the forward pass ran, so a recorded pass must run the engine's direct
 * convolutions (Winograd's transforms through autograd were slower and gave NaN input gradients on the family-26
 * EPYC). Written out, each layer's backward is three calls, each by its fastest right route: the ReLU's and the pool's
 * gradient (libtorch's own backward kernels), the weight and bias gradients by the engine's backward kernel (the one
 * autograd runs), and the input gradient, a convolution of the output gradient with the kernel turned by 180 degrees,
 * by the Winograd route where inference would take it ({@link ConvGuard#inputGradientByWinograd}); where that route is
 * Winograd's products, the weight gradient too is Winograd's, run backwards ({@link ConvGuard#weightGradientByWinograd}).
 * The forward pass runs each layer as inference does. Measured on the family-26 EPYC (2 threads, one 1000x600 image),
 * per layer, forward and both gradients: 512 -> 512 at 75x125 447 -> 325 ms with the weight gradient by the engine
 * (140 ms of it; 90 by Winograd), 256 -> 256 at 150x250 446 -> 369 ms (137; 94); narrower layers as autograd's.
 *
 * <p>Right on every CPU as the guard makes every convolution right: the engine's backward kernels are used only for a
 * shape whose gradients the guard found right with the engine's convolution ({@link ConvRoute.Direct}); a shape that
 * runs by another route gets its gradients from autograd through that route, its forward pass computed again.
 */
public final class ChainTape {
    /** Decides every convolution's route, forward and backward (the shared one; tests give others). */
    private final ConvGuard guard;
    private final List<Layers.Conv> convs;
    private final int pool;
    private final boolean ceilMode;
    /** The lowest layer whose weight or bias trains: the backward pass stops there. */
    private final int lowest;
    /** Per layer from {@link #lowest}: its input, its ReLU's output, and its pool's window maxima (null: no pool). */
    private final NDArray[] inputs;
    private final NDArray[] outputs;
    private final NDArray[] poolIndices;
    private final NDArray result;

    private ChainTape(ConvGuard guard, NDArray x, List<Layers.Conv> convs, List<Boolean> poolAfter, int pool,
                      boolean ceilMode, int lowest) {
        this.guard = guard;
        this.convs = convs;
        this.pool = pool;
        this.ceilMode = ceilMode;
        this.lowest = lowest;
        int n = convs.size();
        inputs = new NDArray[n];
        outputs = new NDArray[n];
        poolIndices = new NDArray[n];
        try (GradMode off = GradMode.set(false)) {
            for (int i = 0; i < n; i++) {
                Layers.Conv c = convs.get(i);
                NDArray y = guard.forward(x, c.weight(), c.bias(), c.shape(), Gradients.NONE);
                ScriptedOps.reluInPlace(y); // as torchvision's VGG does (ReLU(inplace=True)): one map fewer
                NDArray r = y;
                boolean kept = i >= lowest;
                if (kept) {
                    inputs[i] = x;
                    outputs[i] = r;
                } else if (i > 0) {
                    x.close(); // below the trained layers nothing is kept
                }
                x = r;
                if (poolAfter.get(i)) {
                    NDArray[] pooled = ScriptedOps.maxPoolWithIndices(r, pool, ceilMode);
                    if (kept) {
                        poolIndices[i] = pooled[1];
                    } else {
                        pooled[1].close();
                        r.close();
                    }
                    x = pooled[0];
                }
            }
        }
        // the scripted operations' results are inference tensors, which autograd refuses to record: the rest of the
        // network gets an ordinary copy (of the smallest map of the chain)
        result = x.duplicate();
        if (x != outputs[n - 1]) {
            x.close(); // a pool's output, or a map nothing keeps
        }
    }

    /**
     * The chain's output for a training pass whose backward runs by hand, or null where this does not apply: no
     * {@link HandBackward} scope open, autograd off, not float32 ({@link Precision}), a layer other than a 3x3 (or
     * k x k) stride-1 convolution with "same" padding, or {@code -Dfrcnn.backward=autograd}. When no layer trains, the
     * output carries no gradient and nothing is kept.
     */
    public static NDArray forward(NDArray x, List<Layers.Conv> convs, List<Boolean> poolAfter, int pool, boolean ceilMode) {
        return forward(ConvGuard.shared(), x, convs, poolAfter, pool, ceilMode);
    }

    /** {@link #forward(NDArray, List, List, int, boolean)} with the routes {@code guard} decides. */
    static NDArray forward(ConvGuard guard, NDArray x, List<Layers.Conv> convs, List<Boolean> poolAfter, int pool,
                           boolean ceilMode) {
        if (!HandBackward.enabled() || !HandBackward.available() || !JniUtils.isGradMode()
                || Precision.current() != Precision.FP32 || !convs.stream().allMatch(ChainTape::covers)) {
            return null;
        }
        int lowest = -1;
        for (int i = 0; i < convs.size() && lowest < 0; i++) {
            if (HandBackward.trains(convs.get(i).weight()) || HandBackward.trains(convs.get(i).bias())) {
                lowest = i;
            }
        }
        ChainTape tape = new ChainTape(guard, x, convs, poolAfter, pool, ceilMode, lowest < 0 ? convs.size() : lowest);
        if (lowest >= 0) {
            tape.result.setRequiresGradient(true);
            HandBackward.defer(tape::backward);
            HandBackward.markLeaf(tape.result);
        }
        return tape.result;
    }

    static boolean covers(Layers.Conv c) {
        return ConvGuard.sameSize(c.shape());
    }

    /** From the output's gradient (autograd's, through the rest of the network) down to the lowest trained layer. */
    private void backward() {
        PtNDArray g = JniUtils.getGradient((PtNDArray) result);
        if (g == null) {
            return; // the losses did not reach the chain's output
        }
        NDArray noPool = result.getManager().zeros(new Shape(0), DataType.INT64);
        NDArray gradient = g;
        for (int i = convs.size() - 1; i >= lowest; i--) {
            NDArray atConv = ScriptedOps.reluPoolBackward(gradient, outputs[i],
                    poolIndices[i] != null ? poolIndices[i] : noPool, pool, ceilMode, gradient != g);
            if (gradient != g) {
                gradient.close();
            }
            gradient = layerBackward(convs.get(i), inputs[i], atConv, i > lowest);
            atConv.close();
            // what autograd would free here too: this layer's ReLU output and pool positions, and its input where
            // that is a pool's output (else it is the layer below's ReLU output, still needed)
            outputs[i].close();
            if (poolIndices[i] != null) {
                poolIndices[i].close();
            }
            if (i > 0 && inputs[i] != outputs[i - 1]) {
                inputs[i].close();
            }
        }
        noPool.close();
    }

    /** One layer's weight and bias gradients, added into the parameters'; its input's gradient where asked, else null. */
    private NDArray layerBackward(Layers.Conv c, NDArray x, NDArray g, boolean input) {
        boolean weight = HandBackward.trains(c.weight()) || HandBackward.trains(c.bias());
        Gradients needed = Gradients.of(input, weight);
        ConvGuard.countGradients(x.getShape(), c.shape(), needed);
        if (!(guard.verdict(c.shape(), needed).route() instanceof ConvRoute.Direct)) {
            return byAutograd(c, x, g, needed);
        }
        NDArray gx = input ? guard.inputGradientByWinograd(g, c.weight(), c.shape()) : null;
        NDArray[] gw = weight ? guard.weightGradientByWinograd(x, g, c.shape()) : null;
        boolean engineInput = input && gx == null;
        boolean engineWeight = weight && gw == null;
        if (engineInput || engineWeight) {
            NDArray[] grads = ScriptedOps.convBackward(g, x, c.weight(), c.shape().padding(), engineInput, engineWeight);
            if (engineInput) {
                gx = grads[0];
            }
            if (engineWeight) {
                gw = new NDArray[] {grads[engineInput ? 1 : 0], grads[engineInput ? 2 : 1]};
            }
        }
        if (gw != null) {
            HandBackward.accumulate(c.weight(), gw[0]);
            HandBackward.accumulate(c.bias(), gw[1]);
        }
        return gx;
    }

    /**
     * A layer whose engine kernels the guard found wrong: its forward pass again, by the guard's route, recorded, and
     * autograd's gradients of that (into the parameters' own, and the input's returned where asked).
     */
    private NDArray byAutograd(Layers.Conv c, NDArray x, NDArray g, Gradients needed) {
        NDManager m = g.getManager();
        try (GradMode on = GradMode.set(true)) {
            NDArray leaf = x.duplicate(); // an ordinary array: autograd may save it (x may be an inference tensor)
            leaf.setRequiresGradient(needed.input());
            // leaves of their own for the weight and bias too: their gradients are then added into the parameters'
            // as every other layer's are (under the parameter's lock, beside another thread's image)
            NDArray w = NativeArrays.attached(c.weight().duplicate(), m);
            NDArray b = c.bias() == null ? null : NativeArrays.attached(c.bias().duplicate(), m);
            w.setRequiresGradient(HandBackward.trains(c.weight()));
            if (b != null) {
                b.setRequiresGradient(HandBackward.trains(c.bias()));
            }
            NDArray y = guard.forwardUncounted(leaf, w, b, c.shape(), needed);
            JniUtils.backward((PtNDArray) y, (PtNDArray) g, false, false);
            accumulateFrom(c.weight(), w);
            accumulateFrom(c.bias(), b);
            return needed.input() ? JniUtils.getGradient((PtNDArray) leaf) : null;
        }
    }

    /** {@link HandBackward#accumulate} of the gradient that {@code copy}, a leaf copy of the parameter (or null), received. */
    private static void accumulateFrom(NDArray parameter, NDArray copy) {
        if (HandBackward.trains(parameter)) {
            HandBackward.accumulate(parameter, JniUtils.getGradient((PtNDArray) copy));
        }
    }

}
