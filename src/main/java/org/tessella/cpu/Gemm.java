package org.tessella.cpu;

import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.tessella.tensor.Tensor;

/**
 * Blocked, packed, multithreaded SGEMM: {@code c[i] = alpha * op(a[i]) @ op(b[i]) + beta * c[i]}.
 *
 * <p>Structure (GotoBLAS/BLIS): for each block of NC columns and KC depth, a panel of op(B) is packed into micro-panels
 * of NR columns; a register-blocked micro kernel computes each MR x NR tile in vector accumulators (vectorised over N;
 * 6 x 4 vectors, or 4 x 2 where the vector unit has 16 registers) into a small tile buffer, and {@link #combine} folds
 * the tile into C. A is never packed: the kernel reads op(A) where it lies, as MR rows ({@link #kernel}, A not
 * transposed: row r at {@code a0 + r*lda}, contiguous in k) or as MR adjacent columns of the stored matrix
 * ({@link #kernelT}, A transposed: the MR values of one k at {@code a0 + k*lda}). (Packing A into micro-panels was
 * 8.5% of a gpt-s step on two Zen 4 cores, JFR samples, and its transposing form a quarter of a weight gradient's
 * time; both kernels run as fast on A in place.) Partial tiles repeat their last row of A (rows form) or read a
 * zero-padded copy of their columns (columns form), and read the zero padding of B's last micro-panel.
 * With fewer than {@link #SMALL_M} rows (inference on one token) C is computed straight from A and B. One large product
 * on several threads packs each B panel once for all threads ({@link #sharedB}), or, when K is deep (three or more K
 * blocks: a weight gradient), packs B whole and spreads the work over K blocks too, each block's accumulators
 * into a partial that is folded into C in block order ({@link #splitK}; {@link #deepK} keeps whole K per unit when
 * the partials would be too large).
 *
 * <p>Determinism: every element of C is {@code acc = 0; acc = fma(a[i,k], b[k,j], acc)} for k in order within a K
 * block of the fixed depth {@link #KC}, then {@code c = acc * alpha} (first block with beta = 0) or
 * {@code c = fma(acc, alpha, c * beta')} with beta' = beta for the first block and 1 after it, blocks in order of k.
 * Lanewise fma rounds exactly as {@link Math#fma}, so the bits do not depend on the vector width, the thread count, the
 * path taken, or where the element falls in a tile. Work is split over the {@link WorkerPool} by output rows (and
 * columns when rows are few), and over K only in whole K blocks, whose accumulators are independent anyway and are
 * folded in block order.
 *
 * <p>{@link ConvGemm} runs the same micro kernel on B panels it packs from images.
 *
 * <p>Packing buffers are per thread and allocated once, so a steady-state call allocates nothing large. (The kernel
 * writes its accumulators to the tile buffer rather than passing vectors to a helper: a helper C2 declines to inline
 * would box every vector, which measured 5x slower.)
 */
final class Gemm {
    private Gemm() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int VL = S.length();

    /** Depth of a K block. Fixed (never derived from the vector width or threads): it sets the summation order. */
    static final int KC = 512;
    /** Rows of a micro tile: 6 with 32 vector registers, 4 with 16 ({@link VectorSupport#SIXTEEN_REGISTERS}). */
    static final int MR = VectorSupport.SIXTEEN_REGISTERS ? 4 : 6;
    /**
     * Columns of a micro tile: four vectors with 32 registers, 6 x 4 = 24 accumulators (6 x 2 before: 4-13% slower on
     * AVX-512 at 1 and 2 threads); two with 16, 4 x 2 = 8 accumulators, all kept in registers (6 x 4 and 6 x 2 spill
     * there: 4 x 2 is 1.8x faster on Zen 3).
     */
    static final int NR = (VectorSupport.SIXTEEN_REGISTERS ? 2 : 4) * VL;
    /** Rows of op(A) packed at once. */
    static final int MC = 8 * MR;
    /** Columns of op(B) packed at once (a multiple of NR). */
    static final int NC = NR * Math.max(1, 1024 / NR);
    /** Below this many rows C is computed straight from A and B, without packing. */
    static final int SMALL_M = 4;
    /** Least work (multiply-adds) worth a task of its own. */
    private static final long MIN_TASK_WORK = 1L << 18;
    /** Most floats {@link #deepK} packs (op(B) whole, 64 MB), beyond which a product runs through sharedB. */
    private static final long DEEP_MAX_PACKED = 1L << 24;
    /** Most floats of {@link #splitK}'s per-K-block partials (16 MB); a larger product keeps whole K per unit. */
    private static final long MAX_PARTIALS = 1L << 22;

    private static final class Scratch {
        final float[] b = new float[KC * NC];
        final float[] tile = new float[MR * NR];
        /** A partial tile of a transposed A, its columns copied and zero padded ([k][MR]), for {@link #kernelT}. */
        final float[] edge = new float[KC * MR];
        /** {@link #deepK}'s whole pack of op(B) and splitK's partials (the calling thread's, grown as needed, kept). */
        float[] packedB = new float[0], partials = new float[0];

        float[] partials(int len) {
            if (partials.length < len) partials = new float[len];
            return partials;
        }

        float[] wholeB(int len) {
            if (packedB.length < len) packedB = new float[len];
            return packedB;
        }
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
     * The same on arrays: a[i] starts at {@code aOff + i * aStride} (aStride 0 reuses one matrix for every i), b
     * likewise, c[i] at {@code cOff + i * m * n}. op(A) is m x k, op(B) k x n, all row-major; A is stored k x m when
     * transA, B n x k when transB.
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
        int threads = pool.threads();
        boolean direct = m < SMALL_M;
        int rowTiles = direct ? m : (m + MR - 1) / MR;
        boolean whole = batch >= 4L * threads;
        if (!direct && !whole && threads > 1 && rowTiles >= 2 * threads && (long) m * n * k >= 1L << 22) {
            // three or more K blocks (a weight gradient, k = all tokens; forward products have one or two): sharedB
            // would fork and join twice per K block
            boolean deep = k > 2 * KC && (long) roundUp(n, NR) * k <= DEEP_MAX_PACKED;
            for (int bi = 0; bi < batch; bi++)
                if (deep)
                    deepK(pool, m, n, k, a, aOff + bi * aStride, transA, b, bOff + bi * bStride, transB,
                            c, cOff + bi * m * n, alpha, beta);
                else
                    sharedB(pool, m, n, k, a, aOff + bi * aStride, transA, b, bOff + bi * bStride, transB,
                            c, cOff + bi * m * n, alpha, beta);
            return;
        }
        // Units of work: (matrix, column block, row tile), row tiles fastest, so that a task's consecutive units
        // share their B panel. With many matrices a unit is a whole matrix, so that each B is packed only once;
        // columns are split only when there are too few row tiles to keep the threads busy.
        int rowsPerUnit = whole ? m : direct ? 1 : MR;
        int mTiles = (m + rowsPerUnit - 1) / rowsPerUnit;
        long rowUnits = (long) batch * mTiles;
        int nBlocks = 1;
        if (threads > 1 && rowUnits < 4L * threads)
            nBlocks = (int) Math.min((n + NR - 1) / NR, (4L * threads + rowUnits - 1) / rowUnits);
        int colsPerBlock = roundUp((n + nBlocks - 1) / nBlocks, NR);
        int nb = (n + colsPerBlock - 1) / colsPerBlock;
        long units = rowUnits * nb;
        if (units > Integer.MAX_VALUE) throw new IllegalArgumentException("matmul: too many output tiles");
        long unitWork = (long) rowsPerUnit * Math.min(colsPerBlock, n) * k;
        int grain = (int) Math.max(1, Math.min(units, MIN_TASK_WORK / unitWork));
        int perBatch = nb * mTiles;
        pool.parallelFor((int) units, grain, (s, e) -> {
            for (int u = s; u < e; ) {
                int bi = u / perBatch, rem = u % perBatch, nj = rem / mTiles, mt = rem % mTiles;
                int run = Math.min(e - u, mTiles - mt);
                int r0 = mt * rowsPerUnit, r1 = Math.min(m, (mt + run) * rowsPerUnit);
                int c0 = nj * colsPerBlock, c1 = Math.min(n, c0 + colsPerBlock);
                int ao = aOff + bi * aStride, bo = bOff + bi * bStride, co = cOff + bi * m * n;
                if (direct && transB) directT(m, n, k, a, ao, transA, b, bo, c, co, r0, r1, c0, c1, alpha, beta);
                else if (direct) direct(m, n, k, a, ao, transA, b, bo, c, co, r0, r1, c0, c1, alpha, beta);
                else blocked(m, n, k, a, ao, transA, b, bo, transB, c, co, r0, r1, c0, c1, alpha, beta);
                u += run;
            }
        });
    }

    private static int roundUp(int x, int multiple) {
        return (x + multiple - 1) / multiple * multiple;
    }

    /** Where op(A)'s row i, depth pc, is in a (A stored m x k, or k x m when transposed). */
    private static int aAt(int aOff, int m, int k, boolean transA, int i, int pc) {
        return transA ? aOff + pc * m + i : aOff + i * k + pc;
    }

    /** c = beta * c (the k = 0 or alpha = 0 case); beta = 0 writes zeros whatever c held. */
    private static void scale(float[] c, int off, int len, float beta) {
        if (beta == 0f) Arrays.fill(c, off, off + len, 0f);
        else if (beta != 1f) for (int i = off; i < off + len; i++) c[i] *= beta;
    }

    // ---- packed path ---------------------------------------------------------------------------------------------

    /** Rows [r0, r1) and columns [c0, c1) of one product, all of K, on one thread with its own pack of B. */
    private static void blocked(int m, int n, int k, float[] a, int aOff, boolean transA,
                                float[] b, int bOff, boolean transB, float[] c, int cOff,
                                int r0, int r1, int c0, int c1, float alpha, float beta) {
        Scratch sc = SCRATCH.get();
        for (int jc = c0; jc < c1; jc += NC) {
            int nc = Math.min(NC, c1 - jc);
            int panels = (nc + NR - 1) / NR;
            for (int pc = 0; pc < k; pc += KC) {
                int kc = Math.min(KC, k - pc);
                float betaEff = pc == 0 ? beta : 1f;
                packB(b, bOff, n, k, transB, pc, kc, jc, nc, 0, panels, sc.b, 0);
                rows(m, n, a, aOff, k, transA, pc, kc, r0, r1, sc.b, nc, 0, nc, c, cOff + jc, alpha, betaEff, sc);
            }
        }
    }

    /**
     * One large product with three or more K blocks on several threads (a weight gradient: k = all tokens): op(B) is
     * packed whole, once, by all threads together; then each task runs its units (a group of row tiles by one B
     * panel) through every K block in order. Two fork-joins in all, where {@link #sharedB} needs two per K block. Same
     * arithmetic per element as every other path.
     */
    private static void deepK(WorkerPool pool, int m, int n, int k, float[] a, int aOff, boolean transA,
                              float[] b, int bOff, boolean transB, float[] c, int cOff, float alpha, float beta) {
        int mTiles = (m + MR - 1) / MR, panels = (n + NR - 1) / NR, kBlocks = (k + KC - 1) / KC;
        Scratch sc = SCRATCH.get();
        float[] pb = sc.wholeB(panels * NR * k); // K block pc starts at panels * NR * pc (blocks before it are KC deep)
        pool.parallelFor(kBlocks * panels, 4, (s, e) -> {
            for (int u = s; u < e; u++) {
                int pc = u / panels * KC, kc = Math.min(KC, k - pc), q = u % panels;
                packB(b, bOff, n, k, transB, pc, kc, 0, n, q, q + 1, pb, panels * NR * pc);
            }
        });
        if ((long) kBlocks * m * n <= MAX_PARTIALS) {
            splitK(pool, m, n, k, kBlocks, mTiles, panels, a, aOff, transA, pb, c, cOff, alpha, beta, sc);
            return;
        }
        // units (group of row tiles, B panel): the largest group that still leaves eight units per thread. A task's
        // consecutive units share the wider operand of the two (g*MR rows of A or NR columns of B) while it is in
        // cache, and stream the thinner one (on AVX-512 at 16 threads, 4 x 6 rows against 64 columns: row groups
        // fastest, sharing the B panel, measured 10-30% faster than panels fastest)
        int group = 8;
        while (group > 1 && (long) ((mTiles + group - 1) / group) * panels < 8L * pool.threads()) group /= 2;
        int g = group, groups = (mTiles + g - 1) / g;
        boolean panelsFastest = g * MR >= NR;
        int lda = transA ? m : k;
        pool.parallelFor(groups * panels, 1, (s, e) -> {
            Scratch own = SCRATCH.get();
            for (int pc = 0; pc < k; pc += KC) {
                int kc = Math.min(KC, k - pc);
                float betaEff = pc == 0 ? beta : 1f;
                for (int u = s; u < e; u++) {
                    int q = panelsFastest ? u % panels : u / groups;
                    int t0 = (panelsFastest ? u / panels : u % groups) * g, rows = Math.min(m, (t0 + g) * MR) - t0 * MR;
                    macro(kc, rows, n, q * NR, (q + 1) * NR, a, aAt(aOff, m, k, transA, t0 * MR, pc), lda, transA,
                            pb, panels * NR * pc, own, c, cOff + t0 * MR * n, n, alpha, betaEff);
                }
            }
        });
    }

    /**
     * deepK's products, spread over K blocks as well: every K block's accumulators (from zero, as always) go to a
     * partial of their own, and the partials are then folded into C in K-block order, the fold every path does (the
     * first block with beta, the rest with 1), so the bits are the same. Units are (K block, chunk of row tiles, B
     * panel), panels fastest: a task's units share one block of A (at most 256 rows by KC, in L2) and stream
     * their B panels. (With whole K per unit, each unit read its A rows and B panel for all of K from L3: gpt-s's
     * weight gradients ran at a third of the FMA peak on 16 Xeon threads; 1.3-1.4x faster this way.)
     */
    private static void splitK(WorkerPool pool, int m, int n, int k, int kBlocks, int mTiles, int panels, float[] a,
                               int aOff, boolean transA, float[] pb, float[] c, int cOff, float alpha, float beta,
                               Scratch sc) {
        float[] part = sc.partials(kBlocks * m * n);
        int chunks = 1; // chunks of row tiles: enough units for eight per thread, chunks of at least 8 tiles
        while ((long) kBlocks * chunks * panels < 8L * pool.threads() && chunks * 2 <= (mTiles + 7) / 8) chunks *= 2;
        int tilesPerChunk = (mTiles + chunks - 1) / chunks, perBlock = chunks * panels, mn = m * n, lda = transA ? m : k;
        pool.parallelFor(kBlocks * perBlock, 1, (s, e) -> {
            Scratch own = SCRATCH.get();
            for (int u = s; u < e; u++) {
                int kb = u / perBlock, pc = kb * KC, kc = Math.min(KC, k - pc), q = u % panels;
                int t0 = u % perBlock / panels * tilesPerChunk, t1 = Math.min(mTiles, t0 + tilesPerChunk);
                for (int t = t0; t < t1; t += MC / MR) {
                    int rows = Math.min(m, Math.min(t1, t + MC / MR) * MR) - t * MR;
                    macro(kc, rows, n, q * NR, (q + 1) * NR, a, aAt(aOff, m, k, transA, t * MR, pc), lda, transA, pb,
                            panels * NR * pc, own, part, kb * mn + t * MR * n, n, 1f, 0f);
                }
            }
        });
        pool.parallelFor(m, Math.max(1, (1 << 14) / (n * kBlocks)), (s, e) -> {
            for (int i = s; i < e; i++)
                for (int kb = 0; kb < kBlocks; kb++)
                    combine(part, kb * mn + i * n, c, cOff + i * n, n, alpha, kb == 0 ? beta : 1f);
        });
    }

    /**
     * One large product on several threads: each B panel is packed once, by all threads together, into the caller's
     * buffer; then the threads share out the rows.
     */
    private static void sharedB(WorkerPool pool, int m, int n, int k, float[] a, int aOff, boolean transA,
                                float[] b, int bOff, boolean transB, float[] c, int cOff, float alpha, float beta) {
        float[] pb = SCRATCH.get().b;
        int mTiles = (m + MR - 1) / MR;
        for (int jc = 0; jc < n; jc += NC) {
            int nc = Math.min(NC, n - jc), panels = (nc + NR - 1) / NR, j0 = jc;
            for (int pc = 0; pc < k; pc += KC) {
                int kc = Math.min(KC, k - pc), p0 = pc;
                float betaEff = pc == 0 ? beta : 1f;
                pool.parallelFor(panels, 2, (s, e) -> packB(b, bOff, n, k, transB, p0, kc, j0, nc, s, e, pb, 0));
                // units: (row tile, run of B panels), the runs of one tile next to each other. Columns are split when
                // the row tiles alone are few per thread (a weight gradient: m = the layer's width, k = all tokens;
                // gpt-s's [256 x 4096] x [4096 x 768] has 43 tiles, and on 16 threads scaled 4x where the others did 8x)
                int runs = (int) Math.min(panels, (8L * pool.threads() + mTiles - 1) / mTiles);
                int runPanels = (panels + runs - 1) / runs, runCount = (panels + runPanels - 1) / runPanels;
                int grain = (int) Math.max(1, MIN_TASK_WORK / ((long) MR * Math.min(nc, runPanels * NR) * kc));
                pool.parallelFor(mTiles * runCount, grain, (s, e) -> {
                    Scratch sc = SCRATCH.get();
                    for (int u = s; u < e; u++) {
                        int tile = u / runCount, run = u % runCount;
                        int col0 = run * runPanels * NR, col1 = Math.min(nc, col0 + runPanels * NR);
                        rows(m, n, a, aOff, k, transA, p0, kc, tile * MR, Math.min(m, tile * MR + MR), pb, nc, col0,
                                col1, c, cOff + j0, alpha, betaEff, sc);
                    }
                });
            }
        }
    }

    /**
     * Rows [r0, r1) and columns [col0, col1) (a multiple of NR from the panel's start) of C (at cOff, row stride n)
     * against one packed B panel (kc x nc), by MC rows.
     */
    private static void rows(int m, int n, float[] a, int aOff, int k, boolean transA, int pc, int kc, int r0, int r1,
                             float[] pb, int nc, int col0, int col1, float[] c, int cOff, float alpha, float beta, Scratch sc) {
        for (int ic = r0; ic < r1; ic += MC)
            macro(kc, Math.min(MC, r1 - ic), nc, col0, col1, a, aAt(aOff, m, k, transA, ic, pc), transA ? m : k,
                    transA, pb, 0, sc, c, cOff + ic * n, n, alpha, beta);
    }

    /**
     * The micro tiles of columns [col0, col1) of an mc x nc block of C from op(A) in place (its first row at a0: rows
     * lda apart, or, transposed, columns of the stored matrix whose rows are lda apart) and packed B (kc x nc).
     */
    private static void macro(int kc, int mc, int nc, int col0, int col1, float[] a, int a0, int lda, boolean transA,
                              float[] pb, int pbOff, Scratch sc, float[] c, int cOff, int ldc, float alpha, float beta) {
        float[] tile = sc.tile, edge = sc.edge;
        int full = mc / MR * MR;
        if (transA && full < mc) { // the partial tile's columns, zero padded to MR, as kernelT reads them
            for (int p = 0; p < kc; p++)
                for (int r = 0; r < MR; r++) edge[p * MR + r] = full + r < mc ? a[a0 + p * lda + full + r] : 0f;
        }
        boolean half = !VectorSupport.SIXTEEN_REGISTERS;
        for (int jr = col0; jr < col1; jr += NR) {
            int cols = Math.min(NR, nc - jr);
            int bo = pbOff + jr / NR * kc * NR;
            for (int ir = 0; ir < mc; ir += MR) {
                int rows = Math.min(MR, mc - ir);
                if (!transA) {
                    if (half && cols <= NR / 2) kernel6x2(kc, a, a0 + ir * lda, lda, rows, pb, bo, tile, 0, NR);
                    else kernel(kc, a, a0 + ir * lda, lda, rows, pb, bo, tile, 0, NR);
                } else {
                    float[] src = ir < full ? a : edge;
                    int s0 = ir < full ? a0 + ir : 0, ld = ir < full ? lda : MR;
                    if (half && cols <= NR / 2) kernel6x2T(kc, src, s0, ld, pb, bo, tile, 0, NR);
                    else kernelT(kc, src, s0, ld, pb, bo, tile, 0, NR);
                }
                int co = cOff + ir * ldc + jr;
                for (int r = 0; r < rows; r++) combine(tile, r * NR, c, co + r * ldc, cols, alpha, beta);
            }
        }
    }

    /**
     * One MR x NR tile: {@code t[to + r*ldt + j] = sum_p a[a0 + r*lda + p] * pb[bo + p*NR + j]}, fma in order of p,
     * for r < rows (rows past that repeat the last one; their results are not to be used). t is a tile buffer
     * (ldt = NR) or, for a full tile, the product itself (Winograd's M, ldt its row length). With 32 registers, four vectors of
     * B per p, so that each broadcast of A feeds four multiply-adds (6 x 4 = 24 accumulators); with 16, the 4 x 2 tile
     * of {@link #kernel4x2}. A's rows are indexed {@code row + p}, unit stride in the loop's counter, so C2 checks
     * their bounds once outside the loop.
     */
    static void kernel(int kc, float[] a, int a0, int lda, int rows, float[] pb, int bo, float[] t, int to, int ldt) {
        if (VectorSupport.SIXTEEN_REGISTERS) kernel4x2(kc, a, a0, lda, rows, pb, bo, t, to, ldt);
        else kernel6x4(kc, a, a0, lda, rows, pb, bo, t, to, ldt);
    }

    /** The 4 x 2-vector tile for 16 registers: 8 accumulators, two B vectors and a broadcast fit with room to spare. */
    private static void kernel4x2(int kc, float[] a, int a0, int lda, int rows, float[] pb, int bo, float[] t, int to, int ldt) {
        int last = rows - 1;
        int p0 = a0, p1 = a0 + Math.min(1, last) * lda, p2 = a0 + Math.min(2, last) * lda, p3 = a0 + Math.min(3, last) * lda;
        FloatVector c00 = FloatVector.zero(S), c01 = FloatVector.zero(S);
        FloatVector c10 = FloatVector.zero(S), c11 = FloatVector.zero(S);
        FloatVector c20 = FloatVector.zero(S), c21 = FloatVector.zero(S);
        FloatVector c30 = FloatVector.zero(S), c31 = FloatVector.zero(S);
        for (int p = 0; p < kc; p++) {
            int bi = bo + p * NR;
            FloatVector b0 = FloatVector.fromArray(S, pb, bi), b1 = FloatVector.fromArray(S, pb, bi + VL);
            FloatVector x = FloatVector.broadcast(S, a[p0 + p]);
            c00 = x.fma(b0, c00); c01 = x.fma(b1, c01);
            x = FloatVector.broadcast(S, a[p1 + p]);
            c10 = x.fma(b0, c10); c11 = x.fma(b1, c11);
            x = FloatVector.broadcast(S, a[p2 + p]);
            c20 = x.fma(b0, c20); c21 = x.fma(b1, c21);
            x = FloatVector.broadcast(S, a[p3 + p]);
            c30 = x.fma(b0, c30); c31 = x.fma(b1, c31);
        }
        c00.intoArray(t, to); c01.intoArray(t, to + VL);
        c10.intoArray(t, to + ldt); c11.intoArray(t, to + ldt + VL);
        c20.intoArray(t, to + 2 * ldt); c21.intoArray(t, to + 2 * ldt + VL);
        c30.intoArray(t, to + 3 * ldt); c31.intoArray(t, to + 3 * ldt + VL);
    }

    private static void kernel6x4(int kc, float[] a, int a0, int lda, int rows, float[] pb, int bo, float[] t, int to, int ldt) {
        int last = rows - 1;
        int p0 = a0, p1 = a0 + Math.min(1, last) * lda, p2 = a0 + Math.min(2, last) * lda;
        int p3 = a0 + Math.min(3, last) * lda, p4 = a0 + Math.min(4, last) * lda, p5 = a0 + Math.min(5, last) * lda;
        FloatVector c00 = FloatVector.zero(S), c01 = FloatVector.zero(S), c02 = FloatVector.zero(S), c03 = FloatVector.zero(S);
        FloatVector c10 = FloatVector.zero(S), c11 = FloatVector.zero(S), c12 = FloatVector.zero(S), c13 = FloatVector.zero(S);
        FloatVector c20 = FloatVector.zero(S), c21 = FloatVector.zero(S), c22 = FloatVector.zero(S), c23 = FloatVector.zero(S);
        FloatVector c30 = FloatVector.zero(S), c31 = FloatVector.zero(S), c32 = FloatVector.zero(S), c33 = FloatVector.zero(S);
        FloatVector c40 = FloatVector.zero(S), c41 = FloatVector.zero(S), c42 = FloatVector.zero(S), c43 = FloatVector.zero(S);
        FloatVector c50 = FloatVector.zero(S), c51 = FloatVector.zero(S), c52 = FloatVector.zero(S), c53 = FloatVector.zero(S);
        for (int p = 0; p < kc; p++) {
            int bi = bo + p * NR;
            FloatVector b0 = FloatVector.fromArray(S, pb, bi), b1 = FloatVector.fromArray(S, pb, bi + VL);
            FloatVector b2 = FloatVector.fromArray(S, pb, bi + 2 * VL), b3 = FloatVector.fromArray(S, pb, bi + 3 * VL);
            FloatVector x = FloatVector.broadcast(S, a[p0 + p]);
            c00 = x.fma(b0, c00); c01 = x.fma(b1, c01); c02 = x.fma(b2, c02); c03 = x.fma(b3, c03);
            x = FloatVector.broadcast(S, a[p1 + p]);
            c10 = x.fma(b0, c10); c11 = x.fma(b1, c11); c12 = x.fma(b2, c12); c13 = x.fma(b3, c13);
            x = FloatVector.broadcast(S, a[p2 + p]);
            c20 = x.fma(b0, c20); c21 = x.fma(b1, c21); c22 = x.fma(b2, c22); c23 = x.fma(b3, c23);
            x = FloatVector.broadcast(S, a[p3 + p]);
            c30 = x.fma(b0, c30); c31 = x.fma(b1, c31); c32 = x.fma(b2, c32); c33 = x.fma(b3, c33);
            x = FloatVector.broadcast(S, a[p4 + p]);
            c40 = x.fma(b0, c40); c41 = x.fma(b1, c41); c42 = x.fma(b2, c42); c43 = x.fma(b3, c43);
            x = FloatVector.broadcast(S, a[p5 + p]);
            c50 = x.fma(b0, c50); c51 = x.fma(b1, c51); c52 = x.fma(b2, c52); c53 = x.fma(b3, c53);
        }
        c00.intoArray(t, to); c01.intoArray(t, to + VL); c02.intoArray(t, to + 2 * VL); c03.intoArray(t, to + 3 * VL);
        c10.intoArray(t, to + ldt); c11.intoArray(t, to + ldt + VL); c12.intoArray(t, to + ldt + 2 * VL); c13.intoArray(t, to + ldt + 3 * VL);
        c20.intoArray(t, to + 2 * ldt); c21.intoArray(t, to + 2 * ldt + VL);
        c22.intoArray(t, to + 2 * ldt + 2 * VL); c23.intoArray(t, to + 2 * ldt + 3 * VL);
        c30.intoArray(t, to + 3 * ldt); c31.intoArray(t, to + 3 * ldt + VL);
        c32.intoArray(t, to + 3 * ldt + 2 * VL); c33.intoArray(t, to + 3 * ldt + 3 * VL);
        c40.intoArray(t, to + 4 * ldt); c41.intoArray(t, to + 4 * ldt + VL);
        c42.intoArray(t, to + 4 * ldt + 2 * VL); c43.intoArray(t, to + 4 * ldt + 3 * VL);
        c50.intoArray(t, to + 5 * ldt); c51.intoArray(t, to + 5 * ldt + VL);
        c52.intoArray(t, to + 5 * ldt + 2 * VL); c53.intoArray(t, to + 5 * ldt + 3 * VL);
    }

    /**
     * {@link #kernel6x4} for a panel whose columns fit in its first two vectors (gpt-s's 32-wide heads under 16 lanes):
     * the same fma chains for those columns, half the work (the full tile computed the empty half too).
     */
    private static void kernel6x2(int kc, float[] a, int a0, int lda, int rows, float[] pb, int bo, float[] t, int to, int ldt) {
        int last = rows - 1;
        int p0 = a0, p1 = a0 + Math.min(1, last) * lda, p2 = a0 + Math.min(2, last) * lda;
        int p3 = a0 + Math.min(3, last) * lda, p4 = a0 + Math.min(4, last) * lda, p5 = a0 + Math.min(5, last) * lda;
        FloatVector c00 = FloatVector.zero(S), c01 = FloatVector.zero(S), c10 = FloatVector.zero(S), c11 = FloatVector.zero(S);
        FloatVector c20 = FloatVector.zero(S), c21 = FloatVector.zero(S), c30 = FloatVector.zero(S), c31 = FloatVector.zero(S);
        FloatVector c40 = FloatVector.zero(S), c41 = FloatVector.zero(S), c50 = FloatVector.zero(S), c51 = FloatVector.zero(S);
        for (int p = 0; p < kc; p++) {
            int bi = bo + p * NR;
            FloatVector b0 = FloatVector.fromArray(S, pb, bi), b1 = FloatVector.fromArray(S, pb, bi + VL);
            FloatVector x = FloatVector.broadcast(S, a[p0 + p]);
            c00 = x.fma(b0, c00); c01 = x.fma(b1, c01);
            x = FloatVector.broadcast(S, a[p1 + p]);
            c10 = x.fma(b0, c10); c11 = x.fma(b1, c11);
            x = FloatVector.broadcast(S, a[p2 + p]);
            c20 = x.fma(b0, c20); c21 = x.fma(b1, c21);
            x = FloatVector.broadcast(S, a[p3 + p]);
            c30 = x.fma(b0, c30); c31 = x.fma(b1, c31);
            x = FloatVector.broadcast(S, a[p4 + p]);
            c40 = x.fma(b0, c40); c41 = x.fma(b1, c41);
            x = FloatVector.broadcast(S, a[p5 + p]);
            c50 = x.fma(b0, c50); c51 = x.fma(b1, c51);
        }
        c00.intoArray(t, to); c01.intoArray(t, to + VL);
        c10.intoArray(t, to + ldt); c11.intoArray(t, to + ldt + VL);
        c20.intoArray(t, to + 2 * ldt); c21.intoArray(t, to + 2 * ldt + VL);
        c30.intoArray(t, to + 3 * ldt); c31.intoArray(t, to + 3 * ldt + VL);
        c40.intoArray(t, to + 4 * ldt); c41.intoArray(t, to + 4 * ldt + VL);
        c50.intoArray(t, to + 5 * ldt); c51.intoArray(t, to + 5 * ldt + VL);
    }

    /**
     * {@link #kernel} with op(A) = A^T read in place: the tile's MR values of one p are adjacent, at
     * {@code a[a0 + p*lda + r]} (lda = the stored matrix's row length, m), always MR of them (a partial tile comes
     * zero padded from {@link Scratch#edge}). Same fma chains as {@link #kernel}. The offsets r are constants, so C2
     * checks one range per p for all MR loads.
     */
    static void kernelT(int kc, float[] a, int a0, int lda, float[] pb, int bo, float[] t, int to, int ldt) {
        if (VectorSupport.SIXTEEN_REGISTERS) kernel4x2T(kc, a, a0, lda, pb, bo, t, to, ldt);
        else kernel6x4T(kc, a, a0, lda, pb, bo, t, to, ldt);
    }

    private static void kernel4x2T(int kc, float[] a, int a0, int lda, float[] pb, int bo, float[] t, int to, int ldt) {
        FloatVector c00 = FloatVector.zero(S), c01 = FloatVector.zero(S);
        FloatVector c10 = FloatVector.zero(S), c11 = FloatVector.zero(S);
        FloatVector c20 = FloatVector.zero(S), c21 = FloatVector.zero(S);
        FloatVector c30 = FloatVector.zero(S), c31 = FloatVector.zero(S);
        for (int p = 0; p < kc; p++) {
            int ai = a0 + p * lda, bi = bo + p * NR;
            FloatVector b0 = FloatVector.fromArray(S, pb, bi), b1 = FloatVector.fromArray(S, pb, bi + VL);
            FloatVector x = FloatVector.broadcast(S, a[ai]);
            c00 = x.fma(b0, c00); c01 = x.fma(b1, c01);
            x = FloatVector.broadcast(S, a[ai + 1]);
            c10 = x.fma(b0, c10); c11 = x.fma(b1, c11);
            x = FloatVector.broadcast(S, a[ai + 2]);
            c20 = x.fma(b0, c20); c21 = x.fma(b1, c21);
            x = FloatVector.broadcast(S, a[ai + 3]);
            c30 = x.fma(b0, c30); c31 = x.fma(b1, c31);
        }
        c00.intoArray(t, to); c01.intoArray(t, to + VL);
        c10.intoArray(t, to + ldt); c11.intoArray(t, to + ldt + VL);
        c20.intoArray(t, to + 2 * ldt); c21.intoArray(t, to + 2 * ldt + VL);
        c30.intoArray(t, to + 3 * ldt); c31.intoArray(t, to + 3 * ldt + VL);
    }

    private static void kernel6x4T(int kc, float[] a, int a0, int lda, float[] pb, int bo, float[] t, int to, int ldt) {
        FloatVector c00 = FloatVector.zero(S), c01 = FloatVector.zero(S), c02 = FloatVector.zero(S), c03 = FloatVector.zero(S);
        FloatVector c10 = FloatVector.zero(S), c11 = FloatVector.zero(S), c12 = FloatVector.zero(S), c13 = FloatVector.zero(S);
        FloatVector c20 = FloatVector.zero(S), c21 = FloatVector.zero(S), c22 = FloatVector.zero(S), c23 = FloatVector.zero(S);
        FloatVector c30 = FloatVector.zero(S), c31 = FloatVector.zero(S), c32 = FloatVector.zero(S), c33 = FloatVector.zero(S);
        FloatVector c40 = FloatVector.zero(S), c41 = FloatVector.zero(S), c42 = FloatVector.zero(S), c43 = FloatVector.zero(S);
        FloatVector c50 = FloatVector.zero(S), c51 = FloatVector.zero(S), c52 = FloatVector.zero(S), c53 = FloatVector.zero(S);
        for (int p = 0; p < kc; p++) {
            int ai = a0 + p * lda, bi = bo + p * NR;
            FloatVector b0 = FloatVector.fromArray(S, pb, bi), b1 = FloatVector.fromArray(S, pb, bi + VL);
            FloatVector b2 = FloatVector.fromArray(S, pb, bi + 2 * VL), b3 = FloatVector.fromArray(S, pb, bi + 3 * VL);
            FloatVector x = FloatVector.broadcast(S, a[ai]);
            c00 = x.fma(b0, c00); c01 = x.fma(b1, c01); c02 = x.fma(b2, c02); c03 = x.fma(b3, c03);
            x = FloatVector.broadcast(S, a[ai + 1]);
            c10 = x.fma(b0, c10); c11 = x.fma(b1, c11); c12 = x.fma(b2, c12); c13 = x.fma(b3, c13);
            x = FloatVector.broadcast(S, a[ai + 2]);
            c20 = x.fma(b0, c20); c21 = x.fma(b1, c21); c22 = x.fma(b2, c22); c23 = x.fma(b3, c23);
            x = FloatVector.broadcast(S, a[ai + 3]);
            c30 = x.fma(b0, c30); c31 = x.fma(b1, c31); c32 = x.fma(b2, c32); c33 = x.fma(b3, c33);
            x = FloatVector.broadcast(S, a[ai + 4]);
            c40 = x.fma(b0, c40); c41 = x.fma(b1, c41); c42 = x.fma(b2, c42); c43 = x.fma(b3, c43);
            x = FloatVector.broadcast(S, a[ai + 5]);
            c50 = x.fma(b0, c50); c51 = x.fma(b1, c51); c52 = x.fma(b2, c52); c53 = x.fma(b3, c53);
        }
        c00.intoArray(t, to); c01.intoArray(t, to + VL); c02.intoArray(t, to + 2 * VL); c03.intoArray(t, to + 3 * VL);
        c10.intoArray(t, to + ldt); c11.intoArray(t, to + ldt + VL); c12.intoArray(t, to + ldt + 2 * VL); c13.intoArray(t, to + ldt + 3 * VL);
        c20.intoArray(t, to + 2 * ldt); c21.intoArray(t, to + 2 * ldt + VL);
        c22.intoArray(t, to + 2 * ldt + 2 * VL); c23.intoArray(t, to + 2 * ldt + 3 * VL);
        c30.intoArray(t, to + 3 * ldt); c31.intoArray(t, to + 3 * ldt + VL);
        c32.intoArray(t, to + 3 * ldt + 2 * VL); c33.intoArray(t, to + 3 * ldt + 3 * VL);
        c40.intoArray(t, to + 4 * ldt); c41.intoArray(t, to + 4 * ldt + VL);
        c42.intoArray(t, to + 4 * ldt + 2 * VL); c43.intoArray(t, to + 4 * ldt + 3 * VL);
        c50.intoArray(t, to + 5 * ldt); c51.intoArray(t, to + 5 * ldt + VL);
        c52.intoArray(t, to + 5 * ldt + 2 * VL); c53.intoArray(t, to + 5 * ldt + 3 * VL);
    }

    /** {@link #kernel6x2} for a transposed A, as {@link #kernelT}. */
    private static void kernel6x2T(int kc, float[] a, int a0, int lda, float[] pb, int bo, float[] t, int to, int ldt) {
        FloatVector c00 = FloatVector.zero(S), c01 = FloatVector.zero(S), c10 = FloatVector.zero(S), c11 = FloatVector.zero(S);
        FloatVector c20 = FloatVector.zero(S), c21 = FloatVector.zero(S), c30 = FloatVector.zero(S), c31 = FloatVector.zero(S);
        FloatVector c40 = FloatVector.zero(S), c41 = FloatVector.zero(S), c50 = FloatVector.zero(S), c51 = FloatVector.zero(S);
        for (int p = 0; p < kc; p++) {
            int ai = a0 + p * lda, bi = bo + p * NR;
            FloatVector b0 = FloatVector.fromArray(S, pb, bi), b1 = FloatVector.fromArray(S, pb, bi + VL);
            FloatVector x = FloatVector.broadcast(S, a[ai]);
            c00 = x.fma(b0, c00); c01 = x.fma(b1, c01);
            x = FloatVector.broadcast(S, a[ai + 1]);
            c10 = x.fma(b0, c10); c11 = x.fma(b1, c11);
            x = FloatVector.broadcast(S, a[ai + 2]);
            c20 = x.fma(b0, c20); c21 = x.fma(b1, c21);
            x = FloatVector.broadcast(S, a[ai + 3]);
            c30 = x.fma(b0, c30); c31 = x.fma(b1, c31);
            x = FloatVector.broadcast(S, a[ai + 4]);
            c40 = x.fma(b0, c40); c41 = x.fma(b1, c41);
            x = FloatVector.broadcast(S, a[ai + 5]);
            c50 = x.fma(b0, c50); c51 = x.fma(b1, c51);
        }
        c00.intoArray(t, to); c01.intoArray(t, to + VL);
        c10.intoArray(t, to + ldt); c11.intoArray(t, to + ldt + VL);
        c20.intoArray(t, to + 2 * ldt); c21.intoArray(t, to + 2 * ldt + VL);
        c30.intoArray(t, to + 3 * ldt); c31.intoArray(t, to + 3 * ldt + VL);
        c40.intoArray(t, to + 4 * ldt); c41.intoArray(t, to + 4 * ldt + VL);
        c50.intoArray(t, to + 5 * ldt); c51.intoArray(t, to + 5 * ldt + VL);
    }

    /**
     * {@code c = acc * alpha} when beta is 0 (c's old value, even NaN, ignored), else
     * {@code c = fma(acc, alpha, c * beta)}, over len elements; vector body and scalar tail round alike.
     */
    private static void combine(float[] acc, int ao, float[] c, int co, int len, float alpha, float beta) {
        int j = 0;
        if (beta == 0f) {
            for (; j <= len - VL; j += VL) FloatVector.fromArray(S, acc, ao + j).mul(alpha).intoArray(c, co + j);
            for (; j < len; j++) c[co + j] = acc[ao + j] * alpha;
        } else {
            FloatVector va = FloatVector.broadcast(S, alpha);
            for (; j <= len - VL; j += VL) {
                FloatVector old = FloatVector.fromArray(S, c, co + j).mul(beta);
                FloatVector.fromArray(S, acc, ao + j).fma(va, old).intoArray(c, co + j);
            }
            for (; j < len; j++) c[co + j] = Math.fma(acc[ao + j], alpha, c[co + j] * beta);
        }
    }

    /**
     * Packs micro-panels [q0, q1) of depth [p0, p0 + kc) and columns [j0, j0 + nc) of op(B) as pb[panel][k][NR],
     * zero-padded.
     */
    private static void packB(float[] b, int bOff, int n, int k, boolean transB, int p0, int kc, int j0, int nc,
                              int q0, int q1, float[] pb, int pbOff) {
        for (int q = q0; q < q1; q++) {
            int jr = q * NR, cols = Math.min(NR, nc - jr);
            int dst = pbOff + q * kc * NR;
            if (!transB) {
                for (int p = 0; p < kc; p++) {
                    int src = bOff + (p0 + p) * n + j0 + jr, d = dst + p * NR;
                    if (cols == NR) {
                        for (int v = 0; v < NR; v += VL) FloatVector.fromArray(S, b, src + v).intoArray(pb, d + v);
                    } else {
                        System.arraycopy(b, src, pb, d, cols);
                        Arrays.fill(pb, d + cols, d + NR, 0f);
                    }
                }
                continue;
            }
            int j = 0;
            for (; j + 8 <= cols; j += 8) { // eight rows of b at a time, so that the writes are contiguous
                int s = bOff + (j0 + jr + j) * k + p0;
                for (int p = 0, d = dst + j; p < kc; p++, d += NR) {
                    pb[d] = b[s + p];
                    pb[d + 1] = b[s + k + p];
                    pb[d + 2] = b[s + 2 * k + p];
                    pb[d + 3] = b[s + 3 * k + p];
                    pb[d + 4] = b[s + 4 * k + p];
                    pb[d + 5] = b[s + 5 * k + p];
                    pb[d + 6] = b[s + 6 * k + p];
                    pb[d + 7] = b[s + 7 * k + p];
                }
            }
            for (; j < cols; j++) {
                int s = bOff + (j0 + jr + j) * k + p0;
                for (int p = 0; p < kc; p++) pb[dst + p * NR + j] = b[s + p];
            }
            for (; j < NR; j++)
                for (int p = 0; p < kc; p++) pb[dst + p * NR + j] = 0f;
        }
    }

    // ---- direct paths (fewer than SMALL_M rows) ------------------------------------------------------------------

    /** Rows [r0, r1), columns [c0, c1) straight from A and B (b is k x n), with the packed path's arithmetic. */
    private static void direct(int m, int n, int k, float[] a, int aOff, boolean transA, float[] b, int bOff,
                               float[] c, int cOff, int r0, int r1, int c0, int c1, float alpha, float beta) {
        float[] t = SCRATCH.get().tile;
        int aRow = transA ? 1 : k, aCol = transA ? m : 1;
        for (int i = r0; i < r1; i++) {
            int ci = cOff + i * n;
            for (int pc = 0; pc < k; pc += KC) {
                int kc = Math.min(KC, k - pc);
                float betaEff = pc == 0 ? beta : 1f;
                int ap = aOff + i * aRow + pc * aCol, bp = bOff + pc * n;
                int j = c0;
                for (; j + DR <= c1; j += DR) {
                    directTile(kc, a, ap, aCol, b, bp + j, n, t);
                    combine(t, 0, c, ci + j, DR, alpha, betaEff);
                }
                for (; j < c1; j++) {
                    float s = 0f;
                    for (int p = 0; p < kc; p++) s = Math.fma(a[ap + p * aCol], b[bp + p * n + j], s);
                    c[ci + j] = betaEff == 0f ? s * alpha : Math.fma(s, alpha, c[ci + j] * betaEff);
                }
            }
        }
    }

    /** Columns of a direct tile: two vectors (one row of A is memory-bound; wider buys nothing). */
    private static final int DR = 2 * VL;

    /** One row of A times DR columns of B over kc steps of k, into t[0, DR). */
    private static void directTile(int kc, float[] a, int ao, int aStep, float[] b, int bo, int ldb, float[] t) {
        FloatVector s0 = FloatVector.zero(S), s1 = FloatVector.zero(S);
        for (int p = 0; p < kc; p++) {
            FloatVector x = FloatVector.broadcast(S, a[ao + p * aStep]);
            int o = bo + p * ldb;
            s0 = x.fma(FloatVector.fromArray(S, b, o), s0);
            s1 = x.fma(FloatVector.fromArray(S, b, o + VL), s1);
        }
        s0.intoArray(t, 0);
        s1.intoArray(t, VL);
    }

    /**
     * Rows [r0, r1), columns [c0, c1) with b stored n x k: dot products along rows of b, eight independent scalar
     * fma chains at a time, each in order of k as in the packed path (so no transposing pack of B for one row).
     */
    private static void directT(int m, int n, int k, float[] a, int aOff, boolean transA, float[] b, int bOff,
                                float[] c, int cOff, int r0, int r1, int c0, int c1, float alpha, float beta) {
        float[] t = SCRATCH.get().tile;
        int aRow = transA ? 1 : k, aCol = transA ? m : 1;
        for (int i = r0; i < r1; i++) {
            int ci = cOff + i * n;
            for (int pc = 0; pc < k; pc += KC) {
                int kc = Math.min(KC, k - pc);
                float betaEff = pc == 0 ? beta : 1f;
                int ap = aOff + i * aRow + pc * aCol;
                int j = c0;
                for (; j + 8 <= c1; j += 8) {
                    int bo = bOff + j * k + pc;
                    float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f, s4 = 0f, s5 = 0f, s6 = 0f, s7 = 0f;
                    for (int p = 0; p < kc; p++) {
                        float x = a[ap + p * aCol];
                        s0 = Math.fma(x, b[bo + p], s0);
                        s1 = Math.fma(x, b[bo + k + p], s1);
                        s2 = Math.fma(x, b[bo + 2 * k + p], s2);
                        s3 = Math.fma(x, b[bo + 3 * k + p], s3);
                        s4 = Math.fma(x, b[bo + 4 * k + p], s4);
                        s5 = Math.fma(x, b[bo + 5 * k + p], s5);
                        s6 = Math.fma(x, b[bo + 6 * k + p], s6);
                        s7 = Math.fma(x, b[bo + 7 * k + p], s7);
                    }
                    t[0] = s0; t[1] = s1; t[2] = s2; t[3] = s3; t[4] = s4; t[5] = s5; t[6] = s6; t[7] = s7;
                    combine(t, 0, c, ci + j, 8, alpha, betaEff);
                }
                for (; j < c1; j++) {
                    int bo = bOff + j * k + pc;
                    float s = 0f;
                    for (int p = 0; p < kc; p++) s = Math.fma(a[ap + p * aCol], b[bo + p], s);
                    c[ci + j] = betaEff == 0f ? s * alpha : Math.fma(s, alpha, c[ci + j] * betaEff);
                }
            }
        }
    }
}
