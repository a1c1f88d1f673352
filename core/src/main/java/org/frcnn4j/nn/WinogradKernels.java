package org.frcnn4j.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.lang.ref.WeakReference;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;

/**
 * The F(4x4, 3x3) transforms of 3x3 weights ({@link ConvRoute.WinogradProducts}), made once per weight and kept: for
 * VGG-16's 512-channel layers the transform took 5 ms a call on two cores, a tenth of the layer's time by the route.
 * Four times the weight's size (36 values per 9): VGG-16's 9 layers on the route keep 227 MB, ResNet-50-FPN's 216 MB.
 *
 * <p>A kept transform is used only for the same weight array (identity) with the same values: the library changes
 * weights in place only in an optimiser step ({@link ScriptedOps#sgdStep}), which calls {@link #weightsChanged}, so
 * that the next inference (the test mAP during training) transforms the new values. A program that writes into a
 * model's weights by other means calls {@link #weightsChanged} too. Transforms of weights that are closed (a closed
 * model) or gone are dropped at the next use, or by {@link #forgetClosed}.
 */
public final class WinogradKernels {
    private record Kept(WeakReference<NDArray> weight, NDArray kernels) {}

    /** By the weight's native handle; the entry's weak reference says whether it is still the same array. */
    private static final Map<Long, Kept> KEPT = new HashMap<>();
    private static final NDManager MANAGER = NDManager.newBaseManager(); // the kept transforms live with the process

    private WinogradKernels() {}

    /** The transform of {@code weight} (out, C, 3, 3): (36 out, C, 1, 1), kept; not to be closed by the caller. */
    static synchronized NDArray of(NDArray weight) {
        Long handle = ((ai.djl.pytorch.engine.PtNDArray) weight).getHandle();
        Kept k = KEPT.get(handle);
        if (k != null && k.weight().get() == weight && !k.kernels().isReleased()) {
            return k.kernels();
        }
        forgetClosed();
        NDArray kernels = ScriptedOps.winogradKernels(weight, MANAGER);
        Kept old = KEPT.put(handle, new Kept(new WeakReference<>(weight), kernels));
        if (old != null) {
            old.kernels().close();
        }
        return kernels;
    }

    /** Says that weights may have new values: every kept transform is made again at its next use. */
    public static synchronized void weightsChanged() {
        KEPT.values().forEach(k -> k.kernels().close());
        KEPT.clear();
    }

    /** Drops the transforms of weights that were closed or collected. */
    public static synchronized void forgetClosed() {
        for (Iterator<Kept> it = KEPT.values().iterator(); it.hasNext(); ) {
            Kept k = it.next();
            NDArray w = k.weight().get();
            if (w == null || w.isReleased()) {
                k.kernels().close();
                it.remove();
            }
        }
    }

    /** How many transforms are kept now (for tests). */
    static synchronized int kept() {
        return KEPT.size();
    }
}
