package org.tessella.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.tessella.cpu.RowOpsTest.assertClose;
import static org.tessella.cpu.RowOpsTest.assertSameForOneAndTwoThreads;
import static org.tessella.cpu.RowOpsTest.random;
import static org.tessella.cpu.RowOpsTest.zeros;

import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.tessella.tensor.Tensor;

/** Embedding, gather and their scatter-add backward passes against plain reference loops. */
class IndexingTest {
    static final CpuBackend B = CpuBackend.INSTANCE;

    @AfterAll
    static void restorePool() { WorkerPool.configure(2); }

    static int[] randomInts(long seed, int n, int bound) {
        SplittableRandom r = new SplittableRandom(seed);
        int[] x = new int[n];
        for (int i = 0; i < n; i++) x[i] = r.nextInt(bound);
        return x;
    }

    @Test
    void embeddingForwardAndBackward() {
        for (int d : RowOpsTest.DIMS) {
            int v = 11, n = 23;
            float[] table = random(d, v * d, 1), g = random(d + 1, n * d, 1);
            int[] idx = randomInts(d, n, v);
            idx[3] = idx[7] = idx[12]; // repeats accumulate
            Tensor out = zeros(n, d);
            B.embedding(Tensor.of(table, v, d), Tensor.ofInts(idx, n), out);
            float[] want = new float[n * d];
            for (int i = 0; i < n; i++) System.arraycopy(table, idx[i] * d, want, i * d, d);
            assertArrayEquals(want, out.floats());

            float[] start = random(d + 2, v * d, 1);
            Tensor gt = Tensor.of(start.clone(), v, d);
            B.embeddingBackward(Tensor.of(g, n, d), Tensor.ofInts(idx, n), gt);
            double[] ref = new double[v * d];
            for (int i = 0; i < v * d; i++) ref[i] = start[i];
            for (int i = 0; i < n; i++)
                for (int j = 0; j < d; j++) ref[idx[i] * d + j] += g[i * d + j];
            assertClose("embeddingBackward d=" + d, ref, gt.floats(), 1e-6);
        }
    }

    @Test
    void embeddingRejectsBadIndex() {
        Tensor table = zeros(5, 3);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> B.embedding(table, Tensor.ofInts(new int[]{0, 5}, 2), zeros(2, 3)));
        assertTrue(e.getMessage().contains("5") && e.getMessage().contains("size 5"), e.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> B.embeddingBackward(zeros(2, 3), Tensor.ofInts(new int[]{-1, 0}, 2), zeros(5, 3)));
    }

    @Test
    void gatherAndScatterAddEveryAxis() {
        int[] xShape = {3, 4, 5};
        float[] x = random(1, 60, 1);
        for (int axis = 0; axis < 3; axis++)
            for (int di : new int[]{1, 2, 7}) {
                int[] iShape = xShape.clone();
                iShape[axis] = di;
                int n = iShape[0] * iShape[1] * iShape[2];
                int[] idx = randomInts(axis * 10 + di, n, xShape[axis]);
                Tensor out = zeros(iShape);
                B.gather(Tensor.of(x, xShape), axis, Tensor.ofInts(idx, iShape), out);
                float[] g = random(axis + di, n, 1);
                Tensor gx = zeros(xShape);
                B.scatterAdd(Tensor.of(g, iShape), axis, Tensor.ofInts(idx, iShape), gx);
                float[] want = new float[n];
                double[] wantGx = new double[60];
                for (int a = 0; a < iShape[0]; a++)
                    for (int b = 0; b < iShape[1]; b++)
                        for (int c = 0; c < iShape[2]; c++) {
                            int e = (a * iShape[1] + b) * iShape[2] + c;
                            int[] src = {a, b, c};
                            src[axis] = idx[e];
                            int xe = (src[0] * xShape[1] + src[1]) * xShape[2] + src[2];
                            want[e] = x[xe];
                            wantGx[xe] += g[e];
                        }
                assertArrayEquals(want, out.floats(), "gather axis " + axis + " di " + di);
                assertClose("scatterAdd axis " + axis + " di " + di, wantGx, gx.floats(), 1e-6);
            }
        // negative axis
        Tensor out = zeros(3, 4, 1);
        int[] idx = randomInts(9, 12, 5);
        B.gather(Tensor.of(x, xShape), -1, Tensor.ofInts(idx, 3, 4, 1), out);
        for (int r = 0; r < 12; r++) assertTrue(out.floats()[r] == x[r * 5 + idx[r]]);
    }

    @Test
    void gatherRejectsBadIndex() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> B.gather(zeros(2, 3), 1, Tensor.ofInts(new int[]{0, 3}, 2, 1), zeros(2, 1)));
        assertTrue(e.getMessage().contains("index 3") && e.getMessage().contains("size 3"), e.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> B.scatterAdd(zeros(2, 1), 0, Tensor.ofInts(new int[]{0, 2}, 2, 1), zeros(2, 1)));
    }

    @Test
    void deterministicAcrossThreadCounts() {
        int v = 13, d = 600, n = 200;
        float[] g = random(1, n * d, 1);
        int[] idx = randomInts(2, n, v);
        assertSameForOneAndTwoThreads("embeddingBackward", () -> {
            Tensor gt = zeros(v, d);
            B.embeddingBackward(Tensor.of(g, n, d), Tensor.ofInts(idx, n), gt);
            return gt.floats();
        });
        int[] sIdx = randomInts(3, n * d, 9);
        assertSameForOneAndTwoThreads("scatterAdd", () -> {
            Tensor gx = zeros(9, d);
            B.scatterAdd(Tensor.of(g, n, d), 0, Tensor.ofInts(sIdx, n, d), gx);
            return gx.floats();
        });
    }
}
