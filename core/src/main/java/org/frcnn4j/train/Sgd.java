package org.frcnn4j.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;
import org.frcnn4j.nn.GradMode;
import org.frcnn4j.nn.Parameters;

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

    /** One update of the named parameters from their gradients, which are then zeroed. */
    public void step(Parameters params, Collection<String> trainable, double lr) {
        // an update is not part of the graph (torch.optim's step runs under no_grad): with autograd on, libtorch
        // refuses in-place changes of leaves that require gradients, whatever mode the caller's thread was left in
        try (GradMode off = GradMode.set(false); NDScope scope = new NDScope()) {
            double clip = 1.0;
            if (solver.clipGradNorm() > 0) {
                double sq = 0;
                for (String name : trainable) {
                    sq += params.all().get(name).getGradient().square().sum().getFloat();
                }
                double norm = Math.sqrt(sq);
                if (norm > solver.clipGradNorm()) {
                    clip = solver.clipGradNorm() / norm;
                }
            }
            for (String name : trainable) {
                NDArray w = params.all().get(name);
                NDArray g = w.getGradient();
                if (clip != 1.0) {
                    g = g.mul((float) clip);
                }
                boolean norm = name.contains(".norm.");
                boolean bias = name.endsWith(".bias") && !norm;
                double decay = bias || norm ? 0 : solver.weightDecay();
                NDArray d = decay > 0 ? g.add(w.mul((float) decay)) : g;
                NDArray v = velocity.get(name);
                if (v == null) {
                    v = d.duplicate();
                    NDScope.unregister(v);
                    v.attach(manager);
                    velocity.put(name, v);
                } else {
                    v.muli((float) solver.momentum()).addi(d);
                }
                double rate = lr * (bias ? solver.biasLrFactor() : 1.0);
                w.subi(v.mul((float) rate));
                JniUtils.zeroGrad((PtNDArray) w);
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
