package org.tessella.cpu;

import org.junit.jupiter.api.Test;
import org.tessella.autograd.Ops;
import org.tessella.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** The one-pass multi-tensor AdamW, scaling and sum of squares give the bits of one call per tensor. */
class MultiTensorTest {
    private static final int[] SIZES = {1, 7, 64, Chunks.RUN, Chunks.RUN + 5, 3 * Chunks.RUN - 1, 100_000};

    private static List<Tensor> tensors(long seed) {
        List<Tensor> ts = new ArrayList<>();
        for (int i = 0; i < SIZES.length; i++) ts.add(Tensor.copyOf(Ops.randn(seed, 1000L * i, SIZES[i])));
        return ts;
    }

    private static List<Tensor> copies(List<Tensor> ts) {
        List<Tensor> c = new ArrayList<>();
        for (Tensor t : ts) c.add(Tensor.copyOf(t));
        return c;
    }

    @Test
    void adamwOverAListEqualsOneCallPerTensor() {
        for (int threads : new int[]{1, 3}) {
            WorkerPool.configure(threads);
            try {
                List<Tensor> p = tensors(1), g = tensors(2), m = tensors(3), v = tensors(4);
                for (Tensor t : v) Elementwise.unary(org.tessella.backend.UnaryOp.ABS, t, t); // a second moment is >= 0
                List<Tensor> p2 = copies(p), m2 = copies(m), v2 = copies(v);
                float[] decay = new float[p.size()];
                for (int i = 0; i < decay.length; i++) decay[i] = i % 2 == 0 ? 0.1f : 0f;
                for (int i = 0; i < p.size(); i++)
                    CpuBackend.INSTANCE.adamw(p.get(i), g.get(i), m.get(i), v.get(i), 1e-3f, 0.9f, 0.95f, 1e-8f, decay[i], 0.19f, 0.0975f);
                CpuBackend.INSTANCE.adamw(p2, g, m2, v2, 1e-3f, 0.9f, 0.95f, 1e-8f, decay, 0.19f, 0.0975f);
                for (int i = 0; i < p.size(); i++) {
                    assertArrayEquals(p.get(i).toFloatArray(), p2.get(i).toFloatArray(), "param " + i + ", " + threads + " threads");
                    assertArrayEquals(m.get(i).toFloatArray(), m2.get(i).toFloatArray(), "m " + i);
                    assertArrayEquals(v.get(i).toFloatArray(), v2.get(i).toFloatArray(), "v " + i);
                }
            } finally {
                WorkerPool.configure(Runtime.getRuntime().availableProcessors());
            }
        }
    }

    @Test
    void scaleAndSumOfSquaresOverAListEqualOneCallPerTensor() {
        List<Tensor> a = tensors(5), b = copies(a);
        double loop = 0;
        for (Tensor t : a) loop += CpuBackend.INSTANCE.sumOfSquares(t);
        assertEquals(loop, CpuBackend.INSTANCE.sumOfSquares(a), 0.0, "the sum of squares of the list, in list order");
        for (Tensor t : a) CpuBackend.INSTANCE.affine(t, 0.37f, 0f, t);
        CpuBackend.INSTANCE.scale(b, 0.37f);
        for (int i = 0; i < a.size(); i++) assertArrayEquals(a.get(i).toFloatArray(), b.get(i).toFloatArray(), "tensor " + i);
    }
}
