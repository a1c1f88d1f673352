package org.frcnn4j.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.convolutional.Conv2d;

/**
 * Ways to compute one convolution, all giving the same values (within float rounding) where the engine is right.
 * {@link ConvGuard} picks, per {@link ConvShape}, the first of them whose results check out on this CPU.
 *
 * <p>Why more than one: libtorch 2.7.1's oneDNN (3.7.1) computes some convolutions wrong on some CPUs (an AMD EPYC of
 * family 26 with AVX-512 BF16: forward passes whose input channels are not a multiple of 16, input gradients whose
 * channel counts are odd multiples of 16, and with its AVX2 kernels other shapes), while every shape whose channel
 * counts are multiples of 32 was right there, with either ISA. A convolution is a sum over input channels, so zero
 * channels change nothing but the kernel oneDNN runs ({@link PaddedChannels}); and one built from strided slices and
 * a matrix product ({@link ShiftedProducts}) does not use oneDNN's convolutions at all.
 *
 * <p>Every array a route makes lives in the input's manager, so it closes with the caller's step.
 */
public sealed interface ConvRoute permits ConvRoute.Direct, ConvRoute.PaddedChannels, ConvRoute.ShiftedProducts,
        ConvRoute.Bfloat16, ConvRoute.PointwiseProduct, ConvRoute.Winograd, ConvRoute.WinogradProducts {

    /** The convolution of {@code x} (N, C, H, W) with {@code weight} and {@code bias} (may be null). */
    NDArray forward(NDArray x, NDArray weight, NDArray bias, ConvShape shape);

    /** Whether this route can compute {@code shape} at all. */
    boolean covers(ConvShape shape);

    /** What the route does for {@code shape}, for logs and {@code frcnn doctor}. */
    String describe(ConvShape shape);

    /**
     * {@link #forward} with a weight made for this call alone (a turned kernel of a hand-written backward pass): a
     * route that keeps something per weight for the weight's life (the products' transforms) makes it for the call.
     */
    default NDArray forwardOnce(NDArray x, NDArray weight, NDArray bias, ConvShape shape) {
        return forward(x, weight, bias, shape);
    }

    /** The largest relative error against the float64 reference at which this route counts as right. */
    default double tolerance() {
        return ConvCheck.TOLERANCE;
    }

    /**
     * The engine's convolution on bfloat16 copies of the input, weight and bias, summed in float32 by oneDNN
     * ({@link Precision#BF16}, inference only: {@link ScriptedOps}). Rounding the inputs to 8 significant bits moves
     * outputs by a few thousandths of their range; a wrong kernel moves them by their whole range or gives NaN.
     */
    record Bfloat16() implements ConvRoute {
        /** Measured here: 3e-3 to 5e-3 for 64 to 512 channels with 3x3 kernels; the bound leaves room for larger sums. */
        static final double TOLERANCE = 2e-2;

        @Override
        public NDArray forward(NDArray x, NDArray weight, NDArray bias, ConvShape s) {
            // with autograd on, the call autograd records (bfloat16 training), where there is one for the shape; a
            // shape without one (a grouped convolution: the paper ZF's LRN as a depthwise average) trains in float32,
            // which autograd records too; the inference call otherwise
            if (ai.djl.pytorch.jni.JniUtils.isGradMode()) {
                return ScriptedOps.trains(s) ? ScriptedOps.conv2dTrained(x, weight, bias, s)
                        : new Direct().forward(x, weight, bias, s);
            }
            return ScriptedOps.conv2d(x, weight, bias, s);
        }

        @Override
        public boolean covers(ConvShape shape) {
            return true;
        }

        @Override
        public String describe(ConvShape shape) {
            return "the engine's convolution in bfloat16";
        }

        @Override
        public double tolerance() {
            return TOLERANCE;
        }
    }

    /**
     * A 3x3, stride-1 convolution by Winograd's minimal filtering F(6x6, 3x3) (Lavin and Gray, 2016): NNPACK's, which
     * libtorch carries and calls only for batches of 16 or more. Each 8x8 input tile and each kernel is transformed, the
     * transformed channels are multiplied as 64 matrix products, and each product is transformed back to 6x6 outputs:
     * 64/36 multiplications per output and input channel instead of 9. The forward pass only: in training libtorch
     * differentiates the call as any convolution, with the engine's backward kernels. One image per call. Rounding differs from a direct sum (the transforms scale values by up to
     * a few tens): errors near 1e-5 of the output's range against a float64 reference, where a direct float32 sum has
     * 1e-6; ConvCheck's tolerance (1e-4) holds.
     *
     * <p>Where it pays (measured on an AMD EPYC of family 25, AVX2, two threads; oneDNN's direct AVX2 kernels
     * against it): VGG-16's 3x3 layers at 600x800 input run 1.4-2.3x faster (256 -> 256 at 150x250: 410 vs 162 ms;
     * 512 -> 512 at 37x62: 94-106 vs 56-65 ms); with fewer than about 40 tiles of 6x6 outputs the per-call kernel
     * transform outweighs the savings (512 -> 512 at 19x25: 30 vs 46 ms), so {@link #pays} leaves such maps to the
     * engine.
     *
     * <p>NNPACK holds the whole transformed input and output of a call, 256 bytes per tile and channel, in a workspace
     * that libtorch keeps per thread and never frees (VGG-16's 64 -> 64 layer at 600x1000: 540 MB). So a large map runs
     * as bands of output rows, each with its halo of input rows, small enough for {@code workspaceBytes}: the same sums,
     * cut where the tiles are cut anyway.
     */
    record Winograd(long workspaceBytes) implements ConvRoute {
        /** Fewest output tiles (6x6 each) at which the transform's saving outweighs its fixed cost. */
        static final int MIN_TILES = 40;
        /** The transformed tiles' share of NNPACK's workspace per call (the kernel's transform comes on top). */
        static final long WORKSPACE_BYTES = 128L << 20;
        /** Bytes of NNPACK's workspace per tile and channel (input and output): an 8x8 tile of floats. */
        private static final long BYTES_PER_TILE_CHANNEL = 64 * 4;

        public Winograd() {
            this(WORKSPACE_BYTES);
        }

        @Override
        public NDArray forward(NDArray x, NDArray weight, NDArray bias, ConvShape s) {
            NDManager m = x.getManager();
            NDArray b = bias != null ? bias : NativeArrays.attached(m.zeros(new Shape(s.outChannels())), m);
            long n = x.getShape().get(0);
            if (n == 1) {
                return image(x, weight, b, s);
            }
            // split, not n slices: under autograd a slice's gradient is the whole batch's size, a split's a concat
            NDList images = new NDList((int) n);
            for (NDArray one : x.split(n, 0)) {
                images.add(image(one, weight, b, s));
            }
            return concatAndFree(images, 0);
        }

        /**
         * One image, in bands of output rows where its workspace would pass {@link #workspaceBytes}. Not in training:
         * autograd gives each band's slice a gradient the size of the whole input (VGG-16's iterations went from 10.9 to
         * 13.8 s), and training runs on one long-lived thread, whose workspace is kept for its next iteration anyway.
         */
        private NDArray image(NDArray x, NDArray weight, NDArray bias, ConvShape s) {
            int h = (int) x.getShape().get(2);
            int p = s.padding();
            int outRows = s.outputSize(h);
            int band = bandRows(s, s.outputSize((int) x.getShape().get(3)));
            if (band >= outRows || ai.djl.pytorch.jni.JniUtils.isGradMode()) {
                return ScriptedOps.winograd(x, weight, bias, p);
            }
            NDList bands = new NDList();
            NDList inputs = new NDList();
            for (int r0 = 0; r0 < outRows; r0 += band) {
                int r1 = Math.min(outRows, r0 + band);
                // output rows [r0, r1) read input rows [r0 - p, r1 + 2 - p): zeros where those leave the map
                int top = r0 - p;
                int bottom = r1 + 2 - p;
                NDArray rows = x.get(new NDIndex(":, :, {}:{}", Math.max(0, top), Math.min(h, bottom)));
                if (top < 0 || bottom > h) {
                    rows = rows.pad(new Shape(0, 0, Math.max(0, -top), Math.max(0, bottom - h)), 0);
                }
                inputs.add(rows);
                bands.add(ScriptedOps.winograd(rows, weight, bias, 0, p));
            }
            inputs.close(); // copies of the input's rows (a row slice of a C x H x W map is not contiguous)
            return concatAndFree(bands, 2);
        }

        /**
         * The parts joined along {@code axis}; outside autograd the parts are freed at once, not with the caller's step
         * (which may be the whole forward pass: VGG-16's first layers at 600x1000 have 150 MB outputs).
         */
        private static NDArray concatAndFree(NDList parts, int axis) {
            NDArray joined = NDArrays.concat(parts, axis);
            if (!ai.djl.pytorch.jni.JniUtils.isGradMode()) {
                parts.close();
            }
            return joined;
        }

        /** Output rows per band: whole tiles (six rows), as many as the workspace allows, at least one tile's. */
        int bandRows(ConvShape s, int outColumns) {
            long perTileRow = tiles(outColumns) * (s.inChannels() + s.outChannels()) * BYTES_PER_TILE_CHANNEL;
            return (int) Math.min(Integer.MAX_VALUE / 2, 6 * Math.max(1, workspaceBytes / perTileRow));
        }

        @Override
        public boolean covers(ConvShape s) {
            return computes(s);
        }

        /** {@link #covers}, without a route at hand (the guard asks on every call). */
        static boolean computes(ConvShape s) {
            // NNPACK's padding must be smaller than the kernel
            return s.kernel() == 3 && s.stride() == 1 && s.dilation() == 1 && s.groups() == 1 && s.padding() <= 2;
        }

        /** Whether the transform saves time on an output of {@code height} x {@code width}. */
        static boolean pays(int height, int width) {
            return tiles(height) * tiles(width) >= MIN_TILES;
        }

        /** 6x6 output tiles along a side of {@code outputs}, the last one partial. */
        private static long tiles(int outputs) {
            return (outputs + 5L) / 6;
        }

        @Override
        public String describe(ConvShape shape) {
            return "Winograd F(6x6, 3x3) (NNPACK)";
        }
    }

    /**
     * A 3x3, stride-1 convolution by Winograd's minimal filtering F(4x4, 3x3) (Lavin and Gray, 2016), built from
     * oneDNN's own bulk operations ({@link ScriptedOps#winogradProducts}): each 6x6 input tile and each kernel are
     * transformed, the 36 products of transformed channels run as one grouped 1x1 convolution, and each result is
     * transformed back to 4x4 outputs: 36/16 multiplications per output and input channel instead of 9, so a quarter of
     * the direct sum's. For CPUs where oneDNN runs AVX-512 kernels (there its direct convolutions reach the machine's
     * measured 3x3 ceiling, NNPACK's F(6x6, 3x3) has AVX2 kernels only, and the BLAS's matrix products ran at half
     * oneDNN's rate on AMD EPYCs), and where NNPACK does not run ({@link EngineFacts#winogradRoute}). Inference only:
     * with autograd on, the engine's convolution.
     *
     * <p>Where it pays (measured on the AMD EPYC of family 26, two threads, against oneDNN's direct kernels; the weight's
     * transform kept, {@link WinogradKernels}): 512 -> 512 at 75x125 67 vs 152 ms, at 37x62 24 vs 37 ms, at 25x42 15 vs
     * 17 ms; 256 -> 512 at 75x125 43 vs 65 ms; 256 -> 256 at 150x250 104 vs 142 ms, at 50x84 12.6 vs 14.6 ms. Not with
     * fewer channels, whose transforms (passes over memory) cost as much as the products save (128 -> 256 at 150x250
     * 62 vs 63 ms, 64 -> 64 at 200x336 34 vs 16 ms), nor on small maps (512 -> 512 at 19x25: 10 vs 8 ms): {@link #pays}.
     * Rounding: errors near 2e-6 of the output's range against a float64 reference (a direct float32 sum's near 2e-7).
     */
    record WinogradProducts() implements ConvRoute {
        /** Fewest channels, in and out, at which the products' saving outweighs the transforms' passes over memory. */
        static final int MIN_CHANNELS = 256;
        /** Fewest output tiles (4x4 each) at which the saving outweighs the per-call work. */
        static final int MIN_TILES = 64;

        @Override
        public NDArray forward(NDArray x, NDArray weight, NDArray bias, ConvShape s) {
            if (ai.djl.pytorch.jni.JniUtils.isGradMode()) {
                return new Direct().forward(x, weight, bias, s);
            }
            NDManager m = x.getManager();
            NDArray b = bias != null ? bias : NativeArrays.attached(m.zeros(new Shape(s.outChannels())), m);
            return ScriptedOps.winogradProducts(x, WinogradKernels.of(weight), b, s.padding());
        }

        @Override
        public NDArray forwardOnce(NDArray x, NDArray weight, NDArray bias, ConvShape s) {
            if (ai.djl.pytorch.jni.JniUtils.isGradMode()) {
                return forward(x, weight, bias, s);
            }
            NDManager m = x.getManager();
            try (NDArray kernels = ScriptedOps.winogradKernels(weight, m);
                 NDArray zero = bias != null ? null : m.zeros(new Shape(s.outChannels()))) {
                return ScriptedOps.winogradProducts(x, kernels, bias != null ? bias : zero, s.padding());
            }
        }

        @Override
        public boolean covers(ConvShape s) {
            return computes(s);
        }

        /** {@link #covers}, without a route at hand. */
        static boolean computes(ConvShape s) {
            return s.kernel() == 3 && s.stride() == 1 && s.dilation() == 1 && s.groups() == 1 && s.padding() <= 2;
        }

        /** Whether the transform saves time for {@code s} on an output of {@code height} x {@code width}. */
        static boolean pays(ConvShape s, int height, int width) {
            return paysFrom(MIN_TILES, s, height, width);
        }

        /**
         * Fewest output tiles at which the weight gradient by the transform ({@link ConvGuard#weightGradientByWinograd})
         * saves time: measured on the family-26 EPYC (one image, medians of 5), 512 -> 512 at 75x125 (608 tiles) 103 vs
         * 152 ms, 256 -> 256 at 150x250 (2394) 137 vs 151, at 37x62 (160) 37 vs 36: its transforms move more memory
         * per product than the forward pass's.
         */
        static final int MIN_TILES_WEIGHT_GRADIENT = 256;

        /**
         * Fewest output tiles at which the input gradient by the transform ({@link ConvGuard#inputGradientByWinograd})
         * saves time: it transforms the turned kernel on every call (the forward pass keeps its weight's transform), and
         * the engine's backward-data kernel runs faster than its forward one. Measured on the family-26 EPYC (one
         * image, medians of 9-11): 512 -> 512 at 37x62 (160 tiles) 35-36 ms against the engine's 29-32, at 50x84 (273)
         * 44-51 against 52, at 75x125 (608) 82-83 against 121-127; ZF's 384 -> 384 at 38x63 (160) 21 against 17.
         */
        static final int MIN_TILES_INPUT_GRADIENT = 256;

        /** {@link #pays} for the input gradient, the output gradient being {@code height} x {@code width}. */
        static boolean paysForInputGradient(ConvShape s, int height, int width) {
            return paysFrom(MIN_TILES_INPUT_GRADIENT, s, height, width);
        }

        /** {@link #pays} for the weight gradient. */
        static boolean paysForWeightGradient(ConvShape s, int height, int width) {
            return paysFrom(MIN_TILES_WEIGHT_GRADIENT, s, height, width);
        }

        /** Wide enough, on a map of at least {@code minTiles} output tiles: the one rule, with each pass's threshold. */
        private static boolean paysFrom(int minTiles, ConvShape s, int height, int width) {
            return wideEnough(s) && tiles(height) * tiles(width) >= minTiles;
        }

        /** Whether {@code s} has the channels at which the route pays on a large enough map. */
        static boolean wideEnough(ConvShape s) {
            return s.inChannels() >= MIN_CHANNELS && s.outChannels() >= MIN_CHANNELS;
        }

        /** 4x4 output tiles along a side of {@code outputs}, the last one partial. */
        static long tiles(int outputs) {
            return (outputs + 3L) / 4;
        }

        @Override
        public String describe(ConvShape shape) {
            return "Winograd F(4x4, 3x3) (oneDNN's grouped products)";
        }
    }

    /** The engine's own convolution (oneDNN on x86 CPUs): the fastest, where it is right. */
    record Direct() implements ConvRoute {
        @Override
        public NDArray forward(NDArray x, NDArray weight, NDArray bias, ConvShape s) {
            return Conv2d.conv2d(x, weight, bias, new Shape(s.stride(), s.stride()), new Shape(s.padding(), s.padding()),
                    new Shape(s.dilation(), s.dilation()), s.groups()).singletonOrThrow();
        }

        @Override
        public boolean covers(ConvShape shape) {
            return true;
        }

        @Override
        public String describe(ConvShape shape) {
            return "the engine's convolution";
        }
    }

    /**
     * The engine's convolution with input and output channels zero-padded to a multiple of {@code multiple}: zero input
     * channels (with zero weights) add nothing to the sum, zero output channels are cut off again, and gradients flow to
     * the real weights only. Costs the padded channels' arithmetic and a copy of the input.
     */
    record PaddedChannels(int multiple) implements ConvRoute {
        @Override
        public NDArray forward(NDArray x, NDArray weight, NDArray bias, ConvShape s) {
            NDManager m = x.getManager();
            int in = s.inChannels();
            int out = s.outChannels();
            int paddedIn = roundUp(in);
            int paddedOut = s.depthwise() ? paddedIn : roundUp(out);
            int groups = s.depthwise() ? paddedIn : 1;
            Shape xs = x.getShape();
            NDArray input = paddedIn == in ? x : x.concat(m.zeros(new Shape(xs.get(0), paddedIn - in, xs.get(2), xs.get(3))), 1);
            NDArray w = weight;
            long k = s.kernel();
            if (!s.depthwise() && paddedIn > in) {
                w = NativeArrays.attached(w.concat(m.zeros(new Shape(out, paddedIn - in, k, k)), 1), m);
            }
            if (paddedOut > out) {
                w = NativeArrays.attached(w.concat(m.zeros(new Shape(paddedOut - out, w.getShape().get(1), k, k)), 0), m);
            }
            NDArray b = bias == null || paddedOut == out ? bias : NativeArrays.attached(bias.concat(m.zeros(new Shape(paddedOut - out)), 0), m);
            NDArray y = Conv2d.conv2d(input, w, b, new Shape(s.stride(), s.stride()), new Shape(s.padding(), s.padding()),
                    new Shape(s.dilation(), s.dilation()), groups).singletonOrThrow();
            return paddedOut == out ? y : y.get(new NDIndex(":, 0:{}", out));
        }

        @Override
        public boolean covers(ConvShape shape) {
            boolean changes = roundUp(shape.inChannels()) != shape.inChannels()
                    || roundUp(shape.outChannels()) != shape.outChannels();
            return changes && (shape.groups() == 1 || shape.depthwise());
        }

        @Override
        public String describe(ConvShape s) {
            int in = roundUp(s.inChannels());
            return "channels zero-padded to " + in + " -> " + (s.depthwise() ? in : roundUp(s.outChannels()));
        }

        private int roundUp(int channels) {
            return (channels + multiple - 1) / multiple * multiple;
        }
    }

    /**
     * The convolution as matrix products, without the engine's convolution kernels: one strided slice of the (padded)
     * input per kernel tap, stacked to (N, C k k, positions), times the weight as a (out, C k k) matrix (a per-channel
     * weighted sum when depthwise). Autograd differentiates slices and products, so no convolution kernel runs in the
     * backward pass either. The slower route of last resort: it holds k*k copies of the input.
     */
    record ShiftedProducts() implements ConvRoute {
        @Override
        public NDArray forward(NDArray x, NDArray weight, NDArray bias, ConvShape s) {
            NDManager m = x.getManager();
            Shape xs = x.getShape();
            long n = xs.get(0);
            long c = xs.get(1);
            int p = s.padding();
            int oh = s.outputSize((int) xs.get(2));
            int ow = s.outputSize((int) xs.get(3));
            int k = s.kernel();
            NDArray columns;
            if (p == 0 && s.dilation() == 1 && xs.get(2) == k && xs.get(3) == k) {
                columns = x; // one window covering the input (fc6 on the RoI grid): the input is the column
            } else {
                NDArray padded = p == 0 ? x : x.pad(new Shape(p, p, p, p), 0);
                NDList taps = new NDList(k * k);
                for (int ky = 0; ky < k; ky++) {
                    for (int kx = 0; kx < k; kx++) {
                        int y0 = ky * s.dilation();
                        int x0 = kx * s.dilation();
                        taps.add(padded.get(new NDIndex(":, :, {}:{}:{}, {}:{}:{}", y0, y0 + (oh - 1) * s.stride() + 1,
                                s.stride(), x0, x0 + (ow - 1) * s.stride() + 1, s.stride())));
                    }
                }
                columns = NDArrays.stack(taps, 2); // (N, C, k*k, oh, ow): the weight's (c, ky, kx) order
            }
            NDArray y;
            if (s.depthwise()) {
                NDArray w = NativeArrays.attached(weight.reshape(1, c, (long) k * k, 1), m);
                y = columns.reshape(n, c, (long) k * k, (long) oh * ow).mul(w).sum(new int[] {2});
            } else {
                NDArray w = NativeArrays.attached(weight.reshape(s.outChannels(), c * k * k), m);
                y = w.matMul(columns.reshape(n, c * k * k, (long) oh * ow));
            }
            if (bias != null) {
                y = y.add(NativeArrays.attached(bias.reshape(1, s.outChannels(), 1), m));
            }
            return y.reshape(n, s.outChannels(), oh, ow);
        }

        @Override
        public boolean covers(ConvShape shape) {
            return shape.groups() == 1 || shape.depthwise();
        }

        @Override
        public String describe(ConvShape shape) {
            return "strided slices and matrix products (no convolution kernel)";
        }
    }

    /**
     * A 1x1 convolution (stride 1, no padding) as the matrix product it is: on a channels-last map the (N H W, C) rows
     * are a free view, and the (N H W, out) result is channels-last again, so nothing is reordered. On the AMD EPYC of
     * family 26 oneDNN's own channels-last 1x1 convolutions end the process with a division by zero
     * (brgemm_convolution_utils::est_eff_1x1, SIGFPE) for ResNet-50's 256->1024, 512->1024, 1024->512, 512->2048 and
     * 1024->2048 shapes, which no check survives: channels-last lists this route before the engine's, so that those
     * kernels are never asked for. With {@code bfloat16} the product takes bfloat16 inputs ({@link ScriptedOps#linear}).
     */
    record PointwiseProduct(boolean bfloat16) implements ConvRoute {
        @Override
        public NDArray forward(NDArray x, NDArray weight, NDArray bias, ConvShape s) {
            NDManager m = x.getManager();
            Shape xs = x.getShape();
            long rows = xs.get(0) * xs.get(2) * xs.get(3);
            NDArray flat = x.transpose(0, 2, 3, 1).reshape(rows, xs.get(1));
            NDArray w = NativeArrays.attached(weight.reshape(s.outChannels(), s.inChannels()), m);
            NDArray b = bias != null ? bias : NativeArrays.attached(m.zeros(new Shape(s.outChannels())), m);
            NDArray y = bfloat16 ? ScriptedOps.linear(flat, w, b)
                    : ai.djl.nn.core.Linear.linear(flat, w, b).singletonOrThrow();
            return y.reshape(xs.get(0), xs.get(2), xs.get(3), s.outChannels()).transpose(0, 3, 1, 2);
        }

        @Override
        public boolean covers(ConvShape s) {
            return s.kernel() == 1 && s.stride() == 1 && s.padding() == 0 && s.groups() == 1;
        }

        @Override
        public String describe(ConvShape shape) {
            return "a matrix product on the channels-last rows" + (bfloat16 ? " in bfloat16" : "");
        }

        @Override
        public double tolerance() {
            return bfloat16 ? Bfloat16.TOLERANCE : ConvCheck.TOLERANCE;
        }
    }
}
