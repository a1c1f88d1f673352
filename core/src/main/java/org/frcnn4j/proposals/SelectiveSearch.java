package org.frcnn4j.proposals;

import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.PriorityQueue;
import java.util.Random;
import java.util.Set;
import org.frcnn4j.data.Images;

/**
 * Selective Search (Uijlings, van de Sande, Gevers and Smeulders, IJCV 2013), the proposals of R-CNN and Fast R-CNN
 * that the paper replaces with the RPN: an over-segmentation ({@link GraphSegmentation}) is grouped bottom-up, always
 * merging the two most similar neighbouring regions, and every region of the hierarchy is a proposal. Diversity comes
 * from several strategies (colour space x segmentation scale k x similarity); the proposals of all strategies are
 * ranked by their place in their hierarchy times a random factor, as the original does, and duplicates dropped.
 *
 * <p>{@link Mode#FAST} is the setting R-CNN used: colour spaces HSV and Lab, k = 50 and 100, similarities
 * colour+texture+size+fill and texture+size+fill (8 strategies). {@link Mode#QUALITY} adds colour spaces rgI, H and I,
 * k = 150 and 300, and the fill and size similarities alone (80 strategies). Images are processed with their longer
 * side at most {@code maxSide} pixels (500, about VOC's size) and the boxes scaled back.
 */
public final class SelectiveSearch {
    /** The similarity measures of section 3.2. */
    public enum Similarity { COLOUR, TEXTURE, SIZE, FILL }

    public enum Mode { FAST, QUALITY }

    /** One diversification strategy. */
    public record Strategy(ColorSpaces colorSpace, double k, Set<Similarity> similarities) {}

    private static final int COLOUR_BINS = 25;
    private static final int TEXTURE_BINS = 10;
    private static final int ORIENTATIONS = 8;

    private final List<Strategy> strategies;
    private final int maxSide;
    private final double sigma;

    public SelectiveSearch(List<Strategy> strategies, int maxSide, double sigma) {
        this.strategies = List.copyOf(strategies);
        this.maxSide = maxSide;
        this.sigma = sigma;
    }

    public static SelectiveSearch of(Mode mode) {
        List<Strategy> s = new ArrayList<>();
        Set<Similarity> ctsf = EnumSet.allOf(Similarity.class);
        Set<Similarity> tsf = EnumSet.of(Similarity.TEXTURE, Similarity.SIZE, Similarity.FILL);
        if (mode == Mode.FAST) {
            for (ColorSpaces c : List.of(ColorSpaces.HSV, ColorSpaces.LAB)) {
                for (double k : new double[] {50, 100}) {
                    s.add(new Strategy(c, k, ctsf));
                    s.add(new Strategy(c, k, tsf));
                }
            }
        } else {
            for (ColorSpaces c : ColorSpaces.values()) {
                for (double k : new double[] {50, 100, 150, 300}) {
                    for (Set<Similarity> sim : List.of(ctsf, tsf, EnumSet.of(Similarity.FILL), EnumSet.of(Similarity.SIZE))) {
                        s.add(new Strategy(c, k, sim));
                    }
                }
            }
        }
        return new SelectiveSearch(s, 500, 0.8);
    }

    /** Ranked proposals (n x 4: x1, y1, x2, y2 in the image's pixels, continuous), at most {@code maxBoxes}. */
    public float[] propose(BufferedImage image, int maxBoxes, long seed) {
        BufferedImage rgb = Images.toRgb(image);
        double scale = Math.min(1.0, (double) maxSide / Math.max(rgb.getWidth(), rgb.getHeight()));
        BufferedImage work = scale < 1.0 ? resize(rgb, scale) : rgb;
        int w = work.getWidth();
        int h = work.getHeight();
        Random random = new Random(seed);
        List<float[]> ranked = new ArrayList<>(); // {priority, x1, y1, x2, y2}
        for (Strategy s : strategies) {
            float[][] planes = s.colorSpace().convert(work);
            int[] labels = GraphSegmentation.segment(planes, w, h, sigma, s.k(), (int) s.k());
            List<int[]> boxes = group(planes, labels, w, h, s.similarities());
            int n = boxes.size();
            for (int i = 0; i < n; i++) {
                // position in the hierarchy: the last merge (the whole image) is 1
                double priority = (n - i) * random.nextDouble();
                int[] b = boxes.get(i);
                ranked.add(new float[] {(float) priority, b[0], b[1], b[2], b[3]});
            }
        }
        ranked.sort((a, b) -> Float.compare(a[0], b[0]));
        Set<Long> seen = new HashSet<>();
        float[] out = new float[4 * Math.min(maxBoxes, ranked.size())];
        int k = 0;
        for (float[] r : ranked) {
            if (k == out.length / 4) {
                break;
            }
            long key = (((long) r[1] * 4096 + (long) r[2]) * 4096 + (long) r[3]) * 4096 + (long) r[4];
            if (!seen.add(key)) {
                continue;
            }
            out[4 * k] = (float) (r[1] / scale);
            out[4 * k + 1] = (float) (r[2] / scale);
            out[4 * k + 2] = (float) ((r[3] + 1) / scale);
            out[4 * k + 3] = (float) ((r[4] + 1) / scale);
            k++;
        }
        return Arrays.copyOf(out, 4 * k);
    }

    private static BufferedImage resize(BufferedImage img, double scale) {
        int w = Math.max(1, (int) Math.round(img.getWidth() * scale));
        int h = Math.max(1, (int) Math.round(img.getHeight() * scale));
        BufferedImage out = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = out.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
        g.drawImage(img, 0, 0, w, h, null);
        g.dispose();
        return out;
    }

    /** A region: its size, bounding box (inclusive pixels) and L1-normalised histograms. */
    static final class Region {
        int size;
        int x1 = Integer.MAX_VALUE;
        int y1 = Integer.MAX_VALUE;
        int x2 = -1;
        int y2 = -1;
        float[] colour;
        float[] texture;
        final Set<Integer> neighbours = new LinkedHashSet<>();
        boolean alive = true;
    }

    /**
     * Hierarchical grouping of one segmentation (algorithm 1 of the paper). Returns the boxes of every region in order
     * of creation: the initial regions, then each merge.
     */
    static List<int[]> group(float[][] planes, int[] labels, int w, int h, Set<Similarity> sims) {
        int n = 0;
        for (int l : labels) {
            n = Math.max(n, l + 1);
        }
        int channels = planes.length;
        List<Region> regions = new ArrayList<>(2 * n);
        for (int i = 0; i < n; i++) {
            Region r = new Region();
            r.colour = new float[channels * COLOUR_BINS];
            r.texture = new float[channels * ORIENTATIONS * TEXTURE_BINS];
            regions.add(r);
        }
        float[][][] gradients = orientedGradients(planes, w, h);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int p = y * w + x;
                Region r = regions.get(labels[p]);
                r.size++;
                r.x1 = Math.min(r.x1, x);
                r.y1 = Math.min(r.y1, y);
                r.x2 = Math.max(r.x2, x);
                r.y2 = Math.max(r.y2, y);
                for (int c = 0; c < channels; c++) {
                    int bin = Math.min(COLOUR_BINS - 1, (int) (Math.max(0f, planes[c][p]) * COLOUR_BINS / 256f));
                    r.colour[c * COLOUR_BINS + bin]++;
                    for (int o = 0; o < ORIENTATIONS; o++) {
                        float v = gradients[c][o][p];
                        int tb = Math.min(TEXTURE_BINS - 1, (int) (v * TEXTURE_BINS));
                        r.texture[(c * ORIENTATIONS + o) * TEXTURE_BINS + tb]++;
                    }
                }
                if (x + 1 < w && labels[p + 1] != labels[p]) {
                    link(regions, labels[p], labels[p + 1]);
                }
                if (y + 1 < h && labels[p + w] != labels[p]) {
                    link(regions, labels[p], labels[p + w]);
                }
            }
        }
        for (Region r : regions) {
            normalise(r.colour);
            normalise(r.texture);
        }
        double imageSize = (double) w * h;
        PriorityQueue<double[]> queue = new PriorityQueue<>((a, b) -> {
            int c = Double.compare(b[0], a[0]);
            return c != 0 ? c : Double.compare(a[1] * 1e6 + a[2], b[1] * 1e6 + b[2]);
        });
        for (int i = 0; i < n; i++) {
            for (int j : regions.get(i).neighbours) {
                if (i < j) {
                    queue.add(new double[] {similarity(regions.get(i), regions.get(j), sims, imageSize), i, j});
                }
            }
        }
        List<int[]> boxes = new ArrayList<>();
        for (Region r : regions) {
            boxes.add(new int[] {r.x1, r.y1, r.x2, r.y2});
        }
        while (!queue.isEmpty()) {
            double[] top = queue.poll();
            int a = (int) top[1];
            int b = (int) top[2];
            Region ra = regions.get(a);
            Region rb = regions.get(b);
            if (!ra.alive || !rb.alive) {
                continue; // a stale pair: one side was merged already
            }
            Region m = merge(ra, rb);
            m.neighbours.remove(a); // the merged pair are not neighbours of their union
            m.neighbours.remove(b);
            int id = regions.size();
            regions.add(m);
            boxes.add(new int[] {m.x1, m.y1, m.x2, m.y2});
            for (int nb : m.neighbours) {
                Region other = regions.get(nb);
                other.neighbours.remove(a);
                other.neighbours.remove(b);
                other.neighbours.add(id);
                queue.add(new double[] {similarity(m, other, sims, imageSize), nb, id});
            }
        }
        return boxes;
    }

    private static void link(List<Region> regions, int a, int b) {
        regions.get(a).neighbours.add(b);
        regions.get(b).neighbours.add(a);
    }

    private static Region merge(Region a, Region b) {
        Region m = new Region();
        m.size = a.size + b.size;
        m.x1 = Math.min(a.x1, b.x1);
        m.y1 = Math.min(a.y1, b.y1);
        m.x2 = Math.max(a.x2, b.x2);
        m.y2 = Math.max(a.y2, b.y2);
        m.colour = weighted(a.colour, a.size, b.colour, b.size);
        m.texture = weighted(a.texture, a.size, b.texture, b.size);
        m.neighbours.addAll(a.neighbours);
        m.neighbours.addAll(b.neighbours);
        a.alive = false;
        b.alive = false;
        return m;
    }

    /** Histogram of a merged region: the size-weighted mean (section 3.2, propagation through the hierarchy). */
    private static float[] weighted(float[] a, int sa, float[] b, int sb) {
        float[] out = new float[a.length];
        float total = sa + sb;
        for (int i = 0; i < a.length; i++) {
            out[i] = (a[i] * sa + b[i] * sb) / total;
        }
        return out;
    }

    /** The sum of the chosen similarities, each in [0, 1] (section 3.2). */
    static double similarity(Region a, Region b, Set<Similarity> sims, double imageSize) {
        double s = 0;
        if (sims.contains(Similarity.COLOUR)) {
            s += intersection(a.colour, b.colour);
        }
        if (sims.contains(Similarity.TEXTURE)) {
            s += intersection(a.texture, b.texture);
        }
        if (sims.contains(Similarity.SIZE)) {
            s += 1 - (a.size + b.size) / imageSize;
        }
        if (sims.contains(Similarity.FILL)) {
            double bw = Math.max(a.x2, b.x2) - Math.min(a.x1, b.x1) + 1;
            double bh = Math.max(a.y2, b.y2) - Math.min(a.y1, b.y1) + 1;
            s += 1 - (bw * bh - a.size - b.size) / imageSize;
        }
        return s;
    }

    /** Histogram intersection: the sum of the bin-wise minima. */
    static double intersection(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += Math.min(a[i], b[i]);
        }
        return s;
    }

    private static void normalise(float[] h) {
        float sum = 0;
        for (float v : h) {
            sum += v;
        }
        if (sum > 0) {
            for (int i = 0; i < h.length; i++) {
                h[i] /= sum;
            }
        }
    }

    /**
     * SIFT-like texture responses: Gaussian derivatives (sigma 1) in 8 orientations per channel, positive part,
     * scaled to [0, 1] per channel and orientation.
     */
    static float[][][] orientedGradients(float[][] planes, int w, int h) {
        float[][][] out = new float[planes.length][ORIENTATIONS][];
        for (int c = 0; c < planes.length; c++) {
            float[] s = Filters.gaussian(planes[c], w, h, 1.0);
            float[] gx = new float[w * h];
            float[] gy = new float[w * h];
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    int p = y * w + x;
                    gx[p] = (s[y * w + Math.min(w - 1, x + 1)] - s[y * w + Math.max(0, x - 1)]) / 2f;
                    gy[p] = (s[Math.min(h - 1, y + 1) * w + x] - s[Math.max(0, y - 1) * w + x]) / 2f;
                }
            }
            for (int o = 0; o < ORIENTATIONS; o++) {
                double angle = 2 * Math.PI * o / ORIENTATIONS;
                float cos = (float) StrictMath.cos(angle);
                float sin = (float) StrictMath.sin(angle);
                float[] r = new float[w * h];
                float max = 1e-6f;
                for (int p = 0; p < r.length; p++) {
                    r[p] = Math.max(0f, cos * gx[p] + sin * gy[p]);
                    max = Math.max(max, r[p]);
                }
                for (int p = 0; p < r.length; p++) {
                    r[p] /= max;
                }
                out[c][o] = r;
            }
        }
        return out;
    }
}
