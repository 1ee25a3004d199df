package org.tessella.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.tessella.tensor.Shape;
import org.tessella.tensor.Tensor;

/**
 * Embedding lookup, gather and their scatter-add backward passes on contiguous tensors. Indices are checked before any
 * output is written. The scatter-adds split work by destination column (never by source row), so each destination
 * element receives its contributions in index order whatever the thread count.
 */
final class Indexing {
    private Indexing() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    /** Columns per task in the scatter-adds. */
    private static final int COLUMN_BLOCK = 256;

    private static void checkIndices(String op, int[] ia, int io, int n, int size, String what) {
        for (int i = 0; i < n; i++) {
            int v = ia[io + i];
            if (v < 0 || v >= size)
                throw new IllegalArgumentException(op + ": index " + v + " at position " + i + " is out of range for "
                        + what + " of size " + size);
        }
    }

    /** {@code out[n] = table[idx[n]]}: table [V, D], idx I32 [N], out [N, D]. */
    static void embedding(Tensor table, Tensor idx, Tensor out) {
        int v = table.shape(0), d = table.shape(1), n = idx.numel();
        int[] ia = idx.ints();
        int io = idx.offset();
        checkIndices("embedding", ia, io, n, v, "a table");
        float[] ta = table.floats(), oa = out.floats();
        int to = table.offset(), oo = out.offset();
        WorkerPool.global().parallelFor(n, Math.max(1, 16384 / Math.max(1, d)), (s, e) -> {
            for (int i = s; i < e; i++) System.arraycopy(ta, to + ia[io + i] * d, oa, oo + i * d, d);
        });
    }

    /** {@code gTable[idx[n]] += g[n]} in order of n, split over column blocks of D. */
    static void embeddingBackward(Tensor g, Tensor idx, Tensor gTable) {
        int v = gTable.shape(0), d = gTable.shape(1), n = idx.numel();
        int[] ia = idx.ints();
        int io = idx.offset();
        checkIndices("embeddingBackward", ia, io, n, v, "a table");
        float[] ga = g.floats(), ta = gTable.floats();
        int go = g.offset(), to = gTable.offset();
        int blocks = (d + COLUMN_BLOCK - 1) / COLUMN_BLOCK;
        WorkerPool.global().parallelFor(blocks, 1, (s, e) -> {
            for (int blk = s; blk < e; blk++) {
                int c0 = blk * COLUMN_BLOCK, w = Math.min(COLUMN_BLOCK, d - c0);
                for (int i = 0; i < n; i++) addRow(ga, go + i * d + c0, ta, to + ia[io + i] * d + c0, w);
            }
        });
    }

    /** {@code dst[j] += src[j]} for j in [0, n). */
    private static void addRow(float[] src, int si, float[] dst, int di, int n) {
        int j = 0;
        for (; j < S.loopBound(n); j += L)
            FloatVector.fromArray(S, dst, di + j).add(FloatVector.fromArray(S, src, si + j)).intoArray(dst, di + j);
        for (; j < n; j++) dst[di + j] += src[si + j];
    }

    /** The [A, Dx, B] view of x around an axis: {A, B}. */
    private static int[] outerInner(int[] shape, int axis) {
        int a = 1, b = 1;
        for (int i = 0; i < axis; i++) a *= shape[i];
        for (int i = axis + 1; i < shape.length; i++) b *= shape[i];
        return new int[]{a, b};
    }

    /** torch.gather: {@code out[a, i, b] = x[a, idx[a, i, b], b]} with x [A, Dx, B], idx and out [A, Di, B]. */
    static void gather(Tensor x, int axis, Tensor idx, Tensor out) {
        int ax = Shape.axis("gather", axis, x.rank());
        int[] ab = outerInner(x.shape(), ax);
        int a = ab[0], b = ab[1], dx = x.shape(ax), di = idx.shape(ax);
        int[] ia = idx.ints();
        int io = idx.offset();
        checkIndices("gather", ia, io, idx.numel(), dx, "axis " + ax + " of x " + Shape.str(x.shape()));
        float[] xa = x.floats(), oa = out.floats();
        int xo = x.offset(), oo = out.offset();
        WorkerPool.global().parallelFor(a * di, Math.max(1, 16384 / Math.max(1, b)), (s, e) -> {
            for (int row = s; row < e; row++) {               // row = (a, i)
                int xBase = xo + (row / di) * dx * b, r = row * b;
                for (int j = 0; j < b; j++) oa[oo + r + j] = xa[xBase + ia[io + r + j] * b + j];
            }
        });
    }

    /** {@code gx[a, idx[a, i, b], b] += g[a, i, b]}, in order of i; split over (a, column block of B). */
    static void scatterAdd(Tensor g, int axis, Tensor idx, Tensor gx) {
        int ax = Shape.axis("scatterAdd", axis, gx.rank());
        int[] ab = outerInner(gx.shape(), ax);
        int a = ab[0], b = ab[1], dx = gx.shape(ax), di = idx.shape(ax);
        int[] ia = idx.ints();
        int io = idx.offset();
        checkIndices("scatterAdd", ia, io, idx.numel(), dx, "axis " + ax + " of " + Shape.str(gx.shape()));
        float[] ga = g.floats(), oa = gx.floats();
        int go = g.offset(), oo = gx.offset();
        int blocks = (b + COLUMN_BLOCK - 1) / COLUMN_BLOCK;
        WorkerPool.global().parallelFor(a * blocks, 1, (s, e) -> {
            for (int t = s; t < e; t++) {
                int aa = t / blocks, c0 = (t % blocks) * COLUMN_BLOCK, c1 = Math.min(b, c0 + COLUMN_BLOCK);
                int oBase = oo + aa * dx * b;
                for (int i = 0; i < di; i++) {
                    int r = (aa * di + i) * b;
                    for (int j = c0; j < c1; j++) oa[oBase + ia[io + r + j] * b + j] += ga[go + r + j];
                }
            }
        });
    }
}
