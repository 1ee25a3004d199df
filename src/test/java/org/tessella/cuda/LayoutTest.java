package org.tessella.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;
import org.tessella.tensor.DType;
import org.tessella.tensor.Tensor;

/** How strided operands are described to the elementwise kernels (no GPU needed). */
class LayoutTest {
    @Test
    void contiguousOperandsMergeToOneDimension() {
        Tensor a = Tensor.persistent(DType.F32, 4, 5, 6), b = Tensor.persistent(DType.F32, 4, 5, 6);
        Layout l = Layout.of("add", a.shape(), a, b);
        assertEquals(1, l.rank);
        assertEquals(120, l.shape[0]);
        assertTrue(l.dense(0) && l.dense(1));
    }

    @Test
    void broadcastAndTransposedViewsKeepTheirStrides() {
        Tensor out = Tensor.persistent(DType.F32, 4, 5, 6);
        Tensor bias = Tensor.persistent(DType.F32, 6).expand(4, 5, 6);        // strides 0, 0, 1
        Tensor t = Tensor.persistent(DType.F32, 6, 5, 4).permute(2, 1, 0);    // strides 1, 4, 20
        Layout l = Layout.of("op", out.shape(), out, bias, t);
        assertEquals(3, l.rank);
        assertArrayEquals(new int[]{4, 5, 6}, java.util.Arrays.copyOf(l.shape, 3));
        assertArrayEquals(new int[]{0, 0, 1}, java.util.Arrays.copyOf(l.strides[1], 3));
        assertArrayEquals(new int[]{1, 4, 20}, java.util.Arrays.copyOf(l.strides[2], 3));
        // a broadcast over the leading dims merges with them
        Layout m = Layout.of("op", out.shape(), out, bias);
        assertEquals(2, m.rank);
        assertArrayEquals(new int[]{0, 1}, java.util.Arrays.copyOf(m.strides[1], 2));
    }

    @Test
    void writesTheKernelStruct() {
        Tensor out = Tensor.persistent(DType.F32, 3, 7);
        Tensor col = Tensor.persistent(DType.F32, 3, 1).expand(3, 7);
        Layout l = Layout.of("op", out.shape(), out, col);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(Layout.BYTES);
            l.writeTo(s);
            assertEquals(2, s.get(ValueLayout.JAVA_INT, 0));
            assertEquals(3, s.get(ValueLayout.JAVA_INT, 4));
            assertEquals(7, s.get(ValueLayout.JAVA_INT, 8));
            int op1 = 4 * (1 + Layout.MAX_RANK + Layout.MAX_RANK);
            assertEquals(1, s.get(ValueLayout.JAVA_INT, op1));     // col's stride over rows
            assertEquals(0, s.get(ValueLayout.JAVA_INT, op1 + 4)); // broadcast over columns
        }
    }

    @Test
    void tooManyDimensionsAfterMergingIsRefused() {
        int[] shape = {2, 2, 2, 2, 2, 2, 2, 2, 2};
        Tensor out = Tensor.persistent(DType.F32, shape);
        int[] perm = {8, 7, 6, 5, 4, 3, 2, 1, 0};
        Tensor x = Tensor.persistent(DType.F32, shape).permute(perm);
        assertThrows(UnsupportedOperationException.class, () -> Layout.of("copy", shape, out, x));
    }
}
