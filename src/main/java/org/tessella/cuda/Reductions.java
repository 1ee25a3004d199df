package org.tessella.cuda;

import java.lang.foreign.MemorySegment;
import org.tessella.backend.ReduceOp;
import org.tessella.tensor.DType;
import org.tessella.tensor.Tensor;

/**
 * Reductions on the device (reduce.cu), with the CPU's case analysis: axes reduced after all kept ones (a contiguous
 * [rows, n] view) go to a block-per-row kernel; axes reduced before all kept ones to a thread-per-column kernel (in
 * two fixed chunked stages when the columns are few and long); anything else is permuted to [kept, reduced] and made
 * contiguous first. Orders are fixed, so results repeat bit for bit on one device.
 */
final class Reductions {
    private static final String M = "reduce";
    /** Blocks of the sum-of-squares kernel: fixed, so its partials and their sum do not depend on the GPU. */
    private static final int SQ_BLOCKS = 256;
    private final CudaBackend be;

    Reductions(CudaBackend be) { this.be = be; }

    private static int code(ReduceOp op) {
        return switch (op) {
            case SUM -> 0;
            case MAX -> 1;
            case MIN -> 2;
        };
    }

    void reduce(ReduceOp op, Tensor x, Tensor out) {
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
            if (x.numel() == 0) be.fill(out, op == ReduceOp.SUM ? 0f : op == ReduceOp.MAX ? Float.NEGATIVE_INFINITY : Float.POSITIVE_INFINITY);
            else be.copy(x, out);
            return;
        }
        be.requireContiguous("reduce", out);
        if (x.isContiguous() && lastReduced < firstKept && kn > 1) {
            columns(op, x, rn, kn, out);
            return;
        }
        int[] perm = new int[r];
        int p = 0;
        for (int d = 0; d < r; d++) if (!reduced[d]) perm[p++] = d;
        for (int d = 0; d < r; d++) if (reduced[d]) perm[p++] = d;
        Tensor xp = x.permute(perm), c = be.contiguous(xp);
        rows(op, be.ptr(c), kn, rn, be.ptr(out));
        be.releaseCopy(c, xp);
    }

    private void rows(ReduceOp op, long x, int rows, int n, long out) {
        be.launchRows(be.kernel(M, "reduce_rows"), rows, n >= 4096 ? 1024 : CudaBackend.rowThreads(n),
                KernelArgs.begin().i32(code(op)).i32(rows).i32(n).ptr(x).ptr(out));
    }

    /** out[j] = op over the m rows of column j of a contiguous [m, n] matrix. */
    private void columns(ReduceOp op, Tensor x, int m, int n, Tensor out) {
        long px = be.ptr(x), po = be.ptr(out);
        int per = 64;
        if (m <= 2 * per || (long) n >= 8L * be.context().info().multiprocessors() * 256) {
            be.launch(be.kernel(M, "reduce_cols"), n, KernelArgs.begin().i32(code(op)).i32(m).i32(n).ptr(px).ptr(po));
            return;
        }
        int chunks = (m + per - 1) / per;
        Tensor partial = be.scratch(DType.F32, chunks, n);
        long pp = be.ptr(partial);
        be.launch(be.kernel(M, "reduce_cols_chunked"), chunks * n, KernelArgs.begin().i32(code(op)).i32(m).i32(n)
                .i32(per).i32(chunks).ptr(px).ptr(pp));
        be.launch(be.kernel(M, "reduce_cols"), n, KernelArgs.begin().i32(code(op)).i32(chunks).i32(n).ptr(pp).ptr(po));
        be.release(partial);
    }

    double sumOfSquares(Tensor x) {
        if (x.numel() == 0) return 0;
        Tensor c = be.contiguous(x);
        int n = c.numel();
        Tensor partial = be.scratch(DType.F32, 2 * SQ_BLOCKS); // SQ_BLOCKS doubles
        be.launchGrid(be.kernel(M, "sum_squares"), SQ_BLOCKS, 256, KernelArgs.begin().i32(n).ptr(be.ptr(c)).ptr(be.ptr(partial)));
        double[] host = new double[SQ_BLOCKS];
        be.context().download(be.ptr(partial), MemorySegment.ofArray(host), 8L * SQ_BLOCKS);
        be.release(partial);
        be.releaseCopy(c, x);
        double total = 0;
        for (double p : host) total += p;
        return total;
    }

    /**
     * The sum of {@link #sumOfSquares(Tensor)} over xs, added in order, with one download for all of them: the global
     * gradient norm then waits for the device once per step, not once per parameter. Same bits as the one by one sum.
     */
    double sumOfSquares(java.util.List<Tensor> xs) {
        int k = xs.size();
        if (k == 0) return 0;
        Tensor partial = be.scratch(DType.F32, 2 * SQ_BLOCKS * k); // k rows of SQ_BLOCKS doubles
        long base = be.ptr(partial);
        for (int i = 0; i < k; i++) {
            Tensor x = xs.get(i);
            if (x.numel() == 0) continue;
            Tensor c = be.contiguous(x);
            be.launchGrid(be.kernel(M, "sum_squares"), SQ_BLOCKS, 256,
                    KernelArgs.begin().i32(c.numel()).ptr(be.ptr(c)).ptr(base + 8L * SQ_BLOCKS * i));
            be.releaseCopy(c, x);
        }
        double[] host = new double[SQ_BLOCKS * k];
        be.context().download(base, MemorySegment.ofArray(host), 8L * SQ_BLOCKS * k);
        be.release(partial);
        double total = 0;
        for (int i = 0; i < k; i++) {
            if (xs.get(i).numel() == 0) continue;
            double one = 0;
            for (int j = 0; j < SQ_BLOCKS; j++) one += host[i * SQ_BLOCKS + j];
            total += one;
        }
        return total;
    }

    void argmax(Tensor x, Tensor out) {
        int n = x.shape(-1), m = x.numel() / Math.max(1, n);
        if (m == 0) return;
        Tensor c = be.contiguous(x);
        be.launchRows(be.kernel(M, "argmax_rows"), m, 256, KernelArgs.begin().i32(m).i32(n).ptr(be.ptr(c)).ptr(be.ptr(out)));
        be.releaseCopy(c, x);
    }

    void topk(Tensor x, int k, Tensor values, Tensor indices) {
        int n = x.shape(-1), m = x.numel() / Math.max(1, n);
        if (k < 0 || k > n) throw new IllegalArgumentException("topk: k = " + k + " but the last axis has " + n + " elements");
        be.requireContiguous("topk", values, indices);
        if (m == 0 || k == 0) return;
        Tensor c = be.contiguous(x);
        be.launchRows(be.kernel(M, "topk_rows"), m, 256, KernelArgs.begin().i32(m).i32(n).i32(k)
                .ptr(be.ptr(c)).ptr(be.ptr(values)).ptr(be.ptr(indices)));
        be.releaseCopy(c, x);
    }
}
