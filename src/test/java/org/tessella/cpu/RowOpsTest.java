package org.tessella.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.SplittableRandom;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.tessella.tensor.Tensor;

/** Softmax, log-softmax and cross-entropy against double-precision references; RowReduce against its spec. */
class RowOpsTest {
    static final int[] DIMS = {1, 3, 17, 64, 100};
    static final CpuBackend B = CpuBackend.INSTANCE;

    @AfterAll
    static void restorePool() { WorkerPool.configure(2); }

    static float[] random(long seed, int n, double scale) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) ((r.nextDouble() * 2 - 1) * scale);
        return x;
    }

    static void assertClose(String what, double[] want, float[] got, double tol) {
        assertEquals(want.length, got.length, what + ": length");
        for (int i = 0; i < want.length; i++)
            if (!(Math.abs(want[i] - got[i]) <= tol * (1 + Math.abs(want[i]))))
                fail(what + " at " + i + ": got " + got[i] + ", want " + want[i]);
    }

    static Tensor zeros(int... shape) { return Tensor.of(new float[(int) java.util.Arrays.stream(shape).asLongStream().reduce(1, (a, b) -> a * b)], shape); }

    // ---- references --------------------------------------------------------------------------------------------

    static double[] refSoftmax(float[] x, int d, boolean log) {
        double[] y = new double[x.length];
        for (int r = 0; r < x.length / d; r++) {
            double m = Double.NEGATIVE_INFINITY, s = 0;
            for (int i = 0; i < d; i++) m = Math.max(m, x[r * d + i]);
            for (int i = 0; i < d; i++) s += Math.exp(x[r * d + i] - m);
            for (int i = 0; i < d; i++)
                y[r * d + i] = log ? x[r * d + i] - m - Math.log(s) : Math.exp(x[r * d + i] - m) / s;
        }
        return y;
    }

    @Test
    void softmaxAndBackward() {
        for (int d : DIMS) {
            int rows = 7;
            float[] x = random(d, rows * d, 4), gy = random(100 + d, rows * d, 1);
            Tensor out = zeros(rows, d);
            B.softmax(Tensor.of(x, 7, d), out);
            double[] y = refSoftmax(x, d, false);
            assertClose("softmax d=" + d, y, out.floats(), 2e-6);
            double[] gx = new double[x.length];
            for (int r = 0; r < rows; r++) {
                double dot = 0;
                for (int i = 0; i < d; i++) dot += gy[r * d + i] * y[r * d + i];
                for (int i = 0; i < d; i++) gx[r * d + i] = y[r * d + i] * (gy[r * d + i] - dot);
            }
            Tensor g = zeros(rows, d);
            B.softmaxBackward(out, Tensor.of(gy, rows, d), g);
            assertClose("softmaxBackward d=" + d, gx, g.floats(), 1e-5);
        }
    }

    @Test
    void logSoftmaxAndBackward() {
        for (int d : DIMS) {
            int rows = 5;
            float[] x = random(d, 1 + rows * d, 30), gy = random(100 + d, rows * d, 1);
            Tensor xt = new Tensor(Tensor.of(x, x.length).storage(), 1, new int[]{rows, d}, new int[]{d, 1}); // offset 1
            float[] xs = java.util.Arrays.copyOfRange(x, 1, x.length);
            Tensor out = zeros(rows, d);
            B.logSoftmax(xt, out);
            double[] y = refSoftmax(xs, d, true);
            assertClose("logSoftmax d=" + d, y, out.floats(), 2e-6);
            double[] gx = new double[xs.length];
            for (int r = 0; r < rows; r++) {
                double s = 0;
                for (int i = 0; i < d; i++) s += gy[r * d + i];
                for (int i = 0; i < d; i++) gx[r * d + i] = gy[r * d + i] - Math.exp(y[r * d + i]) * s;
            }
            Tensor g = zeros(rows, d);
            B.logSoftmaxBackward(out, Tensor.of(gy, rows, d), g);
            assertClose("logSoftmaxBackward d=" + d, gx, g.floats(), 2e-5);
        }
    }

    @Test
    void crossEntropyMatchesReference() {
        for (int c : DIMS) {
            int rows = 9;
            float[] x = random(c, rows * c, 10);
            int[] t = new int[rows];
            SplittableRandom r = new SplittableRandom(c);
            for (int i = 0; i < rows; i++) t[i] = i % 4 == 1 ? -100 : r.nextInt(c);
            Tensor losses = zeros(rows), dl = zeros(rows, c);
            java.util.Arrays.fill(dl.floats(), Float.NaN);
            int count = B.crossEntropy(Tensor.of(x, 3, 3, c), Tensor.ofInts(t, 3, 3), -100, losses, dl);
            assertEquals(rows - 2, count);
            double[] p = refSoftmax(x, c, true), wantL = new double[rows], wantD = new double[rows * c];
            for (int i = 0; i < rows; i++) {
                if (t[i] == -100) continue;
                wantL[i] = -p[i * c + t[i]];
                for (int j = 0; j < c; j++) wantD[i * c + j] = Math.exp(p[i * c + j]) - (j == t[i] ? 1 : 0);
            }
            assertClose("crossEntropy losses c=" + c, wantL, losses.floats(), 2e-6);
            assertClose("crossEntropy dlogits c=" + c, wantD, dl.floats(), 2e-6);
            Tensor losses2 = zeros(rows);
            assertEquals(rows - 2, B.crossEntropy(Tensor.of(x, rows, c), Tensor.ofInts(t, rows), -100, losses2, null));
            assertArrayEquals(losses.floats(), losses2.floats());
        }
    }

    @Test
    void crossEntropyRejectsBadTargets() {
        Tensor x = Tensor.of(random(1, 12, 1), 3, 4);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> B.crossEntropy(x, Tensor.ofInts(new int[]{0, 4, 1}, 3), -100, zeros(3), null));
        assertTrue(e.getMessage().contains("target 4") && e.getMessage().contains("4 classes"), e.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> B.crossEntropy(x, Tensor.ofInts(new int[]{0, -1, 1}, 3), -100, zeros(3), null));
        assertEquals(2, B.crossEntropy(x, Tensor.ofInts(new int[]{0, -1, 1}, 3), -1, zeros(3), null));
    }

    /** The order RowReduce promises: element i into partial i % 16, then the pairwise tree. */
    static float specReduce(int n, java.util.function.IntFunction<Float> term, boolean fmaTerm, float[] a, float[] b) {
        float[] p = new float[16];
        for (int i = 0; i < n; i++)
            p[i % 16] = fmaTerm ? Math.fma(a[i], b[i], p[i % 16]) : p[i % 16] + term.apply(i);
        for (int w = 8; w >= 1; w /= 2)
            for (int j = 0; j < w; j++) p[j] = p[j] + p[j + w];
        return p[0];
    }

    @Test
    void rowReduceFollowsItsFixedOrderExactly() {
        for (int n = 0; n <= 70; n++) {
            float[] a = random(n, n + 3, 3), b = random(n + 1000, n + 3, 3);
            float[] ax = java.util.Arrays.copyOfRange(a, 3, n + 3);
            float c = 0.37f;
            assertEquals(specReduce(n, i -> ax[i], false, null, null), RowReduce.sum(a, 3, n), "sum n=" + n);
            assertEquals(specReduce(n, null, true, a, b), RowReduce.dot(a, 0, b, 0, n), "dot n=" + n);
            assertEquals(fmaSpec(n, a, c), RowReduce.sumSquaredDiff(a, 0, c, n), "sumSquaredDiff n=" + n);
            float[] bc = new float[n];
            for (int i = 0; i < n; i++) bc[i] = b[i] - c;
            assertEquals(specReduce(n, null, true, a, bc), RowReduce.dotCentered(a, 0, b, 0, c, n), "dotCentered n=" + n);
            float[] out = new float[n];
            float want = specReduce(n, i -> FastMath.exp(a[i] - c), false, null, null);
            assertEquals(want, RowReduce.expSum(a, 0, c, out, 0, n), "expSum n=" + n);
            for (int i = 0; i < n; i++) assertEquals(FastMath.exp(a[i] - c), out[i]);
            float m = Float.NEGATIVE_INFINITY;
            for (int i = 0; i < n; i++) m = Math.max(m, b[i]);
            assertEquals(m, RowReduce.max(b, 0, n), "max n=" + n);
        }
    }

    /** sum of (a - c)^2 with each square fused into its partial, as RowReduce does. */
    private static float fmaSpec(int n, float[] a, float c) {
        float[] d = new float[n];
        for (int i = 0; i < n; i++) d[i] = a[i] - c;
        return specReduce(n, null, true, d, d);
    }

    static void assertSameForOneAndTwoThreads(String what, Supplier<float[]> run) {
        WorkerPool.configure(1);
        float[] one = run.get();
        WorkerPool.configure(2);
        float[] two = run.get();
        for (int i = 0; i < one.length; i++)
            if (Float.floatToRawIntBits(one[i]) != Float.floatToRawIntBits(two[i]))
                fail(what + ": 1 and 2 threads differ at " + i + ": " + one[i] + " vs " + two[i]);
    }

    @Test
    void deterministicAcrossThreadCounts() {
        int rows = 301, d = 100;
        float[] x = random(5, rows * d, 5), gy = random(6, rows * d, 1);
        int[] t = new int[rows];
        for (int i = 0; i < rows; i++) t[i] = (i * 7) % d;
        assertSameForOneAndTwoThreads("softmax", () -> {
            Tensor y = zeros(rows, d), g = zeros(rows, d);
            B.softmax(Tensor.of(x, rows, d), y);
            B.softmaxBackward(y, Tensor.of(gy, rows, d), g);
            return concat(y.floats(), g.floats());
        });
        assertSameForOneAndTwoThreads("logSoftmax", () -> {
            Tensor y = zeros(rows, d), g = zeros(rows, d);
            B.logSoftmax(Tensor.of(x, rows, d), y);
            B.logSoftmaxBackward(y, Tensor.of(gy, rows, d), g);
            return concat(y.floats(), g.floats());
        });
        assertSameForOneAndTwoThreads("crossEntropy", () -> {
            Tensor l = zeros(rows), g = zeros(rows, d);
            B.crossEntropy(Tensor.of(x, rows, d), Tensor.ofInts(t, rows), -100, l, g);
            return concat(l.floats(), g.floats());
        });
    }

    static float[] concat(float[]... parts) {
        int n = 0;
        for (float[] p : parts) n += p.length;
        float[] out = new float[n];
        int o = 0;
        for (float[] p : parts) {
            System.arraycopy(p, 0, out, o, p.length);
            o += p.length;
        }
        return out;
    }
}
