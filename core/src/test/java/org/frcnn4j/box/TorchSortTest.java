package org.frcnn4j.box;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import java.io.IOException;
import java.io.InputStream;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** torch 1.13's CPU sort and topk permutations (tools/torchvision/make_sort_fixture.py), ties and NaN included. */
class TorchSortTest {
    private static Map<String, NDArray> fixture(NDManager m) throws IOException {
        Map<String, NDArray> out = new HashMap<>();
        try (InputStream in = TorchSortTest.class.getResourceAsStream("/fixtures/torchvision/sort.npz")) {
            for (NDArray a : NDList.decode(m, in)) {
                out.put(a.getName().replace(".npy", ""), a);
            }
        }
        return out;
    }

    @Test
    void samePermutationsAsTorch() throws IOException {
        try (NDManager m = NDManager.newBaseManager()) {
            Map<String, NDArray> f = fixture(m);
            int[] ks = f.get("k").toIntArray();
            for (int i = 0; i < ks.length; i++) {
                float[] values = f.get("values_" + i).toFloatArray();
                assertThat(TorchSort.sortDescending(values)).as("sort, case %d (n = %d)", i, values.length)
                        .containsExactly(f.get("sort_" + i).toIntArray());
                assertThat(TorchSort.topk(values, ks[i])).as("topk %d, case %d (n = %d)", ks[i], i, values.length)
                        .containsExactly(f.get("topk_" + i).toIntArray());
            }
        }
    }

    @Test
    void distinctValuesSortAsAnySortDoes() {
        float[] values = {0.5f, 3f, -1f, 2f, 7f, 0f};
        assertThat(TorchSort.sortDescending(values)).containsExactly(4, 1, 3, 0, 5, 2);
        assertThat(TorchSort.topk(values, 2)).containsExactly(4, 1);
        assertThat(TorchSort.topk(values, 0)).isEmpty();
        // unstable: the equal values of this 24-long array come out in torch's order, not by index
        float[] ties = new float[24];
        float[] pattern = {1, 2, 2, 3, 2, 1, 2, 2};
        for (int i = 0; i < ties.length; i++) {
            ties[i] = pattern[i % 8];
        }
        assertThat(TorchSort.sortDescending(ties)).startsWith(3, 19, 11, 12, 23, 22, 20, 18);
    }
}
