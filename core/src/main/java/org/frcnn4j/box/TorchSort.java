package org.frcnn4j.box;

/**
 * The orders in which PyTorch's CPU kernels rank scores, equal scores included: {@code sort(descending=True)} is
 * libstdc++'s {@code std::sort} (introsort: median-of-three quicksort, heapsort past a depth limit, insertion sort
 * below 16 elements) on (score, index) pairs, and {@code topk(k)} is {@code std::partial_sort} when {@code 64 k <= n}
 * and {@code std::nth_element} followed by {@code std::sort} of the first k - 1 otherwise (ATen's TopKImpl.h). Neither
 * is stable, so where many scores are equal (a network whose features are the same at many positions), which of
 * them torchvision keeps depends on these exact algorithms; they are reproduced step for step so that frcnn4j keeps
 * the same ones. TorchSortTest checks the permutations against torch 1.13's on arrays full of ties.
 */
public final class TorchSort {
    private static final int THRESHOLD = 16; // libstdc++'s _S_threshold

    private final float[] v;
    private final int[] idx;

    private TorchSort(float[] values) {
        this.v = values.clone();
        this.idx = new int[values.length];
        for (int i = 0; i < idx.length; i++) {
            idx[i] = i;
        }
    }

    /** The indices {@code torch.sort(values, descending=True)} returns on the CPU. */
    public static int[] sortDescending(float[] values) {
        TorchSort s = new TorchSort(values);
        s.sort(0, values.length);
        return s.idx;
    }

    /** The indices {@code torch.topk(values, k)} returns on the CPU (largest, sorted), {@code k <= values.length}. */
    public static int[] topk(float[] values, int k) {
        int n = values.length;
        if (k < 0 || k > n) {
            throw new IllegalArgumentException("topk: k = " + k + " of " + n);
        }
        TorchSort s = new TorchSort(values);
        if (k == 0) {
            return new int[0];
        }
        if ((long) k * 64 <= n) {
            s.partialSort(0, k, n);
        } else {
            s.nthElement(0, k - 1, n);
            s.sort(0, k - 1);
        }
        return java.util.Arrays.copyOf(s.idx, k);
    }

    /** {@code a} goes before {@code b}: NaN first, then larger values. */
    private static boolean before(float a, float b) {
        return (Float.isNaN(a) && !Float.isNaN(b)) || a > b;
    }

    private boolean before(int i, int j) {
        return before(v[i], v[j]);
    }

    private void swap(int i, int j) {
        float t = v[i];
        v[i] = v[j];
        v[j] = t;
        int u = idx[i];
        idx[i] = idx[j];
        idx[j] = u;
    }

    private void set(int to, int from) {
        v[to] = v[from];
        idx[to] = idx[from];
    }

    private static int lg(int n) {
        return 31 - Integer.numberOfLeadingZeros(n);
    }

    // std::sort

    private void sort(int first, int last) {
        if (last - first > 1) {
            introsortLoop(first, last, lg(last - first) * 2);
            finalInsertionSort(first, last);
        }
    }

    private void introsortLoop(int first, int last, int depth) {
        while (last - first > THRESHOLD) {
            if (depth == 0) {
                partialSort(first, last, last);
                return;
            }
            depth--;
            int cut = unguardedPartitionPivot(first, last);
            introsortLoop(cut, last, depth);
            last = cut;
        }
    }

    private int unguardedPartitionPivot(int first, int last) {
        int mid = first + (last - first) / 2;
        moveMedianToFirst(first, first + 1, mid, last - 1);
        return unguardedPartition(first + 1, last, first);
    }

    private void moveMedianToFirst(int result, int a, int b, int c) {
        if (before(a, b)) {
            if (before(b, c)) {
                swap(result, b);
            } else if (before(a, c)) {
                swap(result, c);
            } else {
                swap(result, a);
            }
        } else if (before(a, c)) {
            swap(result, a);
        } else if (before(b, c)) {
            swap(result, c);
        } else {
            swap(result, b);
        }
    }

    private int unguardedPartition(int first, int last, int pivot) {
        while (true) {
            while (before(first, pivot)) {
                first++;
            }
            last--;
            while (before(pivot, last)) {
                last--;
            }
            if (first >= last) {
                return first;
            }
            swap(first, last);
            first++;
        }
    }

    private void finalInsertionSort(int first, int last) {
        if (last - first > THRESHOLD) {
            insertionSort(first, first + THRESHOLD);
            for (int i = first + THRESHOLD; i < last; i++) {
                unguardedLinearInsert(i);
            }
        } else {
            insertionSort(first, last);
        }
    }

    private void insertionSort(int first, int last) {
        if (first == last) {
            return;
        }
        for (int i = first + 1; i < last; i++) {
            if (before(i, first)) {
                float value = v[i];
                int index = idx[i];
                System.arraycopy(v, first, v, first + 1, i - first);
                System.arraycopy(idx, first, idx, first + 1, i - first);
                v[first] = value;
                idx[first] = index;
            } else {
                unguardedLinearInsert(i);
            }
        }
    }

    private void unguardedLinearInsert(int last) {
        float value = v[last];
        int index = idx[last];
        int next = last - 1;
        while (before(value, v[next])) {
            set(last, next);
            last = next;
            next--;
        }
        v[last] = value;
        idx[last] = index;
    }

    // heaps: std::partial_sort, and introsort's and introselect's fallback

    private void partialSort(int first, int middle, int last) {
        heapSelect(first, middle, last);
        sortHeap(first, middle);
    }

    private void heapSelect(int first, int middle, int last) {
        makeHeap(first, middle);
        for (int i = middle; i < last; i++) {
            if (before(i, first)) {
                popHeap(first, middle, i);
            }
        }
    }

    private void makeHeap(int first, int last) {
        int len = last - first;
        if (len < 2) {
            return;
        }
        for (int parent = (len - 2) / 2; ; parent--) {
            adjustHeap(first, parent, len, v[first + parent], idx[first + parent]);
            if (parent == 0) {
                return;
            }
        }
    }

    private void sortHeap(int first, int last) {
        while (last - first > 1) {
            last--;
            popHeap(first, last, last);
        }
    }

    private void popHeap(int first, int last, int result) {
        float value = v[result];
        int index = idx[result];
        set(result, first);
        adjustHeap(first, 0, last - first, value, index);
    }

    private void adjustHeap(int first, int hole, int len, float value, int index) {
        int top = hole;
        int second = hole;
        while (second < (len - 1) / 2) {
            second = 2 * (second + 1);
            if (before(first + second, first + second - 1)) {
                second--;
            }
            set(first + hole, first + second);
            hole = second;
        }
        if ((len & 1) == 0 && second == (len - 2) / 2) {
            second = 2 * (second + 1);
            set(first + hole, first + second - 1);
            hole = second - 1;
        }
        // push_heap
        int parent = (hole - 1) / 2;
        while (hole > top && before(v[first + parent], value)) {
            set(first + hole, first + parent);
            hole = parent;
            parent = (hole - 1) / 2;
        }
        v[first + hole] = value;
        idx[first + hole] = index;
    }

    // std::nth_element

    private void nthElement(int first, int nth, int last) {
        if (first == last || nth == last) {
            return;
        }
        int depth = lg(last - first) * 2;
        while (last - first > 3) {
            if (depth == 0) {
                heapSelect(first, nth + 1, last);
                swap(first, nth);
                return;
            }
            depth--;
            int cut = unguardedPartitionPivot(first, last);
            if (cut <= nth) {
                first = cut;
            } else {
                last = cut;
            }
        }
        insertionSort(first, last);
    }
}
