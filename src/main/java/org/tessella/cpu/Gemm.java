package org.tessella.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.tessella.tensor.Tensor;

/**
 * Blocked, packed, multithreaded SGEMM: {@code c[i] = alpha * op(a[i]) @ op(b[i]) + beta * c[i]}.
 *
 * <p>Structure (GotoBLAS/BLIS): for each block of NC columns and KC depth, a panel of op(B) is packed into micro-panels
 * of NR columns; for each block of MC rows, op(A) is packed into micro-panels of MR rows; a register-blocked micro
 * kernel then computes each MR x NR tile of C with MR x 2 vector accumulators (vectorised over N). Edge tiles are run
 * through the same kernel on a zero-padded copy, so no element of C is ever computed by different code.
 *
 * <p>Determinism: every element of C is {@code acc = 0; acc = fma(a[i,k], b[k,j], acc)} for k in order within a K
 * block of the fixed size {@link #KC}, then {@code c = acc * alpha} (first block, beta = 0) or
 * {@code c = fma(acc, alpha, c * beta')} with beta' = beta for the first block and 1 after it, blocks in order of k.
 * Lanewise fma rounds exactly as {@link Math#fma}, so this is the same whatever the vector width, the thread count,
 * or the place of the element in a tile. Work is split over the {@link WorkerPool} by output rows (and columns when
 * there are few rows), never over K.
 *
 * <p>Packing buffers are per thread and allocated once, so a steady-state call allocates nothing large.
 */
final class Gemm {
    private Gemm() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int VL = S.length();

    /** Depth of a K block. Fixed (never derived from the vector width or threads): it sets the summation order. */
    static final int KC = 256;
    /** Rows of a micro tile. */
    static final int MR = 6;
    /** Columns of a micro tile: two vectors. */
    static final int NR = 2 * VL;
    /** Rows of op(A) packed at once (MC x KC floats stay in L2). */
    static final int MC = 16 * MR;
    /** Columns of op(B) packed at once (KC x NC floats stay in L2/L3). */
    static final int NC = NR * Math.max(1, 1024 / NR);
    /** Below this many rows (and with B not transposed) C is computed straight from A and B, without packing. */
    static final int SMALL_M = 4;
    /** Least work (multiply-adds) worth a task of its own. */
    private static final long MIN_TASK_WORK = 1L << 18;

    private static final class Scratch {
        final float[] a = new float[MC * KC];
        final float[] b = new float[KC * NC];
        final float[] tile = new float[MR * NR];
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    /** The Backend.matmul contract, on contiguous rank-3 CPU tensors. */
    static void matmul(Tensor a, boolean transA, Tensor b, boolean transB, Tensor c, float alpha, float beta) {
        int batch = c.shape(0), m = c.shape(1), n = c.shape(2);
        int k = transA ? a.shape(1) : a.shape(2);
        int aStride = a.shape(0) == 1 ? 0 : m * k;
        int bStride = b.shape(0) == 1 ? 0 : k * n;
        gemm(batch, m, n, k, a.floats(), a.offset(), aStride, transA, b.floats(), b.offset(), bStride, transB,
                c.floats(), c.offset(), alpha, beta);
    }

    /**
     * The same on raw arrays: a[i] starts at {@code aOff + i * aStride} (aStride 0 reuses one matrix for all i), b
     * likewise, and c[i] at {@code cOff + i * m * n}. op(A) is m x k, op(B) is k x n, all row-major.
     */
    static void gemm(int batch, int m, int n, int k,
                     float[] a, int aOff, int aStride, boolean transA,
                     float[] b, int bOff, int bStride, boolean transB,
                     float[] c, int cOff, float alpha, float beta) {
        if (batch == 0 || m == 0 || n == 0) return;
        if (k == 0 || alpha == 0f) {
            scale(c, cOff, batch * m * n, beta);
            return;
        }
        WorkerPool pool = WorkerPool.global();
        boolean direct = m < SMALL_M && !transB;
        int rowsPerUnit = direct ? 1 : MR;
        int mTiles = (m + rowsPerUnit - 1) / rowsPerUnit;
        long rowUnits = (long) batch * mTiles;
        int nBlocks = 1;
        int target = 4 * pool.threads();
        if (pool.threads() > 1 && rowUnits < target)
            nBlocks = (int) Math.min((n + NR - 1) / NR, (target + rowUnits - 1) / rowUnits);
        int colsPerBlock = roundUp((n + nBlocks - 1) / nBlocks, NR);
        int nb = (n + colsPerBlock - 1) / colsPerBlock;
        long units = rowUnits * nb;
        if (units > Integer.MAX_VALUE) throw new IllegalArgumentException("matmul: too many tiles");
        long unitWork = (long) rowsPerUnit * Math.min(colsPerBlock, n) * k;
        int grain = (int) Math.max(1, Math.min(units, MIN_TASK_WORK / unitWork));
        int perBatch = nb * mTiles;
        pool.parallelFor((int) units, grain, (s, e) -> {
            int u = s;
            while (u < e) {
                int bi = u / perBatch, rem = u % perBatch, nj = rem / mTiles, mt = rem % mTiles;
                int run = Math.min(e - u, mTiles - mt);
                int r0 = mt * rowsPerUnit, r1 = Math.min(m, (mt + run) * rowsPerUnit);
                int c0 = nj * colsPerBlock, c1 = Math.min(n, c0 + colsPerBlock);
                int ao = aOff + bi * aStride, bo = bOff + bi * bStride, co = cOff + bi * m * n;
                if (direct) direct(m, n, k, a, ao, transA, b, bo, c, co, r0, r1, c0, c1, alpha, beta);
                else blocked(m, n, k, a, ao, transA, b, bo, transB, c, co, r0, r1, c0, c1, alpha, beta);
                u += run;
            }
        });
    }

    private static int roundUp(int x, int multiple) {
        return (x + multiple - 1) / multiple * multiple;
    }

    /** c = beta * c (the k = 0 or alpha = 0 case); beta = 0 writes zeros whatever c held. */
    private static void scale(float[] c, int off, int len, float beta) {
        if (beta == 0f) java.util.Arrays.fill(c, off, off + len, 0f);
        else if (beta != 1f) for (int i = off; i < off + len; i++) c[i] *= beta;
    }

    // ---- packed path ---------------------------------------------------------------------------------------------

    /** Rows [r0, r1) and columns [c0, c1) of one matrix product, all of K. */
    private static void blocked(int m, int n, int k, float[] a, int aOff, boolean transA,
                                float[] b, int bOff, boolean transB, float[] c, int cOff,
                                int r0, int r1, int c0, int c1, float alpha, float beta) {
        Scratch sc = SCRATCH.get();
        for (int jc = c0; jc < c1; jc += NC) {
            int nc = Math.min(NC, c1 - jc);
            for (int pc = 0; pc < k; pc += KC) {
                int kc = Math.min(KC, k - pc);
                float betaEff = pc == 0 ? beta : 1f;
                packB(b, bOff, n, k, transB, pc, kc, jc, nc, sc.b);
                for (int ic = r0; ic < r1; ic += MC) {
                    int mc = Math.min(MC, r1 - ic);
                    packA(a, aOff, m, k, transA, ic, mc, pc, kc, sc.a);
                    macro(kc, mc, nc, sc, c, cOff + ic * n + jc, n, alpha, betaEff);
                }
            }
        }
    }

    /** All micro tiles of an mc x nc block of C from packed A (mc x kc) and packed B (kc x nc). */
    private static void macro(int kc, int mc, int nc, Scratch sc, float[] c, int cOff, int ldc,
                              float alpha, float beta) {
        float[] pa = sc.a, pb = sc.b, tile = sc.tile;
        for (int jr = 0; jr < nc; jr += NR) {
            int cols = Math.min(NR, nc - jr);
            int bo = jr / NR * kc * NR;
            for (int ir = 0; ir < mc; ir += MR) {
                int rows = Math.min(MR, mc - ir);
                int ao = ir / MR * kc * MR;
                int co = cOff + ir * ldc + jr;
                if (rows == MR && cols == NR) {
                    kernel(kc, pa, ao, pb, bo, c, co, ldc, alpha, beta);
                } else {
                    if (beta != 0f)
                        for (int r = 0; r < rows; r++) System.arraycopy(c, co + r * ldc, tile, r * NR, cols);
                    kernel(kc, pa, ao, pb, bo, tile, 0, NR, alpha, beta);
                    for (int r = 0; r < rows; r++) System.arraycopy(tile, r * NR, c, co + r * ldc, cols);
                }
            }
        }
    }

    /**
     * One MR x NR tile: {@code acc = sum_k pa[k][r] * pb[k][j]} (fma in order of k), then
     * {@code c = acc * alpha} when beta is 0, else {@code c = fma(acc, alpha, c * beta)}.
     */
    private static void kernel(int kc, float[] pa, int ao, float[] pb, int bo, float[] c, int co, int ldc,
                               float alpha, float beta) {
        FloatVector c00 = FloatVector.zero(S), c01 = FloatVector.zero(S);
        FloatVector c10 = FloatVector.zero(S), c11 = FloatVector.zero(S);
        FloatVector c20 = FloatVector.zero(S), c21 = FloatVector.zero(S);
        FloatVector c30 = FloatVector.zero(S), c31 = FloatVector.zero(S);
        FloatVector c40 = FloatVector.zero(S), c41 = FloatVector.zero(S);
        FloatVector c50 = FloatVector.zero(S), c51 = FloatVector.zero(S);
        for (int p = 0; p < kc; p++) {
            int ai = ao + p * MR, bi = bo + p * NR;
            FloatVector b0 = FloatVector.fromArray(S, pb, bi);
            FloatVector b1 = FloatVector.fromArray(S, pb, bi + VL);
            FloatVector x = FloatVector.broadcast(S, pa[ai]);
            c00 = x.fma(b0, c00);
            c01 = x.fma(b1, c01);
            x = FloatVector.broadcast(S, pa[ai + 1]);
            c10 = x.fma(b0, c10);
            c11 = x.fma(b1, c11);
            x = FloatVector.broadcast(S, pa[ai + 2]);
            c20 = x.fma(b0, c20);
            c21 = x.fma(b1, c21);
            x = FloatVector.broadcast(S, pa[ai + 3]);
            c30 = x.fma(b0, c30);
            c31 = x.fma(b1, c31);
            x = FloatVector.broadcast(S, pa[ai + 4]);
            c40 = x.fma(b0, c40);
            c41 = x.fma(b1, c41);
            x = FloatVector.broadcast(S, pa[ai + 5]);
            c50 = x.fma(b0, c50);
            c51 = x.fma(b1, c51);
        }
        FloatVector va = FloatVector.broadcast(S, alpha);
        store(c00, c01, va, beta, c, co);
        store(c10, c11, va, beta, c, co + ldc);
        store(c20, c21, va, beta, c, co + 2 * ldc);
        store(c30, c31, va, beta, c, co + 3 * ldc);
        store(c40, c41, va, beta, c, co + 4 * ldc);
        store(c50, c51, va, beta, c, co + 5 * ldc);
    }

    private static void store(FloatVector v0, FloatVector v1, FloatVector alpha, float beta, float[] c, int o) {
        if (beta == 0f) {
            v0.mul(alpha).intoArray(c, o);
            v1.mul(alpha).intoArray(c, o + VL);
        } else {
            v0.fma(alpha, FloatVector.fromArray(S, c, o).mul(beta)).intoArray(c, o);
            v1.fma(alpha, FloatVector.fromArray(S, c, o + VL).mul(beta)).intoArray(c, o + VL);
        }
    }

    /** Packs rows [i0, i0 + mc) and depth [p0, p0 + kc) of op(A) as micro-panels pa[panel][k][MR], zero-padded. */
    private static void packA(float[] a, int aOff, int m, int k, boolean transA, int i0, int mc, int p0, int kc,
                              float[] pa) {
        for (int ir = 0; ir < mc; ir += MR) {
            int rows = Math.min(MR, mc - ir);
            int dst = ir / MR * kc * MR;
            if (!transA) {
                for (int r = 0; r < rows; r++) {
                    int src = aOff + (i0 + ir + r) * k + p0;
                    for (int p = 0; p < kc; p++) pa[dst + p * MR + r] = a[src + p];
                }
            } else {
                for (int p = 0; p < kc; p++) {
                    int src = aOff + (p0 + p) * m + i0 + ir;
                    for (int r = 0; r < rows; r++) pa[dst + p * MR + r] = a[src + r];
                }
            }
            for (int r = rows; r < MR; r++)
                for (int p = 0; p < kc; p++) pa[dst + p * MR + r] = 0f;
        }
    }

    /** Packs depth [p0, p0 + kc) and columns [j0, j0 + nc) of op(B) as micro-panels pb[panel][k][NR], zero-padded. */
    private static void packB(float[] b, int bOff, int n, int k, boolean transB, int p0, int kc, int j0, int nc,
                              float[] pb) {
        for (int jr = 0; jr < nc; jr += NR) {
            int cols = Math.min(NR, nc - jr);
            int dst = jr / NR * kc * NR;
            if (!transB) {
                for (int p = 0; p < kc; p++) {
                    int src = bOff + (p0 + p) * n + j0 + jr, d = dst + p * NR;
                    if (cols == NR) {
                        FloatVector.fromArray(S, b, src).intoArray(pb, d);
                        FloatVector.fromArray(S, b, src + VL).intoArray(pb, d + VL);
                    } else {
                        System.arraycopy(b, src, pb, d, cols);
                        java.util.Arrays.fill(pb, d + cols, d + NR, 0f);
                    }
                }
            } else {
                for (int j = 0; j < cols; j++) {
                    int src = bOff + (j0 + jr + j) * k + p0;
                    for (int p = 0; p < kc; p++) pb[dst + p * NR + j] = b[src + p];
                }
                for (int j = cols; j < NR; j++)
                    for (int p = 0; p < kc; p++) pb[dst + p * NR + j] = 0f;
            }
        }
    }

    // ---- direct path (few rows, B not transposed: inference with one or two tokens) ------------------------------

    /** Rows [r0, r1), columns [c0, c1), straight from A and B, with exactly the arithmetic of the packed path. */
    private static void direct(int m, int n, int k, float[] a, int aOff, boolean transA, float[] b, int bOff,
                               float[] c, int cOff, int r0, int r1, int c0, int c1, float alpha, float beta) {
        FloatVector va = FloatVector.broadcast(S, alpha);
        int aRow = transA ? 1 : k, aCol = transA ? m : 1;
        for (int i = r0; i < r1; i++) {
            int ai = aOff + i * aRow, ci = cOff + i * n;
            for (int pc = 0; pc < k; pc += KC) {
                int kc = Math.min(KC, k - pc);
                float betaEff = pc == 0 ? beta : 1f;
                int ap = ai + pc * aCol, bp = bOff + pc * n;
                int j = c0;
                for (; j + 4 * VL <= c1; j += 4 * VL) {
                    FloatVector s0 = FloatVector.zero(S), s1 = FloatVector.zero(S);
                    FloatVector s2 = FloatVector.zero(S), s3 = FloatVector.zero(S);
                    for (int p = 0; p < kc; p++) {
                        FloatVector x = FloatVector.broadcast(S, a[ap + p * aCol]);
                        int bo = bp + p * n + j;
                        s0 = x.fma(FloatVector.fromArray(S, b, bo), s0);
                        s1 = x.fma(FloatVector.fromArray(S, b, bo + VL), s1);
                        s2 = x.fma(FloatVector.fromArray(S, b, bo + 2 * VL), s2);
                        s3 = x.fma(FloatVector.fromArray(S, b, bo + 3 * VL), s3);
                    }
                    store(s0, s1, va, betaEff, c, ci + j);
                    store(s2, s3, va, betaEff, c, ci + j + 2 * VL);
                }
                for (; j + VL <= c1; j += VL) {
                    FloatVector s0 = FloatVector.zero(S);
                    for (int p = 0; p < kc; p++)
                        s0 = FloatVector.broadcast(S, a[ap + p * aCol]).fma(FloatVector.fromArray(S, b, bp + p * n + j), s0);
                    if (betaEff == 0f) s0.mul(va).intoArray(c, ci + j);
                    else s0.fma(va, FloatVector.fromArray(S, c, ci + j).mul(betaEff)).intoArray(c, ci + j);
                }
                for (; j < c1; j++) {
                    float s = 0f;
                    for (int p = 0; p < kc; p++) s = Math.fma(a[ap + p * aCol], b[bp + p * n + j], s);
                    c[ci + j] = betaEff == 0f ? s * alpha : Math.fma(s, alpha, c[ci + j] * betaEff);
                }
            }
        }
    }
}
