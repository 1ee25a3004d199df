package org.tessella.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.tessella.backend.ReduceOp;
import org.tessella.tensor.Tensor;

import java.util.Arrays;

/**
 * Reductions. Each output element is accumulated in a fixed order that depends on neither the thread count nor the
 * vector width: along a contiguous row through {@link RowReduce} (sixteen fixed partial sums), across rows strictly
 * in row order. Work is split by output element only.
 */
final class Reductions {
    private Reductions() {}

    private static final int GRAIN = 1 << 14;
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();

    static void reduce(ReduceOp op, Tensor x, Tensor out) {
        int r = x.rank();
        int[] xs = x.shape(), os = out.shape();
        boolean[] reduced = new boolean[r];
        int firstKept = r, lastReduced = -1, rn = 1, kn = 1;
        for (int d = 0; d < r; d++) {
            reduced[d] = os[d] == 1 && xs[d] != 1;
            if (reduced[d]) { lastReduced = d; rn *= xs[d]; }
            else { firstKept = Math.min(firstKept, d); kn *= xs[d]; }
        }
        if (rn == 1 || x.numel() == 0) {
            if (x.numel() == 0) Elementwise.fill(out, op == ReduceOp.SUM ? 0f : op == ReduceOp.MAX ? Float.NEGATIVE_INFINITY : Float.POSITIVE_INFINITY);
            else Elementwise.copy(x, out); // nothing reduced: os equals x's shape (x may be a view)
            return;
        }
        if (x.isContiguous() && lastReduced < firstKept) {
            columns(op, x.floats(), x.offset(), rn, kn, out.floats(), out.offset());
            return;
        }
        // General case: lay x out as [kept..., reduced...] contiguously, then reduce each row.
        int[] perm = new int[r];
        int p = 0;
        for (int d = 0; d < r; d++) if (!reduced[d]) perm[p++] = d;
        for (int d = 0; d < r; d++) if (reduced[d]) perm[p++] = d;
        Tensor xp = x.permute(perm);
        if (!xp.isContiguous()) {
            Tensor c = Tensor.empty(x.dtype(), xp.shape());
            Elementwise.copy(xp, c);
            xp = c;
        }
        rows(op, xp.floats(), xp.offset(), kn, rn, out.floats(), out.offset());
    }

    /*
     * As in Elementwise, the op is picked once per call, outside the loops, and each parallel body is a tiny lambda
     * calling one op's loop: a switch inside a vector loop makes one compilation unit of every op that ever ran, which
     * can exceed C2's inlining budget and leave vectors boxed on the heap.
     */

    /** out[i] = op over x[i, 0..n) for m contiguous rows. */
    private static void rows(ReduceOp op, float[] x, int xo, int m, int n, float[] out, int oo) {
        WorkerPool.global().parallelFor(m, Math.max(1, GRAIN / n), switch (op) {
            case SUM -> (s, e) -> sumRows(x, xo, n, out, oo, s, e);
            case MAX -> (s, e) -> maxRows(x, xo, n, out, oo, s, e);
            case MIN -> (s, e) -> minRows(x, xo, n, out, oo, s, e);
        });
    }

    private static void sumRows(float[] x, int xo, int n, float[] out, int oo, int s, int e) {
        for (int i = s; i < e; i++) out[oo + i] = RowReduce.sum(x, xo + i * n, n);
    }

    private static void maxRows(float[] x, int xo, int n, float[] out, int oo, int s, int e) {
        for (int i = s; i < e; i++) out[oo + i] = RowReduce.max(x, xo + i * n, n);
    }

    private static void minRows(float[] x, int xo, int n, float[] out, int oo, int s, int e) {
        for (int i = s; i < e; i++) out[oo + i] = min(x, xo + i * n, n);
    }

    /** Minimum of a row (exact in any order, so a plain loop). */
    private static float min(float[] a, int off, int n) {
        float m = Float.POSITIVE_INFINITY;
        for (int i = 0; i < n; i++) m = Math.min(m, a[off + i]);
        return m;
    }

    /**
     * out[j] = op over x[0..m, j] for an [m, n] contiguous matrix, row by row in row order (vectorised across j,
     * which changes nothing: each column is its own accumulation).
     */
    private static void columns(ReduceOp op, float[] x, int xo, int m, int n, float[] out, int oo) {
        WorkerPool.global().parallelFor(n, Math.max(L, GRAIN / m), switch (op) {
            case SUM -> (s, e) -> sumColumns(x, xo, m, n, out, oo, s, e);
            case MAX -> (s, e) -> maxColumns(x, xo, m, n, out, oo, s, e);
            case MIN -> (s, e) -> minColumns(x, xo, m, n, out, oo, s, e);
        });
    }

    /* The column loops, over columns [s, e): a vector of L columns at a time, then the remaining columns one by one. */

    private static void sumColumns(float[] x, int xo, int m, int n, float[] out, int oo, int s, int e) {
        int j = s;
        for (; j + L <= e; j += L) {
            FloatVector acc = FloatVector.fromArray(S, x, xo + j);
            for (int i = 1; i < m; i++) acc = acc.add(FloatVector.fromArray(S, x, xo + i * n + j));
            acc.intoArray(out, oo + j);
        }
        for (; j < e; j++) {
            float acc = x[xo + j];
            for (int i = 1; i < m; i++) acc = acc + x[xo + i * n + j];
            out[oo + j] = acc;
        }
    }

    /** Lanewise max propagates NaN like Math.max. */
    private static void maxColumns(float[] x, int xo, int m, int n, float[] out, int oo, int s, int e) {
        int j = s;
        for (; j + L <= e; j += L) {
            FloatVector acc = FloatVector.fromArray(S, x, xo + j);
            for (int i = 1; i < m; i++) acc = acc.max(FloatVector.fromArray(S, x, xo + i * n + j));
            acc.intoArray(out, oo + j);
        }
        for (; j < e; j++) {
            float acc = x[xo + j];
            for (int i = 1; i < m; i++) acc = Math.max(acc, x[xo + i * n + j]);
            out[oo + j] = acc;
        }
    }

    /** Lanewise min propagates NaN like Math.min. */
    private static void minColumns(float[] x, int xo, int m, int n, float[] out, int oo, int s, int e) {
        int j = s;
        for (; j + L <= e; j += L) {
            FloatVector acc = FloatVector.fromArray(S, x, xo + j);
            for (int i = 1; i < m; i++) acc = acc.min(FloatVector.fromArray(S, x, xo + i * n + j));
            acc.intoArray(out, oo + j);
        }
        for (; j < e; j++) {
            float acc = x[xo + j];
            for (int i = 1; i < m; i++) acc = Math.min(acc, x[xo + i * n + j]);
            out[oo + j] = acc;
        }
    }

    private static final int SQ_CHUNK = 1 << 12;

    static double sumOfSquares(Tensor x) {
        Tensor c = x;
        if (!x.isContiguous()) {
            c = Tensor.empty(x.dtype(), x.shape());
            Elementwise.copy(x, c);
        }
        float[] a = c.floats();
        int base = c.offset(), n = c.numel();
        int chunks = (n + SQ_CHUNK - 1) / SQ_CHUNK;
        double[] partial = new double[chunks];
        WorkerPool.global().parallelFor(chunks, 4, (s, e) -> {
            for (int k = s; k < e; k++) {
                double acc = 0;
                int end = Math.min(n, (k + 1) * SQ_CHUNK);
                for (int i = k * SQ_CHUNK; i < end; i++) {
                    double v = a[base + i];
                    acc += v * v;
                }
                partial[k] = acc;
            }
        });
        double total = 0;
        for (double p : partial) total += p;
        return total;
    }

    static void argmax(Tensor x, Tensor out) {
        Tensor c = contiguous(x);
        int n = c.shape(-1), m = c.numel() / Math.max(1, n);
        float[] a = c.floats();
        int[] o = out.ints();
        int xo = c.offset(), oo = out.offset();
        WorkerPool.global().parallelFor(m, Math.max(1, GRAIN / Math.max(1, n)), (s, e) -> {
            for (int i = s; i < e; i++) {
                int base = xo + i * n, best = 0;
                float bv = a[base];
                for (int j = 1; j < n; j++) {
                    float v = a[base + j];
                    if (v > bv || (v != v && bv == bv)) { bv = v; best = j; }
                }
                o[oo + i] = best;
            }
        });
    }

    static void topk(Tensor x, int k, Tensor values, Tensor indices) {
        Tensor c = contiguous(x);
        int n = c.shape(-1), m = c.numel() / Math.max(1, n);
        if (k < 0 || k > n) throw new IllegalArgumentException("topk: k = " + k + " but the last axis has " + n + " elements");
        float[] a = c.floats(), vo = values.floats();
        int[] io = indices.ints();
        int xo = c.offset(), vb = values.offset(), ib = indices.offset();
        WorkerPool.global().parallelFor(m, 1, (s, e) -> {
            long[] keys = new long[n];
            for (int i = s; i < e; i++) {
                int base = xo + i * n;
                for (int j = 0; j < n; j++) keys[j] = ((descendingKey(a[base + j]) - 0x80000000L) << 32) | j; // signed order = unsigned key order
                Arrays.sort(keys);
                for (int t = 0; t < k; t++) {
                    int j = (int) (keys[t] & 0xffffffffL);
                    vo[vb + i * k + t] = a[base + j];
                    io[ib + i * k + t] = j;
                }
            }
        });
    }

    /** A 32-bit key whose unsigned ascending order is the float's descending order (ties keep index order). */
    private static long descendingKey(float v) {
        int bits = Float.floatToIntBits(v);
        int ordered = bits >= 0 ? bits ^ 0x80000000 : ~bits; // ascending unsigned
        return (~ordered) & 0xffffffffL;
    }

    private static Tensor contiguous(Tensor x) {
        if (x.isContiguous()) return x;
        Tensor c = Tensor.empty(x.dtype(), x.shape());
        Elementwise.copy(x, c);
        return c;
    }
}
