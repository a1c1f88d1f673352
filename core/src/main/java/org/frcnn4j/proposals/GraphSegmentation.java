package org.frcnn4j.proposals;

import java.util.Arrays;

/**
 * Felzenszwalb and Huttenlocher's graph-based image segmentation (IJCV 2004), the initial regions of Selective Search:
 * pixels are nodes, 8-neighbours are joined by edges weighted with their colour distance (Euclidean over the
 * channels, after Gaussian smoothing), and edges are visited in increasing weight, merging two components when the
 * edge is no heavier than either's internal difference plus k / size. Components smaller than {@code minSize} are
 * merged into a neighbour afterwards.
 */
public final class GraphSegmentation {
    private GraphSegmentation() {}

    /**
     * @param channels one plane per channel (width * height values, row-major)
     * @param sigma    Gaussian smoothing before the distances (0.8 in the paper)
     * @param k        the scale parameter: larger k, larger components
     * @return a component label per pixel, 0..count-1, numbered in order of first appearance
     */
    public static int[] segment(float[][] channels, int width, int height, double sigma, double k, int minSize) {
        float[][] smooth = new float[channels.length][];
        for (int c = 0; c < channels.length; c++) {
            smooth[c] = sigma > 0 ? Filters.gaussian(channels[c], width, height, sigma) : channels[c];
        }
        int n = width * height;
        // edges to the right, down, down-right and up-right neighbours
        int maxEdges = 4 * n;
        int[] from = new int[maxEdges];
        int[] to = new int[maxEdges];
        float[] weight = new float[maxEdges];
        int e = 0;
        int[][] offsets = {{1, 0}, {0, 1}, {1, 1}, {1, -1}};
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                int p = y * width + x;
                for (int[] o : offsets) {
                    int nx = x + o[0];
                    int ny = y + o[1];
                    if (nx >= width || ny < 0 || ny >= height) {
                        continue;
                    }
                    int q = ny * width + nx;
                    float d = 0;
                    for (float[] ch : smooth) {
                        float v = ch[p] - ch[q];
                        d += v * v;
                    }
                    from[e] = p;
                    to[e] = q;
                    weight[e++] = (float) Math.sqrt(d);
                }
            }
        }
        // sort edges by weight: non-negative floats order as their bit patterns; the index breaks ties
        long[] order = new long[e];
        for (int i = 0; i < e; i++) {
            order[i] = ((long) Float.floatToIntBits(weight[i]) << 32) | i;
        }
        Arrays.sort(order);
        UnionFind u = new UnionFind(n);
        float[] threshold = new float[n];
        Arrays.fill(threshold, (float) k);
        for (long key : order) {
            int i = (int) key;
            int a = u.find(from[i]);
            int b = u.find(to[i]);
            if (a != b && weight[i] <= threshold[a] && weight[i] <= threshold[b]) {
                int root = u.join(a, b);
                threshold[root] = weight[i] + (float) (k / u.size(root));
            }
        }
        for (long key : order) {
            int i = (int) key;
            int a = u.find(from[i]);
            int b = u.find(to[i]);
            if (a != b && (u.size(a) < minSize || u.size(b) < minSize)) {
                u.join(a, b);
            }
        }
        int[] labels = new int[n];
        int[] id = new int[n];
        Arrays.fill(id, -1);
        int next = 0;
        for (int p = 0; p < n; p++) {
            int r = u.find(p);
            if (id[r] < 0) {
                id[r] = next++;
            }
            labels[p] = id[r];
        }
        return labels;
    }

    /** Disjoint sets with union by rank and path compression. */
    static final class UnionFind {
        private final int[] parent;
        private final int[] rank;
        private final int[] size;

        UnionFind(int n) {
            parent = new int[n];
            rank = new int[n];
            size = new int[n];
            for (int i = 0; i < n; i++) {
                parent[i] = i;
                size[i] = 1;
            }
        }

        int find(int x) {
            int r = x;
            while (parent[r] != r) {
                r = parent[r];
            }
            while (parent[x] != r) {
                int next = parent[x];
                parent[x] = r;
                x = next;
            }
            return r;
        }

        /** Joins two roots; returns the new root. */
        int join(int a, int b) {
            if (rank[a] < rank[b]) {
                int t = a;
                a = b;
                b = t;
            }
            parent[b] = a;
            size[a] += size[b];
            if (rank[a] == rank[b]) {
                rank[a]++;
            }
            return a;
        }

        int size(int root) {
            return size[root];
        }
    }
}
