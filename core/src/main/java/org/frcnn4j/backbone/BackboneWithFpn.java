package org.frcnn4j.backbone;

import ai.djl.ndarray.NDArray;
import java.util.ArrayList;
import java.util.List;
import org.frcnn4j.nn.FeatureMaps;
import org.frcnn4j.nn.Parameters;

/**
 * A classification body (ResNet, MobileNetV3) with a feature pyramid over some of its stages, as torchvision's
 * BackboneWithFPN: levels "0", "1", ... (finest first) and, with the extra max pool, "pool".
 */
final class BackboneWithFpn implements Backbone {
    private final Body body;
    private final Fpn fpn;
    private final List<Integer> returned;
    private final int outChannels;
    private final boolean pool;

    /** @param norm how inference applies the pyramid's batch norms ({@link Fpn}) */
    BackboneWithFpn(Parameters p, Body body, BackboneConfig.Fpn config, org.frcnn4j.nn.Norms.BatchNorm.Inference norm) {
        this.body = body;
        this.returned = config.returned();
        List<Integer> in = new ArrayList<>();
        for (int s : returned) {
            in.add(body.channels(s));
        }
        this.fpn = new Fpn(p, "backbone.fpn.", in, config.outChannels(), config.batchNorm(), config.extraMaxPool(),
                norm);
        this.outChannels = config.outChannels();
        this.pool = config.extraMaxPool();
    }

    @Override
    public FeatureMaps forward(NDArray images, boolean training) {
        List<NDArray> levels = fpn.forward(body.stages(images, training, returned), training);
        List<String> names = new ArrayList<>();
        for (int i = 0; i < returned.size(); i++) {
            names.add(Integer.toString(i));
        }
        if (pool) {
            names.add("pool");
        }
        return new FeatureMaps(names, levels);
    }

    @Override
    public int outChannels() {
        return outChannels;
    }

    @Override
    public int stride() {
        return body.stride(returned.get(0));
    }
}
