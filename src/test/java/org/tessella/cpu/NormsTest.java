package org.tessella.cpu;

import static org.tessella.cpu.RowOpsTest.assertClose;
import static org.tessella.cpu.RowOpsTest.assertSameForOneAndTwoThreads;
import static org.tessella.cpu.RowOpsTest.concat;
import static org.tessella.cpu.RowOpsTest.random;
import static org.tessella.cpu.RowOpsTest.zeros;

import java.util.function.Function;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.tessella.tensor.Tensor;

/**
 * LayerNorm, RMSNorm and GroupNorm against double-precision references; the backward passes against central finite
 * differences (in double) of the reference forward, for the loss sum(gy * y).
 */
class NormsTest {
    static final CpuBackend B = CpuBackend.INSTANCE;
    static final float EPS = 1e-5f;

    @AfterAll
    static void restorePool() { WorkerPool.configure(2); }

    static double[] d(float[] x) {
        if (x == null) return null;
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) y[i] = x[i];
        return y;
    }

    /** The gradient of sum(gy * f(p)) with respect to p, by central differences. */
    static double[] numGrad(Function<double[], double[]> f, double[] p, double[] gy) {
        double[] g = new double[p.length];
        for (int i = 0; i < p.length; i++) {
            double keep = p[i], h = 1e-6 * Math.max(1, Math.abs(keep));
            p[i] = keep + h;
            double up = dotD(f.apply(p), gy);
            p[i] = keep - h;
            double down = dotD(f.apply(p), gy);
            p[i] = keep;
            g[i] = (up - down) / (2 * h);
        }
        return g;
    }

    static double dotD(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }

    /**
     * Reference normalisation of x viewed as [outer, groupSize] rows; channel(i) maps an element index to its
     * weight index. rms: no centring.
     */
    static double[] refNorm(double[] x, int groupSize, double[] w, double[] b, boolean rms,
                            java.util.function.IntUnaryOperator channel) {
        double[] y = new double[x.length];
        for (int r = 0; r < x.length / groupSize; r++) {
            double mean = 0, var = 0;
            for (int i = 0; i < groupSize; i++) mean += x[r * groupSize + i];
            mean = rms ? 0 : mean / groupSize;
            for (int i = 0; i < groupSize; i++) var += Math.pow(x[r * groupSize + i] - mean, 2);
            double rstd = 1 / Math.sqrt(var / groupSize + EPS);
            for (int i = 0; i < groupSize; i++) {
                int e = r * groupSize + i, c = channel.applyAsInt(e);
                double v = (x[e] - mean) * rstd;
                if (w != null) v *= w[c];
                if (b != null) v += b[c];
                y[e] = v;
            }
        }
        return y;
    }

    @Test
    void layerNormForwardAndBackward() {
        for (int dim : RowOpsTest.DIMS)
            for (int affine = 0; affine < 4; affine++) {
                int rows = 4;
                boolean hasW = (affine & 1) != 0, hasB = (affine & 2) != 0;
                float[] x = random(dim, rows * dim, 2), gy = random(dim + 7, rows * dim, 1);
                for (int i = 0; i < x.length; i++) x[i] += 3; // an offset the mean must remove
                float[] w = hasW ? random(dim + 1, dim, 1.5) : null, b = hasB ? random(dim + 2, dim, 1) : null;
                Tensor y = zeros(rows, dim), mean = zeros(rows), rstd = zeros(rows);
                Tensor wt = hasW ? Tensor.of(w, dim) : null, bt = hasB ? Tensor.of(b, dim) : null;
                B.layerNorm(Tensor.of(x, rows, dim), wt, bt, EPS, y, mean, rstd);
                double[] xd = d(x), wd = d(w), bd = d(b), gyd = d(gy);
                String tag = "layerNorm d=" + dim + " w=" + hasW + " b=" + hasB;
                assertClose(tag, refNorm(xd, dim, wd, bd, false, i -> i % dim), y.floats(), 3e-5);

                Tensor gx = zeros(rows, dim), gw = hasW ? zeros(dim) : null, gb = hasB ? zeros(dim) : null;
                if (gw != null) java.util.Arrays.fill(gw.floats(), 99f); // overwritten, not accumulated
                B.layerNormBackward(Tensor.of(x, rows, dim), wt, mean, rstd, Tensor.of(gy, rows, dim), gx, gw, gb);
                assertClose(tag + " gx", numGrad(p -> refNorm(p, dim, wd, bd, false, i -> i % dim), xd, gyd), gx.floats(), 1e-4);
                if (hasW) assertClose(tag + " gw", numGrad(p -> refNorm(xd, dim, p, bd, false, i -> i % dim), wd.clone(), gyd), gw.floats(), 1e-4);
                if (hasB) assertClose(tag + " gb", numGrad(p -> refNorm(xd, dim, wd, p, false, i -> i % dim), bd.clone(), gyd), gb.floats(), 1e-4);
            }
    }

    @Test
    void rmsNormForwardAndBackward() {
        for (int dim : RowOpsTest.DIMS)
            for (boolean hasW : new boolean[]{false, true}) {
                int rows = 3;
                float[] x = random(dim, rows * dim, 2), gy = random(dim + 7, rows * dim, 1);
                float[] w = hasW ? random(dim + 1, dim, 1.5) : null;
                Tensor wt = hasW ? Tensor.of(w, dim) : null;
                Tensor y = zeros(rows, dim), rstd = zeros(rows);
                B.rmsNorm(Tensor.of(x, rows, dim), wt, EPS, y, rstd);
                double[] xd = d(x), wd = d(w), gyd = d(gy);
                String tag = "rmsNorm d=" + dim + " w=" + hasW;
                assertClose(tag, refNorm(xd, dim, wd, null, true, i -> i % dim), y.floats(), 3e-5);
                Tensor gx = zeros(rows, dim), gw = hasW ? zeros(dim) : null;
                B.rmsNormBackward(Tensor.of(x, rows, dim), wt, rstd, Tensor.of(gy, rows, dim), gx, gw);
                assertClose(tag + " gx", numGrad(p -> refNorm(p, dim, wd, null, true, i -> i % dim), xd, gyd), gx.floats(), 1e-4);
                if (hasW) assertClose(tag + " gw", numGrad(p -> refNorm(xd, dim, p, null, true, i -> i % dim), wd.clone(), gyd), gw.floats(), 1e-4);
            }
    }

    @Test
    void groupNormForwardAndBackward() {
        int[][] shapes = {{2, 6, 3, 5}, {3, 4}, {1, 8, 17}};
        int[] groupCounts = {3, 2, 4};
        for (int s = 0; s < shapes.length; s++)
            for (int affine = 0; affine < 4; affine += 3) {
                int[] shape = shapes[s];
                int groups = groupCounts[s], n = shape[0], c = shape[1], numel = 1;
                for (int v : shape) numel *= v;
                int hw = numel / (n * c), groupSize = c / groups * hw;
                boolean hasW = affine != 0, hasB = affine != 0;
                float[] x = random(s, numel, 2), gy = random(s + 9, numel, 1);
                float[] w = hasW ? random(s + 1, c, 1.5) : null, b = hasB ? random(s + 2, c, 1) : null;
                Tensor wt = hasW ? Tensor.of(w, c) : null, bt = hasB ? Tensor.of(b, c) : null;
                Tensor y = zeros(shape), mean = zeros(n, groups), rstd = zeros(n, groups);
                B.groupNorm(Tensor.of(x, shape), groups, wt, bt, EPS, y, mean, rstd);
                double[] xd = d(x), wd = d(w), bd = d(b), gyd = d(gy);
                java.util.function.IntUnaryOperator ch = e -> (e / hw) % c;
                String tag = "groupNorm " + java.util.Arrays.toString(shape) + " affine=" + hasW;
                assertClose(tag, refNorm(xd, groupSize, wd, bd, false, ch), y.floats(), 3e-5);
                Tensor gx = zeros(shape), gw = hasW ? zeros(c) : null, gb = hasB ? zeros(c) : null;
                B.groupNormBackward(Tensor.of(x, shape), groups, wt, mean, rstd, Tensor.of(gy, shape), gx, gw, gb);
                assertClose(tag + " gx", numGrad(p -> refNorm(p, groupSize, wd, bd, false, ch), xd, gyd), gx.floats(), 1e-4);
                if (hasW) assertClose(tag + " gw", numGrad(p -> refNorm(xd, groupSize, p, bd, false, ch), wd.clone(), gyd), gw.floats(), 1e-4);
                if (hasB) assertClose(tag + " gb", numGrad(p -> refNorm(xd, groupSize, wd, p, false, ch), bd.clone(), gyd), gb.floats(), 1e-4);
            }
    }

    /**
     * The fused GroupNorm + SiLU gives the same bits as GroupNorm followed by SiLU (forward, input and parameter
     * gradients; rows with vector tails too), and is near a double-precision reference of the composition.
     */
    @Test
    void groupNormSiluIsTheComposition() {
        int[][] shapes = {{2, 6, 3, 5}, {3, 8, 64}, {2, 4, 19}};
        int[] groupCounts = {3, 4, 2};
        for (int s = 0; s < shapes.length; s++)
            for (boolean affine : new boolean[]{false, true}) {
                int[] shape = shapes[s];
                int groups = groupCounts[s], n = shape[0], c = shape[1], numel = 1;
                for (int v : shape) numel *= v;
                int hw = numel / (n * c), groupSize = c / groups * hw;
                float[] x = random(s + 20, numel, 2), gy = random(s + 29, numel, 1);
                float[] w = affine ? random(s + 21, c, 1.5) : null, b = affine ? random(s + 22, c, 1) : null;
                Tensor wt = affine ? Tensor.of(w, c) : null, bt = affine ? Tensor.of(b, c) : null, xt = Tensor.of(x, shape);
                String tag = "groupNormSilu " + java.util.Arrays.toString(shape) + " affine=" + affine;
                // the composition: GroupNorm, SiLU, SiLU's backward, GroupNorm's backward
                Tensor z = zeros(shape), mean = zeros(n, groups), rstd = zeros(n, groups), y = zeros(shape), gz = zeros(shape);
                B.groupNorm(xt, groups, wt, bt, EPS, z, mean, rstd);
                B.unary(org.tessella.backend.UnaryOp.SILU, z, y);
                B.unaryBackward(org.tessella.backend.UnaryOp.SILU, z, y, Tensor.of(gy, shape), gz);
                Tensor gx = zeros(shape), gw = affine ? zeros(c) : null, gb = affine ? zeros(c) : null;
                B.groupNormBackward(xt, groups, wt, mean, rstd, gz, gx, gw, gb);
                // fused
                Tensor fy = zeros(shape), fm = zeros(n, groups), fr = zeros(n, groups);
                B.groupNormSilu(xt, groups, wt, bt, EPS, fy, fm, fr);
                Tensor fgx = zeros(shape), fgw = affine ? zeros(c) : null, fgb = affine ? zeros(c) : null;
                B.groupNormSiluBackward(xt, groups, wt, bt, fm, fr, Tensor.of(gy, shape), fgx, fgw, fgb);
                org.junit.jupiter.api.Assertions.assertArrayEquals(y.floats(), fy.floats(), tag + " y");
                org.junit.jupiter.api.Assertions.assertArrayEquals(concat(mean.floats(), rstd.floats()), concat(fm.floats(), fr.floats()), tag + " stats");
                org.junit.jupiter.api.Assertions.assertArrayEquals(gx.floats(), fgx.floats(), tag + " gx");
                if (affine) {
                    org.junit.jupiter.api.Assertions.assertArrayEquals(gw.floats(), fgw.floats(), tag + " gw");
                    org.junit.jupiter.api.Assertions.assertArrayEquals(gb.floats(), fgb.floats(), tag + " gb");
                }
                double[] xd = d(x), wd = d(w), bd = d(b);
                java.util.function.IntUnaryOperator ch = e -> (e / hw) % c;
                Function<double[], double[]> f = p -> {
                    double[] v = refNorm(p, groupSize, wd, bd, false, ch);
                    for (int i = 0; i < v.length; i++) v[i] = v[i] / (1 + Math.exp(-v[i]));
                    return v;
                };
                assertClose(tag, f.apply(xd), fy.floats(), 3e-5);
                assertClose(tag + " gx", numGrad(f, xd, d(gy)), fgx.floats(), 2e-4);
            }
    }

    @Test
    void deterministicAcrossThreadCounts() {
        int rows = 301, dim = 100;
        float[] x = random(1, rows * dim, 2), gy = random(2, rows * dim, 1), w = random(3, dim, 1), b = random(4, dim, 1);
        assertSameForOneAndTwoThreads("layerNorm", () -> {
            Tensor y = zeros(rows, dim), mean = zeros(rows), rstd = zeros(rows);
            Tensor gx = zeros(rows, dim), gw = zeros(dim), gb = zeros(dim);
            B.layerNorm(Tensor.of(x, rows, dim), Tensor.of(w, dim), Tensor.of(b, dim), EPS, y, mean, rstd);
            B.layerNormBackward(Tensor.of(x, rows, dim), Tensor.of(w, dim), mean, rstd, Tensor.of(gy, rows, dim), gx, gw, gb);
            return concat(y.floats(), mean.floats(), rstd.floats(), gx.floats(), gw.floats(), gb.floats());
        });
        assertSameForOneAndTwoThreads("rmsNorm", () -> {
            Tensor y = zeros(rows, dim), rstd = zeros(rows), gx = zeros(rows, dim), gw = zeros(dim);
            B.rmsNorm(Tensor.of(x, rows, dim), Tensor.of(w, dim), EPS, y, rstd);
            B.rmsNormBackward(Tensor.of(x, rows, dim), Tensor.of(w, dim), rstd, Tensor.of(gy, rows, dim), gx, gw);
            return concat(y.floats(), rstd.floats(), gx.floats(), gw.floats());
        });
        int n = 7, c = 20, hw = 215;   // 301 * 100 = 7 * 20 * 215
        assertSameForOneAndTwoThreads("groupNorm", () -> {
            Tensor y = zeros(n, c, hw), mean = zeros(n, 5), rstd = zeros(n, 5);
            Tensor gx = zeros(n, c, hw), gw = zeros(c), gb = zeros(c);
            float[] wc = java.util.Arrays.copyOf(w, c), bc = java.util.Arrays.copyOf(b, c);
            B.groupNorm(Tensor.of(x, n, c, hw), 5, Tensor.of(wc, c), Tensor.of(bc, c), EPS, y, mean, rstd);
            B.groupNormBackward(Tensor.of(x, n, c, hw), 5, Tensor.of(wc, c), mean, rstd, Tensor.of(gy, n, c, hw), gx, gw, gb);
            return concat(y.floats(), mean.floats(), rstd.floats(), gx.floats(), gw.floats(), gb.floats());
        });
    }
}
