package org.tessella.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.tessella.tensor.Tensor;

/**
 * Softmax, log-softmax and fused cross-entropy over the last axis of contiguous tensors. Rows are independent and
 * split over the worker pool; every row reduction goes through {@link RowReduce}, so results do not depend on the
 * thread count or the vector width.
 */
final class RowOps {
    private RowOps() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();

    private static int lastDim(Tensor t) { return t.rank() == 0 ? 1 : t.shape(-1); }

    private static int grain(int d) { return Math.max(1, 8192 / Math.max(1, d)); }

    /** {@code out[i] = a[i] * s} over a row. */
    private static void scale(float[] a, int offA, float s, float[] out, int offOut, int n) {
        int i = 0;
        for (; i < S.loopBound(n); i += L) FloatVector.fromArray(S, a, offA + i).mul(s).intoArray(out, offOut + i);
        for (; i < n; i++) out[offOut + i] = a[offA + i] * s;
    }

    static void softmax(Tensor x, Tensor out) {
        int d = lastDim(x), rows = d == 0 ? 0 : x.numel() / d;
        float[] xa = x.floats(), oa = out.floats();
        int xo = x.offset(), oo = out.offset();
        WorkerPool.global().parallelFor(rows, grain(d), (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int xi = xo + r * d, oi = oo + r * d;
                float m = RowReduce.max(xa, xi, d);
                float sum = RowReduce.expSum(xa, xi, m, oa, oi, d);
                scale(oa, oi, 1f / sum, oa, oi, d);
            }
        });
    }

    /** {@code gx = y * (gy - sum(gy * y))} per row. */
    static void softmaxBackward(Tensor y, Tensor gy, Tensor gx) {
        int d = lastDim(y), rows = d == 0 ? 0 : y.numel() / d;
        float[] ya = y.floats(), ga = gy.floats(), oa = gx.floats();
        int yo = y.offset(), go = gy.offset(), oo = gx.offset();
        WorkerPool.global().parallelFor(rows, grain(d), (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int yi = yo + r * d, gi = go + r * d, oi = oo + r * d;
                float dot = RowReduce.dot(ga, gi, ya, yi, d);
                int i = 0;
                for (; i < S.loopBound(d); i += L) {
                    FloatVector yv = FloatVector.fromArray(S, ya, yi + i);
                    yv.mul(FloatVector.fromArray(S, ga, gi + i).sub(dot)).intoArray(oa, oi + i);
                }
                for (; i < d; i++) oa[oi + i] = ya[yi + i] * (ga[gi + i] - dot);
            }
        });
    }

    static void logSoftmax(Tensor x, Tensor out) {
        int d = lastDim(x), rows = d == 0 ? 0 : x.numel() / d;
        float[] xa = x.floats(), oa = out.floats();
        int xo = x.offset(), oo = out.offset();
        WorkerPool.global().parallelFor(rows, grain(d), (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int xi = xo + r * d, oi = oo + r * d;
                float m = RowReduce.max(xa, xi, d);
                float lse = m + FastMath.log(RowReduce.expSum(xa, xi, m, null, 0, d));
                int i = 0;
                for (; i < S.loopBound(d); i += L) FloatVector.fromArray(S, xa, xi + i).sub(lse).intoArray(oa, oi + i);
                for (; i < d; i++) oa[oi + i] = xa[xi + i] - lse;
            }
        });
    }

    /** {@code gx = gy - exp(y) * sum(gy)} per row (y is the log-softmax output). */
    static void logSoftmaxBackward(Tensor y, Tensor gy, Tensor gx) {
        int d = lastDim(y), rows = d == 0 ? 0 : y.numel() / d;
        float[] ya = y.floats(), ga = gy.floats(), oa = gx.floats();
        int yo = y.offset(), go = gy.offset(), oo = gx.offset();
        WorkerPool.global().parallelFor(rows, grain(d), (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int yi = yo + r * d, gi = go + r * d, oi = oo + r * d;
                float sum = RowReduce.sum(ga, gi, d);
                int i = 0;
                for (; i < S.loopBound(d); i += L) {
                    FloatVector e = FastMath.exp(FloatVector.fromArray(S, ya, yi + i));
                    FloatVector.fromArray(S, ga, gi + i).sub(e.mul(sum)).intoArray(oa, oi + i);
                }
                for (; i < d; i++) oa[oi + i] = ga[gi + i] - FastMath.exp(ya[yi + i]) * sum;
            }
        });
    }

    /**
     * Fused cross-entropy of logits [N, C] (any leading shape) against I32 targets: {@code losses[n] = logsumexp(x[n])
     * - x[n, t[n]]} and, when dlogits is not null, {@code dlogits[n] = softmax(x[n]) - onehot(t[n])}. Rows whose
     * target is ignoreIndex get loss 0 and a zero gradient row. Returns the number of rows not ignored.
     */
    static int crossEntropy(Tensor logits, Tensor targets, int ignoreIndex, Tensor losses, Tensor dlogits) {
        int c = lastDim(logits), rows = c == 0 ? 0 : logits.numel() / c;
        int[] ta = targets.ints();
        int to = targets.offset();
        int count = 0;
        for (int r = 0; r < rows; r++) {
            int t = ta[to + r];
            if (t == ignoreIndex) continue;
            if (t < 0 || t >= c)
                throw new IllegalArgumentException("crossEntropy: target " + t + " at row " + r + " is out of range for "
                        + c + " classes (ignoreIndex is " + ignoreIndex + ")");
            count++;
        }
        float[] xa = logits.floats(), la = losses.floats(), da = dlogits == null ? null : dlogits.floats();
        int xo = logits.offset(), lo = losses.offset(), dof = dlogits == null ? 0 : dlogits.offset();
        WorkerPool.global().parallelFor(rows, grain(c), (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int t = ta[to + r], xi = xo + r * c, di = dof + r * c;
                if (t == ignoreIndex) {
                    la[lo + r] = 0f;
                    if (da != null) java.util.Arrays.fill(da, di, di + c, 0f);
                    continue;
                }
                float m = RowReduce.max(xa, xi, c);
                float sum = RowReduce.expSum(xa, xi, m, da, di, c);
                la[lo + r] = (m + FastMath.log(sum)) - xa[xi + t];
                if (da != null) {
                    scale(da, di, 1f / sum, da, di, c);
                    da[di + t] -= 1f;
                }
            }
        });
        return count;
    }
}
