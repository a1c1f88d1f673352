package org.frcnn4j.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.regex.Pattern;
import org.frcnn4j.backbone.BackboneConfig;
import org.frcnn4j.backbone.BackboneConfig.Architecture;
import org.frcnn4j.io.PthReader;
import org.frcnn4j.io.PthTensor;
import org.frcnn4j.model.ModelFiles.ModelException;

/**
 * An ImageNet classification checkpoint as the start of a detector's backbone: the paper's "initialised by the
 * ImageNet model" (section 3.2), with torchvision's files. {@code resnet50-*.pth} holds {@code conv1}, {@code bn1},
 * {@code layer1..4} and the classifier {@code fc}; {@code mobilenet_v3_large-*.pth} holds {@code features.N} and
 * {@code classifier}. The feature layers become {@code backbone.body.*}, the classifier is dropped, and everything else
 * (the FPN, the RPN, the head) is drawn afresh. A detection model's state dict works too: its {@code backbone.body.*}
 * is taken and the rest left.
 */
public final class BackboneCheckpoint {
    private static final String BODY = "backbone.body.";
    private static final Pattern RESNET_KEY = Pattern.compile("(conv1|bn1|layer[1-4])\\..*");
    private static final Pattern RESNET_CLASSIFIER = Pattern.compile("fc\\.(weight|bias)");
    private static final Pattern MOBILENET_KEY = Pattern.compile("features\\.\\d+\\..*");
    private static final Pattern MOBILENET_CLASSIFIER = Pattern.compile("classifier\\.\\d+\\.(weight|bias)");

    private BackboneCheckpoint() {
    }

    /**
     * The backbone body's weights in {@code file}, named as this project's model names them ({@code backbone.body.*});
     * a key that belongs to neither the body nor the classifier is refused, naming it.
     */
    public static Map<String, NDArray> read(Path file, Architecture architecture, NDManager manager) {
        if (!Files.isRegularFile(file)) {
            throw new ModelException(file, "no such checkpoint file");
        }
        Pattern body = architecture == Architecture.RESNET ? RESNET_KEY : MOBILENET_KEY;
        Pattern classifier = architecture == Architecture.RESNET ? RESNET_CLASSIFIER : MOBILENET_CLASSIFIER;
        if (architecture != Architecture.RESNET && architecture != Architecture.MOBILENET_V3_LARGE) {
            throw new org.frcnn4j.io.BadInputException("--init-backbone takes a ResNet or MobileNetV3 classification "
                    + "checkpoint: the " + architecture + " backbone has none");
        }
        Map<String, PthTensor> state = PthReader.readStateDict(file);
        boolean detection = state.keySet().stream().anyMatch(k -> k.startsWith(BODY));
        Map<String, NDArray> out = new LinkedHashMap<>();
        for (Map.Entry<String, PthTensor> e : state.entrySet()) {
            String key = e.getKey();
            if (key.endsWith(".num_batches_tracked")) {
                continue;
            }
            String name;
            if (detection) {
                if (!key.startsWith(BODY)) {
                    continue; // a detection model's FPN, RPN and head: only its body is wanted
                }
                name = key;
            } else if (body.matcher(key).matches()) {
                name = BODY + (architecture == Architecture.RESNET ? key : key.substring("features.".length()));
            } else if (classifier.matcher(key).matches()) {
                continue;
            } else {
                throw new ModelException(file, "unexpected key '" + key + "' for a " + describe(architecture)
                        + " classification checkpoint");
            }
            PthTensor t = e.getValue();
            NDArray a = manager.create(t.floats(), new Shape(t.shape()));
            a.setName(name);
            out.put(name, a);
        }
        if (out.isEmpty()) {
            throw new ModelException(file, "no " + describe(architecture) + " weights in it");
        }
        return out;
    }

    /**
     * {@code preset}'s backbone with the depth and width of the checkpoint's body: ResNet's blocks per stage and first
     * width (so ResNet-101 and -152 bodies fit too), MobileNetV3's width multiplier (from its last conv, 960 wide at 1).
     */
    public static BackboneConfig backboneFor(Map<String, NDArray> body, BackboneConfig preset, Path source) {
        if (preset.architecture() == Architecture.RESNET) {
            List<Integer> blocks = new ArrayList<>();
            for (int s = 1; s <= 4; s++) {
                int n = 0;
                while (body.containsKey(BODY + "layer" + s + "." + n + ".conv1.weight")) {
                    n++;
                }
                if (n == 0) {
                    throw new ModelException(source, "missing key 'layer" + s + ".0.conv1.weight' (a ResNet with "
                            + "bottleneck blocks: resnet50, resnet101, resnet152)");
                }
                blocks.add(n);
            }
            NDArray conv1 = body.get(BODY + "conv1.weight");
            if (conv1 == null) {
                throw new ModelException(source, "missing key 'conv1.weight'");
            }
            return new BackboneConfig(preset.architecture(), preset.widthScale(), preset.ceilMode(), preset.groupNorm(),
                    new BackboneConfig.ResNet(blocks, (int) conv1.getShape().get(0)), preset.batchNorm(), preset.fpn());
        }
        // the last of features is the 1x1 conv to 6 x 160 x width channels (960 at width 1)
        int last = body.keySet().stream().map(k -> k.substring(BODY.length()))
                .mapToInt(k -> Integer.parseInt(k.substring(0, k.indexOf('.')))).max().orElse(-1);
        NDArray lastConv = body.get(BODY + last + ".0.weight");
        if (lastConv == null) {
            throw new ModelException(source, "missing key 'features." + last + ".0.weight' (MobileNetV3-Large's last conv)");
        }
        double width = lastConv.getShape().get(0) / 960.0;
        return new BackboneConfig(preset.architecture(), width, preset.ceilMode(), preset.groupNorm(), preset.resnet(),
                preset.batchNorm(), preset.fpn());
    }

    /** {@code config}'s model with its backbone body from {@code file} and everything else drawn with {@code seed}. */
    public static FasterRcnn initialise(Path file, FasterRcnnConfig config, NDManager manager, long seed) {
        try (NDManager tmp = manager.newSubManager()) {
            Map<String, NDArray> body = read(file, config.backbone().architecture(), tmp);
            Predicate<String> drawn = name -> !name.startsWith(BODY);
            return ModelFiles.assemble(config, body, manager, file, seed, drawn,
                    "the backbone of " + config.preset() + " as configured");
        }
    }

    /** {@code config} with the backbone depth and width of the checkpoint {@code file}. */
    public static FasterRcnnConfig configure(FasterRcnnConfig config, Path file) {
        try (NDManager tmp = NDManager.newBaseManager()) {
            Map<String, NDArray> body = read(file, config.backbone().architecture(), tmp);
            return config.with(backboneFor(body, config.backbone(), file));
        }
    }

    private static String describe(Architecture a) {
        return a == Architecture.RESNET ? "ResNet" : "MobileNetV3-Large";
    }
}
