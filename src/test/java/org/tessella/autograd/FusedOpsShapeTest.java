package org.tessella.autograd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.tessella.tensor.ShapeException;
import org.tessella.tensor.Tensor;

/** The fused ops' shape checks say what was wrong and what was wanted; good shapes give the documented output shape. */
class FusedOpsShapeTest {
    @Test
    void qkvAttentionRejectsBadShapesAndTables() {
        Tensor[] tables = Functional.ropeTables(4, 8, 10000f);
        Tensor good = Tensor.of(new float[2 * 4 * 3 * 2 * 8], 2, 4, 3, 2, 8);
        assertArrayEquals(new int[]{2, 4, 2, 8}, Functional.qkvAttention(good, tables[0], tables[1], true).shape());
        ShapeException rank = assertThrows(ShapeException.class,
                () -> Functional.qkvAttention(Tensor.of(new float[4 * 3 * 16], 4, 3, 16), tables[0], tables[1], true));
        assertTrue(rank.getMessage().contains("want qkv [B, T, 3, H, D]"), rank.getMessage());
        ShapeException parts = assertThrows(ShapeException.class,
                () -> Functional.qkvAttention(Tensor.of(new float[2 * 4 * 2 * 2 * 8], 2, 4, 2, 2, 8), tables[0], tables[1], true));
        assertTrue(parts.getMessage().contains("[2, 4, 2, 2, 8]"), parts.getMessage());
        Tensor[] shortTables = Functional.ropeTables(3, 8, 10000f); // 3 positions for 4
        ShapeException t = assertThrows(ShapeException.class,
                () -> Functional.qkvAttention(good, shortTables[0], shortTables[1], true));
        assertTrue(t.getMessage().contains("tables [3, 4]"), t.getMessage());
    }

    @Test
    void swigluRejectsDifferentShapes() {
        Tensor a = Tensor.of(new float[6], 2, 3), b = Tensor.of(new float[6], 3, 2);
        ShapeException e = assertThrows(ShapeException.class, () -> Functional.swiglu(a, b));
        assertTrue(e.getMessage().contains("[2, 3]") && e.getMessage().contains("[3, 2]"), e.getMessage());
        assertArrayEquals(new int[]{2, 3}, Functional.swiglu(a, Tensor.of(new float[6], 2, 3)).shape());
    }
}
