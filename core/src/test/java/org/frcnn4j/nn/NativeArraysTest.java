package org.frcnn4j.nn;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.Test;

class NativeArraysTest {
    @Test
    void arraysOwnTheirDataOnceTheSharedBufferIsReused() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray first = NativeArrays.of(m, new float[] {1, 2, 3, 4, 99}, 4, new Shape(2, 2));
            NDArray second = NativeArrays.of(m, new float[] {5, 6, 7, 8}, 4, new Shape(4)); // same scratch buffer
            NDArray indices = NativeArrays.of(m, new long[] {10, 20, 30}, 3, new Shape(3));
            assertThat(first.toFloatArray()).containsExactly(1, 2, 3, 4); // only `length` values, not the 99
            assertThat(first.getShape()).isEqualTo(new Shape(2, 2));
            assertThat(second.toFloatArray()).containsExactly(5, 6, 7, 8);
            assertThat(indices.toLongArray()).containsExactly(10, 20, 30);
        }
    }
}
