package org.frcnn4j.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.LinkedHashMap;
import java.util.Map;
import org.frcnn4j.nn.GradMode;
import org.frcnn4j.nn.Parameters;
import org.frcnn4j.nn.ScriptedOps;

/**
 * SGD with momentum as torch.optim.SGD computes it (v = mu v + (g + wd w); w -= lr v), with py-faster-rcnn's habits:
 * biases learn at {@code biasLrFactor} times the rate and get no weight decay; normalisation parameters get no decay
 * either. Optional clipping of the global gradient norm. Its state (one velocity per parameter) is saved with
 * checkpoints so that a resumed run continues exactly.
 */
public final class Sgd implements AutoCloseable {
    private final TrainConfig.Solver solver;
    private final NDManager manager;
    private final Map<String, NDArray> velocity = new LinkedHashMap<>();

    public Sgd(TrainConfig.Solver solver, NDManager parent) {
        this.solver = solver;
        this.manager = parent.newSubManager();
    }

    /**
     * One update of the named parameters from their gradients, which are then zeroed. The parameters are grouped by
     * their weight decay and rate (weights, normalisation parameters, biases) and each group is one call of libtorch's
     * fused SGD: per parameter one pass over weight, gradient and velocity. Written as array operations the step took
     * a fifth of a `small` iteration (~400 native calls, each with a temporary the size of its parameter).
     */
    public void step(Parameters params, Collection<String> trainable, double lr) {
        // an update is not part of the graph (torch.optim's step runs under no_grad): with autograd on, libtorch
        // refuses in-place changes of leaves that require gradients, whatever mode the caller's thread was left in
        try (GradMode off = GradMode.set(false); NDScope scope = new NDScope()) {
            List<NDArray> grads = new ArrayList<>(trainable.size());
            Map<Group, Members> groups = new LinkedHashMap<>();
            for (String name : trainable) {
                NDArray w = params.all().get(name);
                NDArray g = w.getGradient();
                grads.add(g);
                boolean norm = name.contains(".norm.");
                boolean bias = name.endsWith(".bias") && !norm;
                // torch.optim.SGD's velocity starts as the first step's direction, which the fused kernel writes into
                // a fresh buffer; without momentum there is none
                NDArray v = solver.momentum() == 0 ? null : velocity.get(name);
                boolean first = solver.momentum() != 0 && v == null;
                if (first) {
                    v = manager.zeros(w.getShape());
                    NDScope.unregister(v); // the velocity outlives this step's scope
                    velocity.put(name, v);
                }
                Group group = new Group(bias || norm ? 0 : solver.weightDecay(), lr * (bias ? solver.biasLrFactor() : 1.0),
                        first);
                groups.computeIfAbsent(group, k -> new Members()).add(w, g, v);
            }
            if (solver.clipGradNorm() > 0) {
                // torch.nn.utils.clip_grad_norm_: the norm of all gradients together, scaled down when above the bound
                double norm = ScriptedOps.gradNorm(grads);
                if (norm > solver.clipGradNorm()) {
                    ScriptedOps.scale(grads, solver.clipGradNorm() / norm);
                }
            }
            groups.forEach((g, m) -> ScriptedOps.sgdStep(m.params, m.grads, m.velocities, g.weightDecay,
                    solver.momentum(), g.rate, g.first));
            ScriptedOps.zero(grads);
        }
    }

    /** Parameters updated with the same hyperparameters in one fused call. */
    private record Group(double weightDecay, double rate, boolean first) {}

    private static final class Members {
        final List<NDArray> params = new ArrayList<>();
        final List<NDArray> grads = new ArrayList<>();
        final List<NDArray> velocities = new ArrayList<>();

        void add(NDArray w, NDArray g, NDArray v) {
            params.add(w);
            grads.add(g);
            if (v != null) {
                velocities.add(v);
            }
        }
    }

    public void save(OutputStream out) throws IOException {
        NDList list = new NDList();
        for (Map.Entry<String, NDArray> e : velocity.entrySet()) {
            e.getValue().setName(e.getKey());
            list.add(e.getValue());
        }
        list.encode(out, NDList.Encoding.SAFETENSORS);
    }

    public void load(InputStream in) throws IOException {
        try (NDManager tmp = manager.newSubManager()) {
            for (NDArray a : NDList.decode(tmp, in)) {
                // copy through the heap: decoded arrays may view a buffer freed with their manager
                NDArray copy = manager.create(a.toFloatArray(), a.getShape());
                NDArray old = velocity.put(a.getName(), copy);
                if (old != null) {
                    old.close();
                }
            }
        }
    }

    @Override
    public void close() {
        manager.close();
    }
}
