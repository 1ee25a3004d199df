package org.tessella.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.tessella.tensor.Tensor;

class GemmTest {

    @AfterAll
    static void restorePool() {
        WorkerPool.configure(WorkerPool.defaultThreads());
    }

    static float[] random(SplittableRandom r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (r.nextDouble() * 2 - 1);
        return x;
    }

    /** One problem: shapes, flags, data; {@link #run} computes it, {@link #check} compares with doubles. */
    record Case(int batch, int ba, int bb, int m, int k, int n, boolean ta, boolean tb, float alpha, float beta,
                float[] a, float[] b, float[] c0) {

        static Case of(long seed, int batch, int ba, int bb, int m, int k, int n, boolean ta, boolean tb,
                       float alpha, float beta) {
            SplittableRandom r = new SplittableRandom(seed);
            float[] c0 = random(r, batch * m * n);
            if (beta == 0f) Arrays.fill(c0, Float.NaN); // beta = 0 must ignore c, even NaN
            return new Case(batch, ba, bb, m, k, n, ta, tb, alpha, beta, random(r, ba * m * k), random(r, bb * k * n), c0);
        }

        float[] run() {
            Tensor ta_ = this.ta ? Tensor.of(a.clone(), ba, k, m) : Tensor.of(a.clone(), ba, m, k);
            Tensor tb_ = this.tb ? Tensor.of(b.clone(), bb, n, k) : Tensor.of(b.clone(), bb, k, n);
            Tensor tc = Tensor.of(c0.clone(), batch, m, n);
            CpuBackend.INSTANCE.matmul(ta_, ta, tb_, tb, tc, alpha, beta);
            return tc.floats();
        }

        double av(int i, int row, int kk) {
            int base = ba == 1 ? 0 : i * m * k;
            return ta ? a[base + kk * m + row] : a[base + row * k + kk];
        }

        double bv(int i, int kk, int col) {
            int base = bb == 1 ? 0 : i * k * n;
            return tb ? b[base + col * k + kk] : b[base + kk * n + col];
        }

        void check(float[] got) {
            for (int i = 0; i < batch; i++)
                for (int row = 0; row < m; row++)
                    for (int col = 0; col < n; col++) {
                        double s = 0, scale = 0;
                        for (int kk = 0; kk < k; kk++) {
                            double p = av(i, row, kk) * bv(i, kk, col);
                            s += p;
                            scale += Math.abs(p);
                        }
                        int ci = (i * m + row) * n + col;
                        double ref = alpha * s, mag = Math.abs(alpha) * scale;
                        if (beta != 0f) {
                            ref += beta * (double) c0[ci];
                            mag += Math.abs(beta * (double) c0[ci]);
                        }
                        double err = Math.abs(got[ci] - ref);
                        if (!(err <= 1e-5 * mag + 1e-30))
                            fail(this + " at [" + i + "," + row + "," + col + "]: got " + got[ci] + ", want " + ref
                                    + " (relative error " + err / mag + ")");
                    }
        }

        @Override public String toString() {
            return "matmul batch=" + batch + " (a " + ba + ", b " + bb + ") m=" + m + " k=" + k + " n=" + n
                    + " transA=" + ta + " transB=" + tb + " alpha=" + alpha + " beta=" + beta;
        }
    }

    @Test
    void matchesDoubleReferenceOnManyShapes() {
        int[] sizes = {1, 3, 17, 33, 65};
        long seed = 1;
        for (int m : sizes)
            for (int k : sizes)
                for (int n : sizes)
                    for (int t = 0; t < 4; t++) {
                        Case c = Case.of(seed++, 1, 1, 1, m, k, n, (t & 1) != 0, (t & 2) != 0, 1f, 0f);
                        c.check(c.run());
                    }
    }

    @Test
    void oddAndLargerShapes() {
        int[][] shapes = { // m, k, n
                {127, 33, 65}, {2, 127, 129}, {3, 600, 70}, {7, 1100, 5}, {13, 17, 1100}, {64, 64, 64},
                {200, 130, 129}, {300, 129, 130}, {5, 256, 768}, {1, 768, 256}, {130, 1030, 40}};
        long seed = 100;
        for (int[] s : shapes)
            for (int t = 0; t < 4; t++) {
                Case c = Case.of(seed++, 1, 1, 1, s[0], s[1], s[2], (t & 1) != 0, (t & 2) != 0, 1f, 0f);
                c.check(c.run());
            }
    }

    @Test
    void batchesBroadcastAlphaBeta() {
        long seed = 1000;
        int[][] shapes = {{1, 5, 7}, {2, 9, 3}, {17, 33, 19}, {40, 70, 50}};
        float[][] ab = {{1f, 0f}, {0.5f, 0f}, {1f, 1f}, {-2f, 0.75f}, {0f, 0.5f}, {0f, 0f}};
        for (int[] s : shapes)
            for (int t = 0; t < 4; t++)
                for (float[] p : ab) {
                    for (int[] bab : new int[][]{{3, 3}, {1, 3}, {3, 1}}) {
                        Case c = Case.of(seed++, 3, bab[0], bab[1], s[0], s[1], s[2], (t & 1) != 0, (t & 2) != 0, p[0], p[1]);
                        c.check(c.run());
                    }
                }
    }

    @Test
    void emptyReductionScalesC() {
        Case c = Case.of(7, 2, 2, 2, 3, 0, 4, false, false, 1f, 0.5f);
        c.check(c.run());
        Case z = Case.of(8, 1, 1, 1, 3, 0, 4, false, true, 1f, 0f);
        float[] got = z.run();
        for (float v : got) assertEquals(0f, v);
    }

    @Test
    void identicalBitsForOneTwoAndNineThreads() {
        long seed = 5000;
        Case[] cases = {
                Case.of(seed++, 1, 1, 1, 300, 129, 130, false, false, 1f, 0f),   // shared B panel, split rows
                Case.of(seed++, 1, 1, 1, 257, 1030, 70, true, true, 0.5f, 0.25f), // several K blocks
                Case.of(seed++, 1, 1, 1, 7, 200, 1100, false, true, 1f, 0f),     // few rows: columns split
                Case.of(seed++, 1, 1, 1, 2, 700, 300, false, false, 1f, 1f),     // direct path
                Case.of(seed++, 1, 1, 1, 3, 700, 300, true, true, 1f, 0f),       // direct path, B transposed
                Case.of(seed++, 24, 1, 24, 33, 40, 50, false, false, 1f, 0f),    // many small matrices
                Case.of(seed++, 2, 2, 1, 600, 100, 100, false, true, 1f, 0f),
                Case.of(seed++, 1, 1, 1, 96, 700, 1500, true, false, 1f, 0f),    // weight-gradient-like: shared B,
                                                                                  // rows and columns split (9 threads)
                Case.of(seed++, 1, 1, 1, 130, 1600, 200, true, false, 1f, 0f),   // deep K, A transposed, read in place (9 threads)
                Case.of(seed++, 1, 1, 1, 40, 1100, 100, true, false, 1f, 0f),    // the same on 2 threads too
                Case.of(seed++, 1, 1, 1, 150, 1100, 90, false, false, 1f, 1f),   // deep K, accumulating into C
        };
        float[][] one = new float[cases.length][];
        try {
            WorkerPool.configure(1);
            for (int i = 0; i < cases.length; i++) one[i] = cases[i].run();
            for (int threads : new int[]{2, 9}) {
                WorkerPool.configure(threads);
                for (int i = 0; i < cases.length; i++)
                    assertArrayEquals(one[i], cases[i].run(), cases[i] + ": results differ between 1 and " + threads + " threads");
            }
        } finally {
            WorkerPool.configure(WorkerPool.defaultThreads());
        }
        for (int i = 0; i < cases.length; i++) cases[i].check(one[i]);
    }

    /** A row of C gets the same bits whatever else is computed with it: direct, packed, edge or full tile. */
    @Test
    void rowResultDoesNotDependOnShapeOrPath() {
        SplittableRandom r = new SplittableRandom(9);
        int k = 1100, n = 77, m = 20;
        float[] a = random(r, m * k), b = random(r, k * n), bt = new float[n * k];
        for (int kk = 0; kk < k; kk++)
            for (int j = 0; j < n; j++) bt[j * k + kk] = b[kk * n + j];
        float[] full = new float[m * n];
        CpuBackend.INSTANCE.matmul(Tensor.of(a, 1, m, k), false, Tensor.of(b, 1, k, n), false, Tensor.of(full, 1, m, n), 1f, 0f);
        for (boolean tb : new boolean[]{false, true}) {
            for (int rows : new int[]{1, 2, 3, 7}) {
                float[] part = new float[rows * n];
                Tensor bb = tb ? Tensor.of(bt, 1, n, k) : Tensor.of(b, 1, k, n);
                CpuBackend.INSTANCE.matmul(Tensor.of(Arrays.copyOfRange(a, 13 * k, (13 + rows) * k), 1, rows, k), false,
                        bb, tb, Tensor.of(part, 1, rows, n), 1f, 0f);
                assertArrayEquals(Arrays.copyOfRange(full, 13 * n, (13 + rows) * n), part,
                        "rows 13.." + (13 + rows) + " transB=" + tb);
            }
        }
    }

    @Test
    void respectsOffsets() {
        SplittableRandom r = new SplittableRandom(11);
        int m = 9, k = 10, n = 11;
        float[] a = random(r, 5 + m * k), b = random(r, 3 + k * n), c = new float[7 + m * n + 4];
        Arrays.fill(c, 42f);
        Tensor ta = Tensor.of(a, 5 + m * k).slice(0, 5, 5 + m * k).reshape(1, m, k);
        Tensor tb = Tensor.of(b, 3 + k * n).slice(0, 3, 3 + k * n).reshape(1, k, n);
        Tensor tc = Tensor.of(c, c.length).slice(0, 7, 7 + m * n).reshape(1, m, n);
        CpuBackend.INSTANCE.matmul(ta, false, tb, false, tc, 1f, 0f);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int kk = 0; kk < k; kk++) s += (double) a[5 + i * k + kk] * b[3 + kk * n + j];
                assertEquals(s, c[7 + i * n + j], 1e-5);
            }
        for (int i = 0; i < 7; i++) assertEquals(42f, c[i]);
        for (int i = 7 + m * n; i < c.length; i++) assertEquals(42f, c[i]);
    }
}
