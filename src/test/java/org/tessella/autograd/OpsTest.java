package org.tessella.autograd;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.tessella.tensor.DType;
import org.tessella.tensor.ShapeException;
import org.tessella.tensor.Tensor;

import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.tessella.autograd.GradCheck.STD;
import static org.tessella.autograd.GradCheck.leaf;

/** Value tests of the non-differentiable ops, the tape's contract and the shape errors. */
class OpsTest {

    @BeforeEach
    @AfterEach
    void cleanTape() {
        Tape.clear();
        assertTrue(Tape.enabled(), "a no-grad scope leaked from an earlier test");
    }

    // ---- argmax, topk --------------------------------------------------------------------------------------------

    @Test
    void argmax() {
        Tensor x = Tensor.of(new float[]{1, 5, 2, -3, -1, -2, 7, 7, 0, 0, 0, 0}, 3, 4);
        Tensor i = Ops.argmax(x);
        assertEquals(DType.I32, i.dtype());
        assertArrayEquals(new int[]{3}, i.shape());
        assertArrayEquals(new int[]{1, 2, 0}, i.toIntArray(), "first of tied maxima");
        // all-negative row, and a transposed view
        Tensor y = Tensor.of(new float[]{-5, -1, -3, 2, -4, 9}, 3, 2).transpose(0, 1); // [[-5,-3,-4],[-1,2,9]]
        assertArrayEquals(new int[]{1, 2}, Ops.argmax(y).toIntArray());
        // 3-d, long rows
        float[] v = new float[2 * 3 * 50];
        for (int k = 0; k < v.length; k++) v[k] = (float) Math.sin(k * 0.37);
        v[37] = 5; v[50 + 49] = 5; v[100] = 5; v[150 + 20] = 6; v[200 + 3] = 5; v[250 + 11] = 5;
        assertArrayEquals(new int[]{2, 3}, Ops.argmax(Tensor.of(v, 2, 3, 50)).shape());
        assertArrayEquals(new int[]{37, 49, 0, 20, 3, 11}, Ops.argmax(Tensor.of(v, 2, 3, 50)).toIntArray());
    }

    @Test
    void topkDescendingWithIndices() {
        Tensor x = Tensor.of(new float[]{0.5f, 3f, -1f, 2f, 3f, 1f}, 1, 6);
        Tensor[] r = Ops.topk(x, 4);
        assertArrayEquals(new int[]{1, 4}, r[0].shape());
        assertArrayEquals(new float[]{3f, 3f, 2f, 1f}, r[0].toFloatArray());
        assertArrayEquals(new int[]{1, 4, 3, 5}, r[1].toIntArray(), "ties keep index order");
    }

    @Test
    void topkMixedSigns() {
        Tensor x = Tensor.of(new float[]{-1f, 1f, -0.5f, 0.25f, -3f, 0f, 2f, -2f}, 2, 4);
        Tensor[] r = Ops.topk(x, 3);
        assertArrayEquals(new float[]{1f, 0.25f, -0.5f, 2f, 0f, -2f}, r[0].toFloatArray());
        assertArrayEquals(new int[]{1, 3, 2, 2, 1, 3}, r[1].toIntArray());
        // all negative
        Tensor n = Tensor.of(new float[]{-4f, -1f, -3f, -2f}, 4);
        Tensor[] rn = Ops.topk(n, 4);
        assertArrayEquals(new float[]{-1f, -2f, -3f, -4f}, rn[0].toFloatArray());
        assertArrayEquals(new int[]{1, 3, 2, 0}, rn[1].toIntArray());
    }

    @Test
    void topkMatchesSortOnRandomRows() {
        Tensor x = GradCheck.filled(STD, 9, 5, 33);
        float[] v = x.toFloatArray();
        Tensor[] r = Ops.topk(x, 7);
        float[] tv = r[0].toFloatArray();
        int[] ti = r[1].toIntArray();
        for (int row = 0; row < 5; row++) {
            float[] sorted = java.util.Arrays.copyOfRange(v, row * 33, row * 33 + 33);
            java.util.Arrays.sort(sorted);
            for (int t = 0; t < 7; t++) {
                assertEquals(sorted[32 - t], tv[row * 7 + t], 0f, "row " + row + " rank " + t);
                assertEquals(v[row * 33 + ti[row * 7 + t]], tv[row * 7 + t], 0f, "index points at the value");
            }
        }
        // a transposed view
        Tensor xt = x.transpose(0, 1); // [33, 5]
        Tensor[] rt = Ops.topk(xt, 5);
        for (int row = 0; row < 33; row++)
            for (int t = 0; t + 1 < 5; t++) assertTrue(rt[0].get(row, t) >= rt[0].get(row, t + 1));
        // k = full row is a sort, k = 0 is empty
        assertEquals(33, Ops.topk(x, 33)[1].shape(1));
        assertEquals(0, Ops.topk(x, 0)[0].numel());
    }

    // ---- comparisons ---------------------------------------------------------------------------------------------

    @Test
    void comparisons() {
        Tensor a = Tensor.of(new float[]{1, 2, 3, 4, 5, 6}, 2, 3);
        Tensor b = Tensor.of(new float[]{3, 2, 1}, 3);
        assertArrayEquals(new float[]{0, 0, 1, 1, 1, 1}, Ops.gt(a, b).toFloatArray());
        assertArrayEquals(new float[]{1, 0, 0, 0, 0, 0}, Ops.lt(a, b).toFloatArray());
        assertArrayEquals(new float[]{0, 1, 0, 0, 0, 0}, Ops.eq(a, b).toFloatArray());
        assertArrayEquals(new int[]{2, 3}, Ops.gt(a, b).shape());
        // transposed view against a column
        Tensor at = a.transpose(0, 1); // [[1,4],[2,5],[3,6]]
        Tensor col = Tensor.of(new float[]{2, 2, 5}, 3, 1);
        assertArrayEquals(new float[]{0, 1, 0, 1, 0, 1}, Ops.gt(at, col).toFloatArray());
        assertArrayEquals(new float[]{0, 0, 1, 0, 0, 0}, Ops.eq(at, col).toFloatArray());
        // NaN compares false, and comparisons are never recorded
        Tensor nan = Tensor.of(new float[]{Float.NaN}, 1);
        Tensor x = leaf(STD, 1, 4);
        assertArrayEquals(new float[]{0, 0, 0, 0}, Ops.eq(x, nan).toFloatArray());
        int before = Tape.size();
        Tensor g = Ops.gt(x, Tensor.scalar(0f));
        assertEquals(before, Tape.size());
        assertFalse(g.requiresGrad());
    }

    // ---- random --------------------------------------------------------------------------------------------------

    @Test
    void randDeterministicAndUniform() {
        Tensor a = Ops.rand(123, 0, 100, 100), b = Ops.rand(123, 0, 100, 100);
        assertArrayEquals(bits(a), bits(b), "same seed and offset: same bits");
        assertNotEquals(java.util.Arrays.hashCode(bits(a)), java.util.Arrays.hashCode(bits(Ops.rand(124, 0, 100, 100))));
        // element i draws from (seed, offset + i): a shifted offset is a shifted stream
        float[] av = a.toFloatArray(), sv = Ops.rand(123, 10, 50).toFloatArray();
        for (int i = 0; i < 50; i++) assertEquals(av[10 + i], sv[i], 0f);
        double mean = 0, min = 1, max = 0;
        for (float v : av) {
            mean += v;
            min = Math.min(min, v);
            max = Math.max(max, v);
            assertTrue(v >= 0f && v < 1f);
        }
        mean /= av.length;
        assertEquals(0.5, mean, 0.01);
        double var = 0;
        for (float v : av) var += (v - mean) * (v - mean);
        assertEquals(1.0 / 12, var / av.length, 0.005);
        assertTrue(min < 0.001 && max > 0.999);
    }

    @Test
    void randnDeterministicAndNormal() {
        Tensor a = Ops.randn(7, 1000, 200, 100), b = Ops.randn(7, 1000, 200, 100);
        assertArrayEquals(bits(a), bits(b));
        float[] v = a.toFloatArray(), shifted = Ops.randn(7, 1005, 10).toFloatArray();
        for (int i = 0; i < 10; i++) assertEquals(v[5 + i], shifted[i], 0f);
        double mean = 0, m2 = 0, m4 = 0;
        for (float x : v) mean += x;
        mean /= v.length;
        for (float x : v) {
            double d = x - mean;
            m2 += d * d;
            m4 += d * d * d * d;
        }
        m2 /= v.length;
        m4 /= v.length;
        assertEquals(0, mean, 0.02);
        assertEquals(1, Math.sqrt(m2), 0.02);
        assertEquals(3, m4 / (m2 * m2), 0.2, "kurtosis of a normal");
        assertFalse(a.requiresGrad());
    }

    static int[] bits(Tensor t) { return bitsOf(t.toFloatArray()); }

    static int[] bitsOf(float[] f) {
        int[] b = new int[f.length];
        for (int i = 0; i < f.length; i++) b[i] = Float.floatToRawIntBits(f[i]);
        return b;
    }

    @Test
    void creation() {
        assertArrayEquals(new float[]{0, 0, 0, 0, 0, 0}, Ops.zeros(2, 3).toFloatArray());
        assertArrayEquals(new float[]{1, 1}, Ops.ones(2).toFloatArray());
        assertArrayEquals(new float[]{2.5f, 2.5f, 2.5f}, Ops.full(2.5f, 3).toFloatArray());
        Tensor v = Tensor.of(new float[]{1, 2, 3, 4, 5, 6}, 2, 3).transpose(0, 1);
        Tensor f = Ops.fullLike(v, -1f);
        assertArrayEquals(new int[]{3, 2}, f.shape());
        assertTrue(f.isContiguous());
        assertArrayEquals(new float[]{-1, -1, -1, -1, -1, -1}, f.toFloatArray());
    }

    // ---- tape ----------------------------------------------------------------------------------------------------

    @Test
    void noGradRecordsNothing() {
        Tensor x = leaf(STD, 2, 3, 4), w = leaf(STD, 3, 5, 4);
        try (var ignored = Tape.noGrad()) {
            assertFalse(Tape.enabled());
            Tensor y = Ops.sum(Ops.tanh(Ops.linear(x, w, null)));
            Tensor z = Ops.concat(0, Ops.transpose(x, 0, 1), Ops.transpose(x, 0, 1));
            Tensor m = Ops.max(Ops.permute(z, 1, 0), false, 1);
            assertEquals(0, Tape.size());
            assertFalse(y.requiresGrad());
            assertFalse(m.requiresGrad());
            assertTrue(y.isLeaf());
            assertThrows(IllegalStateException.class, () -> Tape.backward(y));
        }
        assertTrue(Tape.enabled());
        // nested scopes
        try (var a = Tape.noGrad()) {
            try (var b = Tape.noGrad()) {
                assertFalse(Tape.enabled());
            }
            assertFalse(Tape.enabled());
            assertEquals(0, Tape.size());
        }
        assertTrue(Tape.enabled());
        // no input requires grad: nothing recorded either
        Tensor c = GradCheck.filled(STD, 4, 3, 4);
        Ops.exp(Ops.mul(c, c));
        assertEquals(0, Tape.size());
        // with grad: recorded, and a backward consumes it
        Tensor y = Ops.sum(Ops.exp(x));
        assertTrue(Tape.size() >= 2);
        Tape.backward(y);
        assertEquals(0, Tape.size());
        assertNull(w.grad());
        x.setGrad(null);
    }

    @Test
    void noGradClosedTwiceThrows() {
        var scope = Tape.noGrad();
        scope.close();
        assertThrows(IllegalStateException.class, scope::close);
        assertTrue(Tape.enabled());
    }

    @Test
    void backwardOnNonScalarNeedsSeed() {
        Tensor x = leaf(STD, 5, 2, 3);
        Tensor y = Ops.exp(x);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Tape.backward(y));
        assertTrue(e.getMessage().contains("scalar"), e.getMessage());
        Tape.clear();
        // with a seed it works: the gradient of sum(y * seed)
        Tensor y2 = Ops.exp(x);
        Tensor seed = GradCheck.filled(STD, 6, 2, 3);
        Tape.backward(y2, seed);
        float[] g = x.grad().toFloatArray(), xv = x.toFloatArray(), sv = seed.toFloatArray();
        for (int i = 0; i < g.length; i++) assertEquals(Math.exp(xv[i]) * sv[i], g[i], 1e-5);
        x.setGrad(null);
        // a one-element non-scalar shape is fine without a seed
        Tensor one = Ops.sum(x, true, 0, 1);
        assertArrayEquals(new int[]{1, 1}, one.shape());
        Tape.backward(one);
        assertArrayEquals(new float[]{1, 1, 1, 1, 1, 1}, x.grad().toFloatArray());
        x.setGrad(null);
    }

    @Test
    void backwardWithoutGradThrows() {
        Tensor c = GradCheck.filled(STD, 7, 3);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Tape.backward(Ops.sum(c)));
        assertTrue(e.getMessage().contains("backward"), e.getMessage());
    }

    // ---- shape errors --------------------------------------------------------------------------------------------

    static void assertShapeError(Supplier<Tensor> op, String... fragments) {
        ShapeException e = assertThrows(ShapeException.class, op::get);
        for (String f : fragments) assertTrue(e.getMessage().contains(f), "message \"" + e.getMessage() + "\" lacks \"" + f + "\"");
        Tape.clear();
    }

    @Test
    void shapeErrorsNameOpAndShapes() {
        Tensor a23 = Ops.zeros(2, 3), a45 = Ops.zeros(4, 5), a4 = Ops.zeros(4);
        assertShapeError(() -> Ops.matmul(a23, a45), "matmul", "[2, 3]", "[4, 5]");
        assertShapeError(() -> Ops.matmul(Ops.zeros(2, 2, 3), Ops.zeros(3, 3, 4)), "matmul", "[2]", "[3]");
        assertShapeError(() -> Ops.matmul(a4, a45), "matmul", "[4]");
        assertShapeError(() -> Ops.add(a23, a4), "add", "[2, 3]", "[4]");
        assertShapeError(() -> Ops.sub(a23, a45), "sub", "[2, 3]", "[4, 5]");
        assertShapeError(() -> Ops.mul(a23, a4), "mul", "[2, 3]", "[4]");
        assertShapeError(() -> Ops.div(a23, a4), "div", "[2, 3]", "[4]");
        assertShapeError(() -> Ops.maximum(a23, a4), "maximum", "[2, 3]", "[4]");
        assertShapeError(() -> Ops.gt(a23, a4), "gt", "[2, 3]", "[4]");
        assertShapeError(() -> Ops.where(Ops.zeros(2, 3), a23, a4), "where", "[4]");
        assertShapeError(() -> Ops.reshape(a23, 4, 2), "reshape", "[2, 3]", "[4, 2]");
        assertShapeError(() -> Ops.sum(a23, false, 2), "sum", "2");
        assertShapeError(() -> Ops.concat(0, a23, a45), "concat", "[2, 3]", "[4, 5]");
        assertShapeError(() -> Ops.expand(a23, 4, 3), "expand", "[2, 3]", "[4, 3]");
        assertShapeError(() -> Ops.squeeze(a23, 0), "squeeze", "[2, 3]");
        assertShapeError(() -> Ops.slice(a23, 1, 2, 5), "slice", "[2, 3]");
        assertShapeError(() -> Ops.permute(a23, 0), "permute", "[2, 3]");
        assertShapeError(() -> Ops.gather(a23, 1, Tensor.ofInts(new int[]{0, 1}, 2)), "gather", "[2]", "[2, 3]");
        assertShapeError(() -> Functional.layerNorm(a23, Ops.ones(4), null, 1e-5f), "layerNorm", "[4]");
        assertShapeError(() -> Functional.groupNorm(Ops.zeros(2, 3, 4), 2, null, null, 1e-5f), "groupNorm", "[2, 3, 4]");
        assertShapeError(() -> Functional.conv2d(Ops.zeros(1, 3, 5, 5), Ops.zeros(2, 4, 3, 3), null, 1, 0), "conv2d", "[1, 3, 5, 5]", "[2, 4, 3, 3]");
        assertShapeError(() -> Functional.embedding(Ops.zeros(3), Tensor.ofInts(new int[]{0}, 1)), "embedding", "[3]");
        assertShapeError(() -> Functional.attention(Ops.zeros(1, 1, 2, 4), Ops.zeros(1, 1, 2, 3), Ops.zeros(1, 1, 2, 3), false), "attention", "[1, 1, 2, 4]");
        assertShapeError(() -> Functional.rope(Ops.zeros(1, 2, 1, 4), Ops.zeros(3, 2), Ops.zeros(3, 2)), "rope", "[1, 2, 1, 4]");
        assertShapeError(() -> Functional.avgPool2d(Ops.zeros(2, 3), 2, 2), "avgPool2d", "[2, 3]");
    }

    @Test
    void dtypeErrors() {
        Tensor i = Tensor.ofInts(new int[]{1, 2}, 2);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Ops.exp(i));
        assertTrue(e.getMessage().contains("exp"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Ops.add(i, Ops.zeros(2)));
        assertThrows(IllegalArgumentException.class, () -> Ops.clamp(Ops.zeros(2), 1f, 0f));
    }

    /** Zero-size dimensions: empty results, empty gradients, sums of nothing are 0. */
    @Test
    void zeroSizeTensors() {
        Tensor x = Ops.zeros(0, 3).requiresGrad(true);
        Tensor y = Ops.add(x, Tensor.of(new float[]{1, 2, 3}, 3));
        assertArrayEquals(new int[]{0, 3}, y.shape());
        Tensor s = Ops.sum(y, false, 0);
        assertArrayEquals(new float[]{0, 0, 0}, s.toFloatArray());
        Tape.backward(Ops.sum(s));
        assertArrayEquals(new int[]{0, 3}, x.grad().shape());
        Tensor m = Ops.matmul(Ops.zeros(2, 0), Ops.zeros(0, 3));
        assertArrayEquals(new float[]{0, 0, 0, 0, 0, 0}, m.toFloatArray(), "k = 0: a sum of nothing");
        assertEquals(0, Ops.concat(0, Ops.zeros(0, 2), Ops.zeros(0, 2)).numel());
    }

    // ---- value spot checks of views and copies (beyond the gradient checks) -------------------------------------

    @Test
    void concatAndSliceValues() {
        Tensor a = Tensor.of(new float[]{1, 2, 3, 4}, 2, 2), b = Tensor.of(new float[]{5, 6}, 2, 1);
        assertArrayEquals(new float[]{1, 2, 5, 3, 4, 6}, Ops.concat(1, a, b).toFloatArray());
        assertArrayEquals(new float[]{1, 3, 2, 4}, Ops.contiguous(Ops.transpose(a, 0, 1)).toFloatArray());
        assertArrayEquals(new float[]{2, 4}, Ops.slice(a, 1, 1, 2).toFloatArray());
        Tensor ints = Ops.concat(0, Tensor.ofInts(new int[]{1, 2}, 2), Tensor.ofInts(new int[]{3}, 1));
        assertEquals(DType.I32, ints.dtype());
        assertArrayEquals(new int[]{1, 2, 3}, ints.toIntArray());
        assertArrayEquals(new float[]{1, 2, 3, 4, 1, 2, 3, 4}, Ops.contiguous(Ops.expand(a, 2, 2, 2)).toFloatArray());
        assertArrayEquals(new float[]{1, 5, 2, 6}, Ops.stack(1, Tensor.of(new float[]{1, 2}, 2), Tensor.of(new float[]{5, 6}, 2)).toFloatArray());
    }
}
