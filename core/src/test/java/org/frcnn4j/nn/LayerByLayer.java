package org.frcnn4j.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Activation;
import java.util.List;

/** The reference the chained passes are checked against: each conv + ReLU (+ 2x2 max pool) by the layers themselves. */
final class LayerByLayer {
    private LayerByLayer() {}

    static NDArray forward(NDArray x, List<Layers.Conv> convs, List<Boolean> poolAfter, boolean ceilMode) {
        MaxPool pool = new MaxPool(2, 2, 0, ceilMode);
        for (int i = 0; i < convs.size(); i++) {
            x = Activation.relu(convs.get(i).forward(x));
            if (poolAfter.get(i)) {
                x = pool.forward(x);
            }
        }
        return x;
    }
}
