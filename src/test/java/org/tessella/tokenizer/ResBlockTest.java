package org.tessella.tokenizer;

import org.junit.jupiter.api.Test;
import org.tessella.autograd.Ops;
import org.tessella.autograd.Tape;
import org.tessella.nn.Init;
import org.tessella.nn.Parameter;
import org.tessella.tensor.ShapeException;
import org.tessella.tensor.Tensor;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ResBlockTest {
    static boolean anyNonZero(Tensor t) {
        for (float v : t.toFloatArray()) if (v != 0f) return true;
        return false;
    }

    @Test
    void sameWidthHasNoSkipAndKeepsShape() {
        ResBlock b = new ResBlock(32, 32, 8, new Init(1));
        assertNull(b.skip);
        assertEquals(List.of("norm1.weight", "norm1.bias", "conv1.weight", "conv1.bias", "norm2.weight", "norm2.bias",
                "conv2.weight", "conv2.bias"), b.stateDict().keySet().stream().toList());
        Tensor x = Ops.randn(3, 0, 2, 32, 5, 6);
        assertArrayEquals(new int[]{2, 32, 5, 6}, b.forward(x).shape());
    }

    @Test
    void widthChangeAddsSkipAndGradientsReachEveryParameter() {
        ResBlock b = new ResBlock(16, 32, 8, new Init(2));
        assertNotNull(b.skip);
        assertArrayEquals(new int[]{32, 16, 1, 1}, b.stateDict().get("skip.weight").shape());
        assertTrue(b.stateDict().containsKey("skip.bias"));
        Tensor x = Ops.randn(4, 0, 2, 16, 6, 6).requiresGrad(true);
        Tensor y = b.forward(x);
        assertArrayEquals(new int[]{2, 32, 6, 6}, y.shape());
        Tape.backward(Ops.mean(Ops.square(y)));
        assertTrue(anyNonZero(x.grad()), "input gradient");
        for (Parameter p : b.parameters()) {
            assertNotNull(p.tensor().grad(), p.name());
            assertTrue(anyNonZero(p.tensor().grad()), p.name() + " has an all-zero gradient");
        }
    }

    @Test
    void identityPathIsExactWhenResidualIsZero() {
        ResBlock b = new ResBlock(8, 8, 4, new Init(3));
        // zero conv2: the block is the identity
        java.util.Arrays.fill(b.conv2.weight.floats(), 0f);
        java.util.Arrays.fill(b.conv2.bias.floats(), 0f);
        Tensor x = Ops.randn(5, 0, 1, 8, 4, 4);
        assertArrayEquals(x.toFloatArray(), b.forward(x).toFloatArray());
    }

    @Test
    void wrongChannelsNameBothShapes() {
        ResBlock b = new ResBlock(16, 32, 8, new Init(2));
        ShapeException e = assertThrows(ShapeException.class, () -> b.forward(Ops.zeros(1, 8, 4, 4)));
        assertTrue(e.getMessage().contains("[B, 16, H, W]") && e.getMessage().contains("[1, 8, 4, 4]"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new ResBlock(16, 24, 32, new Init(0)));
    }
}
