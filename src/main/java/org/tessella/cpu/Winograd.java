package org.tessella.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * 3x3 stride-1 pad-1 convolutions (forward, input gradient, weight gradient) by Winograd's minimal filtering
 * F(4x4, 3x3) (Lavin and Gray, 2016): each 4 x 4 block of outputs comes from a 6 x 6 input tile as
 * {@code Y = A^T [(G g G^T) . (B^T d B)] A}, 36 multiplies per channel pair where the direct form needs 144. The
 * products of one of the 36 transformed positions (xi) over all channels are a GEMM, so a convolution becomes 36 GEMMs
 * of [tiles x C] x [C x O] between two cheap transforms: a quarter of the direct multiply-adds.
 *
 * <p>Layout. Tiles (image, tile row, tile column) are taken in blocks of whole tile rows, about {@link #BLOCK} tiles;
 * a unit of work first copies the 6-row bands its tiles read, channels last and zero padded, into its thread's buffer
 * (VL x VL blocks transposed in vectors), so that a tile's 36 pixels are 36 contiguous channel vectors and the
 * transforms run on whole vectors of channels with no bounds checks. It then transforms its tiles (V[xi][tile][c]),
 * runs the 36 GEMMs against the transformed weights (U[xi][c][o], made once per call, in double, then rounded, and
 * stored as {@link Gemm}'s packed B, so that its micro-kernel runs them) into M[xi][tile][o], transforms M back into channels-last output rows and transposes those into the NCHW output, all in
 * cache. The input gradient is the same convolution of gy with the weights transposed and flipped. The weight gradient
 * transforms x's tiles (as forward) and gy's 4 x 4 blocks ({@code Z = A gy A^T}), accumulates
 * {@code S[xi][c][o] += V[xi]^T Z[xi]} over its image group's tiles, and returns {@code gw = G^T S G} of the groups'
 * sum.
 *
 * <p>Speed (2 AVX-512 Zen 4 threads, vq-s's 64-channel 32 x 32 layer at batch 64): forward 26 -> 14 ms, input gradient
 * 25 -> 14, weight gradient 34 -> 19 (the direct kernels at 75-85% of the FMA peak before). The GEMMs take about 40%
 * of the time, the transforms and layout copies the rest: they are bound by the cache traffic of 512-bit loads and
 * stores, which on the Java heap are not 64-byte aligned.
 *
 * <p>Accuracy: F(4x4, 3x3) rounds more than the direct sum (the transforms scale by up to 8 and 1/24); on unit-scale
 * random data the outputs differ from a double-precision reference by about 1e-6 relative to their scale, the
 * gradients likewise (ConvTest checks all three passes against the direct kernels).
 *
 * <p>Determinism: which path runs depends on the shape only ({@link #applies}: channels a multiple of 16, so every
 * vector width splits them into whole vectors). Every transform is the same IEEE operations on each channel lane; every
 * transformed product is one fma chain over channels in order (forward) or over the group's tiles in order (weight
 * gradient), however tiles are blocked; the weight gradient's image groups are fixed by the shape and added in group
 * order. So the bits do not depend on the thread count or the vector width. {@code -Dtessella.cpu.winograd=false}
 * turns the path off (the direct kernels then run: other bits), and {@link CpuBackend#withReferenceKernels} does so
 * for one thread's calls: the reference that other backends' checks compare with.
 */
final class Winograd {
    private Winograd() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int VL = S.length();
    /** Transformed positions per tile (6 x 6). */
    private static final int XI = 36;
    /** Channels must be a multiple of this (a shape rule, the same on every machine). */
    static final int CHANNEL_MULTIPLE = 16;
    /** GEMM tile, Gemm's: MR rows (tiles, or input channels in the weight gradient) by NV vectors of output channels. */
    private static final int MR = Gemm.MR, NV = Gemm.NR / VL;
    /** Output channels per panel of U: Gemm's micro-panel width, so that its kernel runs the products. */
    private static final int PW = NV * VL;
    /** Tiles per unit of work: its V and M stay in L2 beside one channel pair's U (a multiple of both MRs). */
    private static final int BLOCK = 24;
    /**
     * Most image groups in the weight gradient, and most accumulator floats over all groups (32 MB, so that the
     * 128-channel layers get 8 groups: with 7 under a 16 MB cap, 2 threads split them 4 / 3 and 16 threads left 9 idle).
     */
    private static final int MAX_GROUPS = 16, GROUP_FLOATS = 1 << 23;

    private static final FloatVector TWO = FloatVector.broadcast(S, 2f), FOUR = FloatVector.broadcast(S, 4f);
    private static final FloatVector EIGHT = FloatVector.broadcast(S, 8f), MINUS_FOUR = FloatVector.broadcast(S, -4f);
    private static final FloatVector MINUS_FIVE = FloatVector.broadcast(S, -5f);

    static final boolean ENABLED = !"false".equals(System.getProperty("tessella.cpu.winograd"));

    /** G (6 x 3) of F(4x4, 3x3): U = G g G^T. */
    private static final double[][] G = {
            {1 / 4.0, 0, 0}, {-1 / 6.0, -1 / 6.0, -1 / 6.0}, {-1 / 6.0, 1 / 6.0, -1 / 6.0},
            {1 / 24.0, 1 / 12.0, 1 / 6.0}, {1 / 24.0, -1 / 12.0, 1 / 6.0}, {0, 0, 1}};

    /** Threads that asked for the direct kernels ({@link CpuBackend#withReferenceKernels}). */
    static final ThreadLocal<boolean[]> DIRECT = ThreadLocal.withInitial(() -> new boolean[1]);

    /** Whether a convolution with these channels, kernel, stride and padding runs here. */
    static boolean applies(int c, int o, int kh, int kw, int stride, int pad) {
        return ENABLED && kh == 3 && kw == 3 && stride == 1 && pad == 1
                && c % CHANNEL_MULTIPLE == 0 && o % CHANNEL_MULTIPLE == 0 && !DIRECT.get()[0];
    }

    /** Tile geometry of an h x w plane: th x tw tiles; a band (a tile row's 6 padded rows) is wp pixels wide. */
    private record Tiles(int n, int h, int w, int th, int tw, int wp) {
        static Tiles of(int n, int h, int w) {
            int th = (h + 3) / 4, tw = (w + 3) / 4;
            return new Tiles(n, h, w, th, tw, 4 * tw + 2);
        }
        int count() { return n * th * tw; }
        int perImage() { return th * tw; }
        /** Floats of one tile row's 6 padded rows, channels last. */
        int bandSize(int ch) { return 6 * wp * ch; }
        /** Tiles per block: whole tile rows, about BLOCK tiles (at least one row). */
        int bt() { return Math.max(1, BLOCK / tw) * tw; }
        /** Tile rows (bands) per block. */
        int bandsPerBlock() { return bt() / tw; }
    }

    private static final class Scratch {
        float[] v = new float[0], m = new float[0], tb = new float[0], bands = new float[0], gBands = new float[0];
        final float[] tmp = new float[XI * VL], tile = new float[MR * NV * VL], square = new float[VL * VL];

        float[] v(int len) { return v.length >= len + SLACK ? v : (v = new float[len + SLACK]); }
        float[] m(int len) { return m.length >= len + SLACK ? m : (m = new float[len + SLACK]); }
        float[] bands(int len) { return bands.length >= len ? bands : (bands = new float[len]); }
        float[] gBands(int len) { return gBands.length >= len ? gBands : (gBands = new float[len]); }
        float[] tb(int len) { return tb.length >= len ? tb : (tb = new float[len]); }
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);
    /** The calling thread's large buffers, grown as needed: the weight gradient's accumulators, the transformed weights. */
    private static final int ACCUMULATORS = 0, WEIGHTS = 1;
    private static final ThreadLocal<float[][]> CALLER = ThreadLocal.withInitial(() -> new float[2][0]);

    /** Floats past the end of every buffer a kernel reads, for the partial tiles' over-reads. */
    private static final int SLACK = 2 * NV * VL + 8;

    private static float[] callerBuffer(int slot, long len) {
        len += SLACK;
        if (len > Integer.MAX_VALUE - 16) throw new IllegalArgumentException("conv2d: Winograd buffer too large (" + len + " floats)");
        float[][] b = CALLER.get();
        if (b[slot].length < len) b[slot] = new float[(int) len];
        return b[slot];
    }

    // ---- the three passes ----------------------------------------------------------------------------------------

    /** y [n, o, h, w] = conv(x [n, c, h, w], w [o, c, 3, 3], pad 1) + bias. */
    static void forward(float[] x, int xOff, int n, int c, int h, int w, float[] wt, int wOff, int o,
                        float[] bias, int biasOff, float[] y, int yOff) {
        Tiles g = Tiles.of(n, h, w);
        float[] u = transformWeights(wt, wOff, o, c, false);
        convolve(x, xOff, c, g, u, o, bias, biasOff, y, yOff);
    }

    /** gx [n, c, h, w] = the input gradient of {@link #forward} for gy [n, o, h, w]. */
    static void backwardInput(float[] gy, int gyOff, int n, int o, int h, int w, float[] wt, int wOff, int c,
                              float[] gx, int gxOff) {
        Tiles g = Tiles.of(n, h, w);
        float[] u = transformWeights(wt, wOff, o, c, true);
        convolve(gy, gyOff, o, g, u, c, null, 0, gx, gxOff);
    }

    /** gw [o, c, 3, 3] = the weight gradient of {@link #forward}, summed over the batch. */
    static void backwardWeight(float[] gy, int gyOff, float[] x, int xOff, int n, int c, int h, int w, int o,
                               float[] gw, int gwOff) {
        Tiles g = Tiles.of(n, h, w);
        int groups = groups(n, c, o);
        long per = (long) XI * c * o;
        float[] acc = callerBuffer(ACCUMULATORS, groups * per);
        int ipg = (n + groups - 1) / groups; // images per group: the first groups take ipg, the last what is left
        WorkerPool.global().parallelFor(groups, 1, (s, e) -> {
            Scratch sc = SCRATCH.get();
            for (int q = s; q < e; q++) {
                int accOff = (int) (q * per);
                java.util.Arrays.fill(acc, accOff, (int) (accOff + per), 0f);
                int t0 = Math.min(n, q * ipg) * g.perImage(), t1 = Math.min(n, (q + 1) * ipg) * g.perImage();
                for (int b0 = t0; b0 < t1; b0 += g.bt())
                    accumulateBlock(x, xOff, gy, gyOff, c, o, g, b0, Math.min(g.bt(), t1 - b0), acc, accOff, sc);
            }
        });
        // gw[o][c] = G^T S G, S = the sum over groups, in group order, of each group's S[xi][c][o]; the transform on
        // vectors of output channels (float fma chains in a fixed order: the same on every lane and vector width)
        WorkerPool.global().parallelFor(c, Math.max(1, 1024 / o), (s, e) -> {
            float[] rows = new float[XI * o], t = new float[18 * VL], out = new float[9 * VL];
            for (int ch = s; ch < e; ch++) {
                for (int xi = 0; xi < XI; xi++) {
                    int src = (xi * c + ch) * o;
                    System.arraycopy(acc, src, rows, xi * o, o);
                    for (int q = 1; q < groups; q++) addTo(acc, (int) (q * per) + src, rows, xi * o, o);
                }
                for (int o0 = 0; o0 < o; o0 += VL) {
                    for (int a = 0; a < 3; a++) // t = G^T S (3 x 6)
                        for (int j = 0; j < 6; j++) {
                            FloatVector v = FloatVector.zero(S);
                            for (int i = 0; i < 6; i++) v = FloatVector.fromArray(S, rows, (i * 6 + j) * o + o0).fma(FloatVector.broadcast(S, GF[i][a]), v);
                            v.intoArray(t, (a * 6 + j) * VL);
                        }
                    for (int a = 0; a < 3; a++) // gw = t G (3 x 3)
                        for (int b = 0; b < 3; b++) {
                            FloatVector v = FloatVector.zero(S);
                            for (int j = 0; j < 6; j++) v = FloatVector.fromArray(S, t, (a * 6 + j) * VL).fma(FloatVector.broadcast(S, GF[j][b]), v);
                            v.intoArray(out, (a * 3 + b) * VL);
                        }
                    for (int l = 0; l < VL; l++) {
                        int d = gwOff + ((o0 + l) * c + ch) * 9;
                        for (int ab = 0; ab < 9; ab++) gw[d + ab] = out[ab * VL + l];
                    }
                }
            }
        });
    }

    /** G in float, for the weight gradient's back-transform. */
    private static final float[][] GF = new float[6][3];
    static {
        for (int i = 0; i < 6; i++) for (int a = 0; a < 3; a++) GF[i][a] = (float) G[i][a];
    }

    /** {@code dst[d + i] += src[s + i]} for i in [0, len), len a multiple of the vector length. */
    private static void addTo(float[] src, int s, float[] dst, int d, int len) {
        for (int i = 0; i < len; i += VL)
            FloatVector.fromArray(S, dst, d + i).add(FloatVector.fromArray(S, src, s + i)).intoArray(dst, d + i);
    }

    /** Image groups of the weight gradient: by the shape alone, a power of two, at most 16 and 32 MB of accumulators. */
    static int groups(int n, int c, int o) {
        int most = Math.max(1, Math.min(n, Math.min(MAX_GROUPS, GROUP_FLOATS / (XI * c * o))));
        return Integer.highestOneBit(most); // a power of two, so that 2, 4, 8 or 16 threads share the groups evenly
    }

    // ---- layout --------------------------------------------------------------------------------------------------

    /**
     * Copies, channels last and zero padded, the 6-row bands of the tile rows [band0, band1] (tile row = image * th +
     * tile row in the image) of src [n, ch, h, w] into buf: band j holds padded rows 4*ti .. 4*ti + 5 (image rows
     * 4*ti - 1 .. 4*ti + 4), each wp pixels of ch channels, pixel (r, q) at padded column q + 1. Done per block, so the
     * copy stays in cache for the transforms that read it (neighbouring bands share two rows, copied twice).
     */
    private static void copyBands(float[] src, int off, int ch, Tiles g, int band0, int band1, float[] buf, float[] t) {
        copyBands(src, off, ch, g, band0, band1, 6, -1, buf, t);
    }

    /**
     * The same with bands of {@code height} rows from image row {@code 4*ti + first} (the weight gradient reads gy's
     * 4 x 4 blocks from bands of 4 rows, first 0: a third fewer rows copied than the 6-row windows of x).
     */
    private static void copyBands(float[] src, int off, int ch, Tiles g, int band0, int band1, int height, int first,
                                  float[] buf, float[] t) {
        int h = g.h(), w = g.w(), wp = g.wp(), hw = h * w, rowSize = wp * ch, k = rowsPerRun(w);
        for (int band = band0, db = 0; band <= band1; band++, db += height * rowSize) {
            int img = band / g.th(), top = band % g.th() * 4 + first;
            for (int rr = 0; rr < height; ) {
                int r = top + rr, d = db + rr * rowSize, line = off + img * ch * hw + r * w;
                if (r < 0 || r >= h) {
                    java.util.Arrays.fill(buf, d, d + rowSize, 0f);
                    rr++;
                    continue;
                }
                // rows as runs of VL pixels: one row's VL-pixel pieces, or k whole rows (short rows) at once
                int rows = k == 1 ? 1 : k > 1 && rr + k <= height && r + k <= h ? k : 0;
                for (int i = 0; i < Math.max(1, rows); i++) {
                    java.util.Arrays.fill(buf, d + i * rowSize, d + i * rowSize + ch, 0f);
                    java.util.Arrays.fill(buf, d + i * rowSize + (w + 1) * ch, d + (i + 1) * rowSize, 0f);
                }
                if (rows == 0) { // a row that is no whole number of vectors, nor part of a run
                    for (int c = 0; c < ch; c++)
                        for (int q = 0, o = d + ch + c, sp = line + c * hw; q < w; q++) buf[o + q * ch] = src[sp + q];
                    rr++;
                    continue;
                }
                // VL channels at a time along the row(s): 16 planes read at once, where pixels outermost interleaved
                // all ch planes (the 64-channel 32 x 32 layers' forward and input gradient 1.1x faster)
                for (int c0 = 0; c0 < ch; c0 += VL) // pixel p of the run: row p / w, column p % w
                    for (int p0 = 0; p0 < rows * w; p0 += VL) {
                        transposeCopy(src, line + c0 * hw + p0, hw, buf, d + p0 / w * rowSize + (p0 % w + 1) * ch + c0,
                                ch, Math.min(w, VL), rowSize, t);
                    }
                rr += rows;
            }
        }
    }

    /**
     * Image rows per run of VL pixels in the layout copies: 1 where a row is whole vectors, VL / w where w divides the
     * vector length (several short rows, contiguous in NCHW, make one vector), else 0 (scalar copies).
     */
    private static int rowsPerRun(int w) {
        return w % VL == 0 ? 1 : VL % w == 0 && w % 4 == 0 ? VL / w : 0;
    }

    /**
     * Copies a VL x VL block transposed: source row i (VL floats at {@code s0 + i*ss}) becomes lane i of every destination
     * row j, which starts at {@code d0 + (j % wr)*ds + (j / wr)*dj} (wr rows of ds apart, then a
     * jump of dj: several short image rows in one vector). With 16 lanes all in registers (straight-line rounds of
     * {@link #transpose}); the 4 rounds went through memory before, 96 stores a block where this makes 16, and the
     * copies were 15% of a vq-s step (JFR samples). Other widths go through t.
     */
    static void transposeCopy(float[] src, int s0, int ss, float[] dst, int d0, int ds, int wr, int dj, float[] t) {
        if (VL != 16) {
            for (int i = 0; i < VL; i++) FloatVector.fromArray(S, src, s0 + i * ss).intoArray(t, i * VL);
            transpose(t);
            for (int j = 0; j < VL; j++) FloatVector.fromArray(S, t, j * VL).intoArray(dst, d0 + j % wr * ds + j / wr * dj);
            return;
        }
        FloatVector r0 = FloatVector.fromArray(S, src, s0), r1 = FloatVector.fromArray(S, src, s0 + ss);
        FloatVector r2 = FloatVector.fromArray(S, src, s0 + 2 * ss), r3 = FloatVector.fromArray(S, src, s0 + 3 * ss);
        FloatVector r4 = FloatVector.fromArray(S, src, s0 + 4 * ss), r5 = FloatVector.fromArray(S, src, s0 + 5 * ss);
        FloatVector r6 = FloatVector.fromArray(S, src, s0 + 6 * ss), r7 = FloatVector.fromArray(S, src, s0 + 7 * ss);
        FloatVector r8 = FloatVector.fromArray(S, src, s0 + 8 * ss), r9 = FloatVector.fromArray(S, src, s0 + 9 * ss);
        FloatVector r10 = FloatVector.fromArray(S, src, s0 + 10 * ss), r11 = FloatVector.fromArray(S, src, s0 + 11 * ss);
        FloatVector r12 = FloatVector.fromArray(S, src, s0 + 12 * ss), r13 = FloatVector.fromArray(S, src, s0 + 13 * ss);
        FloatVector r14 = FloatVector.fromArray(S, src, s0 + 14 * ss), r15 = FloatVector.fromArray(S, src, s0 + 15 * ss);
        FloatVector lo, hi, a, b;
        lo = FloatVector.fromArray(S, SELECT, 0); hi = FloatVector.fromArray(S, SELECT, 1 * VL);
        a = r0; b = r1; r0 = lo.selectFrom(a, b); r1 = hi.selectFrom(a, b);
        a = r2; b = r3; r2 = lo.selectFrom(a, b); r3 = hi.selectFrom(a, b);
        a = r4; b = r5; r4 = lo.selectFrom(a, b); r5 = hi.selectFrom(a, b);
        a = r6; b = r7; r6 = lo.selectFrom(a, b); r7 = hi.selectFrom(a, b);
        a = r8; b = r9; r8 = lo.selectFrom(a, b); r9 = hi.selectFrom(a, b);
        a = r10; b = r11; r10 = lo.selectFrom(a, b); r11 = hi.selectFrom(a, b);
        a = r12; b = r13; r12 = lo.selectFrom(a, b); r13 = hi.selectFrom(a, b);
        a = r14; b = r15; r14 = lo.selectFrom(a, b); r15 = hi.selectFrom(a, b);
        lo = FloatVector.fromArray(S, SELECT, 2 * VL); hi = FloatVector.fromArray(S, SELECT, 3 * VL);
        a = r0; b = r2; r0 = lo.selectFrom(a, b); r2 = hi.selectFrom(a, b);
        a = r1; b = r3; r1 = lo.selectFrom(a, b); r3 = hi.selectFrom(a, b);
        a = r4; b = r6; r4 = lo.selectFrom(a, b); r6 = hi.selectFrom(a, b);
        a = r5; b = r7; r5 = lo.selectFrom(a, b); r7 = hi.selectFrom(a, b);
        a = r8; b = r10; r8 = lo.selectFrom(a, b); r10 = hi.selectFrom(a, b);
        a = r9; b = r11; r9 = lo.selectFrom(a, b); r11 = hi.selectFrom(a, b);
        a = r12; b = r14; r12 = lo.selectFrom(a, b); r14 = hi.selectFrom(a, b);
        a = r13; b = r15; r13 = lo.selectFrom(a, b); r15 = hi.selectFrom(a, b);
        lo = FloatVector.fromArray(S, SELECT, 4 * VL); hi = FloatVector.fromArray(S, SELECT, 5 * VL);
        a = r0; b = r4; r0 = lo.selectFrom(a, b); r4 = hi.selectFrom(a, b);
        a = r1; b = r5; r1 = lo.selectFrom(a, b); r5 = hi.selectFrom(a, b);
        a = r2; b = r6; r2 = lo.selectFrom(a, b); r6 = hi.selectFrom(a, b);
        a = r3; b = r7; r3 = lo.selectFrom(a, b); r7 = hi.selectFrom(a, b);
        a = r8; b = r12; r8 = lo.selectFrom(a, b); r12 = hi.selectFrom(a, b);
        a = r9; b = r13; r9 = lo.selectFrom(a, b); r13 = hi.selectFrom(a, b);
        a = r10; b = r14; r10 = lo.selectFrom(a, b); r14 = hi.selectFrom(a, b);
        a = r11; b = r15; r11 = lo.selectFrom(a, b); r15 = hi.selectFrom(a, b);
        lo = FloatVector.fromArray(S, SELECT, 6 * VL); hi = FloatVector.fromArray(S, SELECT, 7 * VL);
        a = r0; b = r8; r0 = lo.selectFrom(a, b); r8 = hi.selectFrom(a, b);
        a = r1; b = r9; r1 = lo.selectFrom(a, b); r9 = hi.selectFrom(a, b);
        a = r2; b = r10; r2 = lo.selectFrom(a, b); r10 = hi.selectFrom(a, b);
        a = r3; b = r11; r3 = lo.selectFrom(a, b); r11 = hi.selectFrom(a, b);
        a = r4; b = r12; r4 = lo.selectFrom(a, b); r12 = hi.selectFrom(a, b);
        a = r5; b = r13; r5 = lo.selectFrom(a, b); r13 = hi.selectFrom(a, b);
        a = r6; b = r14; r6 = lo.selectFrom(a, b); r14 = hi.selectFrom(a, b);
        a = r7; b = r15; r7 = lo.selectFrom(a, b); r15 = hi.selectFrom(a, b);
        r0.intoArray(dst, d0);
        r1.intoArray(dst, d0 + 1 % wr * ds + 1 / wr * dj);
        r2.intoArray(dst, d0 + 2 % wr * ds + 2 / wr * dj);
        r3.intoArray(dst, d0 + 3 % wr * ds + 3 / wr * dj);
        r4.intoArray(dst, d0 + 4 % wr * ds + 4 / wr * dj);
        r5.intoArray(dst, d0 + 5 % wr * ds + 5 / wr * dj);
        r6.intoArray(dst, d0 + 6 % wr * ds + 6 / wr * dj);
        r7.intoArray(dst, d0 + 7 % wr * ds + 7 / wr * dj);
        r8.intoArray(dst, d0 + 8 % wr * ds + 8 / wr * dj);
        r9.intoArray(dst, d0 + 9 % wr * ds + 9 / wr * dj);
        r10.intoArray(dst, d0 + 10 % wr * ds + 10 / wr * dj);
        r11.intoArray(dst, d0 + 11 % wr * ds + 11 / wr * dj);
        r12.intoArray(dst, d0 + 12 % wr * ds + 12 / wr * dj);
        r13.intoArray(dst, d0 + 13 % wr * ds + 13 / wr * dj);
        r14.intoArray(dst, d0 + 14 % wr * ds + 14 / wr * dj);
        r15.intoArray(dst, d0 + 15 % wr * ds + 15 / wr * dj);
    }

    /**
     * Transposes the VL x VL floats of t (row i at i*VL) in place, in log2(VL) rounds: round d swaps, in each pair of
     * rows (i, i + d) with bit d of i clear, the lanes with bit d set of row i with those with bit d clear of row
     * i + d (two-vector selects), which is the transpose after the last round.
     */
    private static void transpose(float[] t) {
        for (int d = 1, r = 0; d < VL; d <<= 1, r++) {
            FloatVector lo = FloatVector.fromArray(S, SELECT, 2 * r * VL), hi = FloatVector.fromArray(S, SELECT, (2 * r + 1) * VL);
            for (int i = 0; i < VL; i++)
                if ((i & d) == 0) {
                    FloatVector a = FloatVector.fromArray(S, t, i * VL), b = FloatVector.fromArray(S, t, (i + d) * VL);
                    lo.selectFrom(a, b).intoArray(t, i * VL);
                    hi.selectFrom(a, b).intoArray(t, (i + d) * VL);
                }
        }
    }

    /**
     * Lane indices of {@link #transpose}'s selects, two vectors per round d: lane j of the new row i is a[j] or, where
     * bit d of j is set, b[j - d]; of the new row i + d, a[j + d] or, where it is set, b[j] (b's lanes count from VL).
     */
    private static final float[] SELECT = selectIndices();

    private static float[] selectIndices() {
        int rounds = Integer.numberOfTrailingZeros(VL);
        float[] idx = new float[2 * rounds * VL];
        for (int r = 0; r < rounds; r++) {
            int d = 1 << r;
            for (int j = 0; j < VL; j++) {
                boolean set = (j & d) != 0;
                idx[2 * r * VL + j] = set ? VL + j - d : j;
                idx[(2 * r + 1) * VL + j] = set ? VL + j : j + d;
            }
        }
        return idx;
    }

    /** Where tile t's 6 x 6 window starts in the bands copied from band0 on. */
    private static int windowOffset(Tiles g, int t, int band0, int ch) {
        return (t / g.tw() - band0) * g.bandSize(ch) + t % g.tw() * 4 * ch;
    }

    /** Panels of PW channels that hold m channels (the last one zero padded). */
    private static int panels(int m) { return (m + PW - 1) / PW; }

    /**
     * U[xi][q][k][PW] (caller buffer), Gemm's packed B for each xi: column j of panel q is column q*PW + j of
     * (G g G^T)[xi] for the filter g = w[o][c] with (k, m) = (c, o), or, flipped, for g = w[o][c] rotated by 180
     * degrees with (k, m) = (o, c): the input gradient's convolution. Columns past m are zero.
     */
    private static float[] transformWeights(float[] w, int wOff, int o, int c, boolean flipped) {
        int k = flipped ? o : c, m = flipped ? c : o, panels = panels(m);
        float[] u = callerBuffer(WEIGHTS, (long) XI * panels * k * PW);
        // by rows of U, columns innermost: consecutive filters write adjacent floats of each of the 36 planes (by
        // columns innermost, each write was a different cache line: 3% of a vq-s step). Each stage is a loop over the
        // row's filters on plain arrays, taps first gathered as doubles, so that C2 vectorises the arithmetic (one
        // filter at a time through 3-long loops, the transforms were 3% of a vq-s step again)
        WorkerPool.global().parallelFor(k, Math.max(1, 2048 / m), (s, e) -> {
            double[] taps = new double[9 * m], gg = new double[18 * m];
            for (int row = s; row < e; row++) {
                for (int col = 0; col < m; col++) {
                    int oc = flipped ? row : col, ch = flipped ? col : row, src = wOff + (oc * c + ch) * 9;
                    for (int t = 0; t < 9; t++) taps[t * m + col] = w[src + (flipped ? 8 - t : t)];
                }
                // gg = G g (6 x 3): gg[i][b] = sum over a of G[i][a] g[a][b], in order of a from 0
                for (int i = 0; i < 6; i++)
                    for (int b = 0; b < 3; b++) {
                        double g0 = G[i][0], g1 = G[i][1], g2 = G[i][2];
                        int d = (i * 3 + b) * m, t0 = b * m, t1 = (3 + b) * m, t2 = (6 + b) * m;
                        for (int col = 0; col < m; col++)
                            gg[d + col] = 0.0 + g0 * taps[t0 + col] + g1 * taps[t1 + col] + g2 * taps[t2 + col];
                    }
                // U = gg G^T (6 x 6), rounded to float
                for (int i = 0; i < 6; i++)
                    for (int j = 0; j < 6; j++) {
                        double h0 = G[j][0], h1 = G[j][1], h2 = G[j][2];
                        int a0 = i * 3 * m, a1 = a0 + m, a2 = a0 + 2 * m, xi = i * 6 + j;
                        for (int col = 0; col < m; col++)
                            u[((xi * panels + col / PW) * k + row) * PW + col % PW] =
                                    (float) (gg[a0 + col] * h0 + gg[a1 + col] * h1 + gg[a2 + col] * h2);
                        if (m % PW != 0) {
                            int d = ((xi * panels + panels - 1) * k + row) * PW;
                            java.util.Arrays.fill(u, d + m % PW, d + PW, 0f);
                        }
                    }
            }
        });
        return u;
    }

    // ---- forward-form convolution ------------------------------------------------------------------------------

    /** out [n, m, h, w] = the convolution whose transformed weights are u [XI][panel][k][PW], of the padded source xp. */
    private static void convolve(float[] src, int srcOff, int k, Tiles g, float[] u, int m, float[] bias, int biasOff,
                                 float[] out, int outOff) {
        int bt = g.bt(), blocks = (g.count() + bt - 1) / bt, w4 = 4 * g.tw();
        WorkerPool.global().parallelFor(blocks, 1, (s, e) -> {
            Scratch sc = SCRATCH.get();
            float[] v = sc.v(XI * bt * k), mm = sc.m(XI * bt * m), yb = sc.tb(g.bandsPerBlock() * 4 * w4 * m);
            float[] bands = sc.bands(g.bandsPerBlock() * g.bandSize(k));
            for (int blk = s; blk < e; blk++) {
                int t0 = blk * bt, count = Math.min(bt, g.count() - t0);
                int band0 = t0 / g.tw(), band1 = (t0 + count - 1) / g.tw();
                copyBands(src, srcOff, k, g, band0, band1, bands, sc.square);
                for (int b = 0; b < count; b++) inputTile(bands, windowOffset(g, t0 + b, band0, k), g.wp() * k, k, v, b, bt, sc.tmp);
                for (int xi = 0; xi < XI; xi++) {
                    int vo = xi * bt * k, mo = xi * bt * m, uo = xi * panels(m) * k * PW;
                    for (int c0 = 0; c0 < m; c0 += PW) {
                        int cols = Math.min(PW, m - c0);
                        for (int r0 = 0; r0 < count; r0 += MR) {
                            // Gemm's kernel, B the panel of U: a full tile straight into M, a partial one through the tile
                            int rows = Math.min(MR, count - r0), mi = mo + r0 * m + c0;
                            boolean full = rows == MR && cols == PW;
                            Gemm.kernel(k, v, vo + r0 * k, k, rows, u, uo + c0 / PW * k * PW, full ? mm : sc.tile,
                                    full ? mi : 0, full ? m : PW);
                            if (!full) copyTile(sc.tile, PW, rows, cols / VL, mm, mi, m);
                        }
                    }
                }
                for (int b = 0; b < count; b++) {
                    int band = (t0 + b) / g.tw() - band0, tj = (t0 + b) % g.tw();
                    outputTile(mm, b, bt, m, (band * 4 * w4 + 4 * tj) * m, w4 * m, bias, biasOff, yb, sc.tmp);
                }
                storeBands(yb, g, band0, band1, m, out, outOff, sc.square);
            }
        });
    }

    /**
     * v[xi][b][c] (block of bt tiles) = (B^T d B)[xi] for the tile whose 6 x 6 window starts at xp[base], rows
     * rowStride apart, channels last: rows first, then columns, on vectors of channels.
     */
    private static void inputTile(float[] xp, int base, int rowStride, int ch, float[] v, int b, int bt, float[] tmp) {
        for (int c0 = 0; c0 < ch; c0 += VL) {
            for (int r = 0; r < 6; r++) {
                int p = base + r * rowStride + c0;
                transform6(FloatVector.fromArray(S, xp, p), FloatVector.fromArray(S, xp, p + ch),
                        FloatVector.fromArray(S, xp, p + 2 * ch), FloatVector.fromArray(S, xp, p + 3 * ch),
                        FloatVector.fromArray(S, xp, p + 4 * ch), FloatVector.fromArray(S, xp, p + 5 * ch),
                        tmp, r * 6 * VL, VL);
            }
            for (int j = 0; j < 6; j++) { // column j of the row-transformed tile -> v[(i*6 + j)][b][c0..]
                int t = j * VL;
                int vo = (j * bt + b) * ch + c0, step = 6 * bt * ch;
                transform6(FloatVector.fromArray(S, tmp, t), FloatVector.fromArray(S, tmp, t + 6 * VL),
                        FloatVector.fromArray(S, tmp, t + 12 * VL), FloatVector.fromArray(S, tmp, t + 18 * VL),
                        FloatVector.fromArray(S, tmp, t + 24 * VL), FloatVector.fromArray(S, tmp, t + 30 * VL),
                        v, vo, step);
            }
        }
    }

    /** B^T d for six vectors d0..d5: out[i] at dst[o + i*step]. */
    private static void transform6(FloatVector d0, FloatVector d1, FloatVector d2, FloatVector d3, FloatVector d4,
                                   FloatVector d5, float[] dst, int o, int step) {
        FloatVector t1 = d2.fma(MINUS_FOUR, d4), t2 = d1.fma(MINUS_FOUR, d3);
        FloatVector t3 = d4.sub(d2), t4 = d1.sub(d3).mul(2f);
        d0.fma(FOUR, d2.fma(MINUS_FIVE, d4)).intoArray(dst, o);
        t1.add(t2).intoArray(dst, o + step);
        t1.sub(t2).intoArray(dst, o + 2 * step);
        t3.sub(t4).intoArray(dst, o + 3 * step);
        t3.add(t4).intoArray(dst, o + 4 * step);
        d1.fma(FOUR, d3.fma(MINUS_FIVE, d5)).intoArray(dst, o + 5 * step);
    }

    /**
     * The 4 x 4 outputs of tile b from mm[xi][b][c] (A^T M A, rows first), plus the bias, channels last into the
     * block's output rows yb: output (r, q) of the tile at yb[base + r*ldy + q*m].
     */
    private static void outputTile(float[] mm, int b, int bt, int m, int base, int ldy, float[] bias, int biasOff,
                                   float[] yb, float[] tmp) {
        int step = bt * m;
        for (int c0 = 0; c0 < m; c0 += VL) {
            for (int i = 0; i < 6; i++) { // row i: mm[(i*6 + j)][b] for j = 0..5 -> tmp[i][0..4)
                int p = (i * 6 * bt + b) * m + c0;
                inverse6(FloatVector.fromArray(S, mm, p), FloatVector.fromArray(S, mm, p + step),
                        FloatVector.fromArray(S, mm, p + 2 * step), FloatVector.fromArray(S, mm, p + 3 * step),
                        FloatVector.fromArray(S, mm, p + 4 * step), FloatVector.fromArray(S, mm, p + 5 * step),
                        tmp, i * 4 * VL, VL);
            }
            FloatVector bv = bias == null ? FloatVector.zero(S) : FloatVector.fromArray(S, bias, biasOff + c0);
            for (int j = 0; j < 4; j++) { // column j -> outputs (0..3, j)
                int q = j * VL, o = base + j * m + c0;
                FloatVector y0 = FloatVector.fromArray(S, tmp, q), y1 = FloatVector.fromArray(S, tmp, q + 4 * VL);
                FloatVector y2 = FloatVector.fromArray(S, tmp, q + 8 * VL), y3 = FloatVector.fromArray(S, tmp, q + 12 * VL);
                FloatVector y4 = FloatVector.fromArray(S, tmp, q + 16 * VL), y5 = FloatVector.fromArray(S, tmp, q + 20 * VL);
                FloatVector a = y1.add(y2), bb = y1.sub(y2), c = y3.add(y4), d = y3.sub(y4);
                y0.add(a).add(c).add(bv).intoArray(yb, o);
                d.fma(TWO, bb).add(bv).intoArray(yb, o + ldy);
                c.fma(FOUR, a).add(bv).intoArray(yb, o + 2 * ldy);
                d.fma(EIGHT, bb).add(y5).add(bv).intoArray(yb, o + 3 * ldy);
            }
        }
    }

    /**
     * The block's output rows yb (bands band0..band1, 4 rows of 4*tw pixels each, channels last) into out [n, m, h, w],
     * rows and columns inside the image only: VL x VL blocks transposed in vectors where rows are whole vectors.
     */
    private static void storeBands(float[] yb, Tiles g, int band0, int band1, int m, float[] out, int outOff, float[] t) {
        int h = g.h(), w = g.w(), hw = h * w, ldy = 4 * g.tw() * m, k = rowsPerRun(w);
        for (int band = band0; band <= band1; band++) {
            int img = band / g.th(), top = band % g.th() * 4;
            for (int r = 0; r < 4 && top + r < h; ) {
                int sr = ((band - band0) * 4 + r) * ldy, dst = outOff + img * m * hw + (top + r) * w;
                // runs of VL pixels as in copyBands (with w a multiple of 4, output rows are contiguous in yb too)
                int rows = k == 1 ? 1 : k > 1 && r + k <= 4 && top + r + k <= h ? k : 0;
                if (rows == 0) {
                    for (int c = 0; c < m; c++)
                        for (int q = 0, d = dst + c * hw; q < w; q++) out[d + q] = yb[sr + q * m + c];
                    r++;
                    continue;
                }
                for (int c0 = 0; c0 < m; c0 += VL) // as in copyBands: VL planes at a time
                    for (int p0 = 0; p0 < rows * w; p0 += VL) {
                        transposeCopy(yb, sr + p0 * m + c0, m, out, dst + c0 * hw + p0, hw, VL, 0, t);
                    }
                r += rows;
            }
        }
    }

    /** A^T y for six vectors: four outputs at dst[o + i*step]. */
    private static void inverse6(FloatVector y0, FloatVector y1, FloatVector y2, FloatVector y3, FloatVector y4,
                                 FloatVector y5, float[] dst, int o, int step) {
        FloatVector a = y1.add(y2), b = y1.sub(y2), c = y3.add(y4), d = y3.sub(y4);
        y0.add(a).add(c).intoArray(dst, o);
        d.fma(TWO, b).intoArray(dst, o + step);
        c.fma(FOUR, a).intoArray(dst, o + 2 * step);
        d.fma(EIGHT, b).add(y5).intoArray(dst, o + 3 * step);
    }

    // ---- weight gradient -----------------------------------------------------------------------------------------

    /**
     * acc[xi][c][o] += V[xi]^T Z[xi] over tiles [t0, t0 + count): V from x's tiles (as forward), Z = A gy A^T from
     * gy's 4 x 4 blocks (the padded gy copy has a zero border, so blocks past the image edge add nothing).
     */
    private static void accumulateBlock(float[] x, int xOff, float[] gy, int gyOff, int c, int o, Tiles g, int t0,
                                        int count, float[] acc, int accOff, Scratch sc) {
        int bt = g.bt();
        float[] v = sc.v(XI * bt * c), z = sc.m(XI * bt * o);
        int gBand = 4 * g.wp() * o; // gy's bands: 4 rows, the 4 x 4 block of tile (ti, tj) at column 4 tj + 1
        float[] xb = sc.bands(g.bandsPerBlock() * g.bandSize(c)), gb = sc.gBands(g.bandsPerBlock() * gBand);
        int band0 = t0 / g.tw(), band1 = (t0 + count - 1) / g.tw();
        copyBands(x, xOff, c, g, band0, band1, xb, sc.square);
        copyBands(gy, gyOff, o, g, band0, band1, 4, 0, gb, sc.square);
        for (int b = 0; b < count; b++) {
            int t = t0 + b;
            inputTile(xb, windowOffset(g, t, band0, c), g.wp() * c, c, v, b, bt, sc.tmp);
            gradTile(gb, (t / g.tw() - band0) * gBand + (t % g.tw() * 4 + 1) * o, g.wp() * o, o, z, b, bt, sc.tmp);
        }
        for (int xi = 0; xi < XI; xi++) {
            int vo = xi * bt * c, zo = xi * bt * o, ao = accOff + xi * c * o;
            for (int c0 = 0; c0 < o; c0 += NV * VL) {
                int nv = Math.min(NV, (o - c0) / VL);
                for (int r0 = 0; r0 < c; r0 += MR)
                    accumulate(count, v, vo + r0, c, Math.min(MR, c - r0), z, zo + c0, o, nv, sc.tile,
                            acc, ao + r0 * o + c0, o);
            }
        }
    }

    /** z[xi][b][o] = (A g A^T)[xi] for the 4 x 4 gy block at gp[base], rows rowStride apart: rows, then columns. */
    private static void gradTile(float[] gp, int base, int rowStride, int ch, float[] z, int b, int bt, float[] tmp) {
        for (int c0 = 0; c0 < ch; c0 += VL) {
            for (int r = 0; r < 4; r++) {
                int p = base + r * rowStride + c0;
                expand4(FloatVector.fromArray(S, gp, p), FloatVector.fromArray(S, gp, p + ch),
                        FloatVector.fromArray(S, gp, p + 2 * ch), FloatVector.fromArray(S, gp, p + 3 * ch),
                        tmp, r * 6 * VL, VL);
            }
            for (int j = 0; j < 6; j++) {
                int t = j * VL;
                expand4(FloatVector.fromArray(S, tmp, t), FloatVector.fromArray(S, tmp, t + 6 * VL),
                        FloatVector.fromArray(S, tmp, t + 12 * VL), FloatVector.fromArray(S, tmp, t + 18 * VL),
                        z, (j * bt + b) * ch + c0, 6 * bt * ch);
            }
        }
    }

    /** A g for four vectors: six outputs at dst[o + i*step]. */
    private static void expand4(FloatVector g0, FloatVector g1, FloatVector g2, FloatVector g3, float[] dst, int o, int step) {
        FloatVector p = g0.add(g2), q = g1.add(g3), p2 = g2.fma(FOUR, g0), q2 = g3.fma(FOUR, g1).mul(2f);
        g0.intoArray(dst, o);
        p.add(q).intoArray(dst, o + step);
        p.sub(q).intoArray(dst, o + 2 * step);
        p2.add(q2).intoArray(dst, o + 3 * step);
        p2.sub(q2).intoArray(dst, o + 4 * step);
        g3.intoArray(dst, o + 5 * step);
    }

    // ---- micro kernels -------------------------------------------------------------------------------------------
    //
    // The convolutions' products (c = a b, a's rows lda apart, each row contiguous in p) are Gemm's kernel with U
    // packed as its B. The weight gradient's (c += a^T b, a's columns contiguous: the MR values of one p are adjacent)
    // is accumulate(), MR x NV-vector tiles that read b's rows ldb apart and write c's rows ldc apart. Rows past `rows`
    // and vectors past `nv` repeat the last ones (their results are not stored), so every tile runs the full-size
    // kernel; every output is one fma chain over p in order. (One general kernel with both strides variable and an
    // accumulate flag ran at a third of the speed of these.) Inside the loop the offsets are constants, so a partial
    // tile reads past its last row or vector into the next ones' data or the buffers' SLACK floats (results not
    // stored): C2 then checks the bounds of each row once per iteration instead of each load.


    /** c[r][j] += sum over p in [0, kc) of a[a0 + p*lda + r] * b[b0 + p*ldb + j*VL], r < rows, j < nv. */
    private static void accumulate(int kc, float[] a, int a0, int lda, int rows, float[] b, int b0, int ldb, int nv, float[] t,
                           float[] c, int c0, int ldc) {
        if (VectorSupport.SIXTEEN_REGISTERS) accumulate4x2(kc, a, a0, lda, rows, b, b0, ldb, nv, t, c, c0, ldc);
        else accumulate6x4(kc, a, a0, lda, rows, b, b0, ldb, nv, t, c, c0, ldc);
    }


    private static void accumulate6x4(int kc, float[] a, int a0, int lda, int rows, float[] b, int b0, int ldb, int nv, float[] t,
                                      float[] c, int c0, int ldc) {
        int last = rows - 1;
        int r1 = Math.min(1, last), r2 = Math.min(2, last), r3 = Math.min(3, last), r4 = Math.min(4, last), r5 = Math.min(5, last);
        int j1 = Math.min(1, nv - 1) * VL, j2 = Math.min(2, nv - 1) * VL, j3 = Math.min(3, nv - 1) * VL;
        int q0 = c0, q1 = c0 + r1 * ldc, q2 = c0 + r2 * ldc, q3 = c0 + r3 * ldc, q4 = c0 + r4 * ldc, q5 = c0 + r5 * ldc;
        FloatVector c00 = FloatVector.fromArray(S, c, q0), c01 = FloatVector.fromArray(S, c, q0 + j1);
        FloatVector c02 = FloatVector.fromArray(S, c, q0 + j2), c03 = FloatVector.fromArray(S, c, q0 + j3);
        FloatVector c10 = FloatVector.fromArray(S, c, q1), c11 = FloatVector.fromArray(S, c, q1 + j1);
        FloatVector c12 = FloatVector.fromArray(S, c, q1 + j2), c13 = FloatVector.fromArray(S, c, q1 + j3);
        FloatVector c20 = FloatVector.fromArray(S, c, q2), c21 = FloatVector.fromArray(S, c, q2 + j1);
        FloatVector c22 = FloatVector.fromArray(S, c, q2 + j2), c23 = FloatVector.fromArray(S, c, q2 + j3);
        FloatVector c30 = FloatVector.fromArray(S, c, q3), c31 = FloatVector.fromArray(S, c, q3 + j1);
        FloatVector c32 = FloatVector.fromArray(S, c, q3 + j2), c33 = FloatVector.fromArray(S, c, q3 + j3);
        FloatVector c40 = FloatVector.fromArray(S, c, q4), c41 = FloatVector.fromArray(S, c, q4 + j1);
        FloatVector c42 = FloatVector.fromArray(S, c, q4 + j2), c43 = FloatVector.fromArray(S, c, q4 + j3);
        FloatVector c50 = FloatVector.fromArray(S, c, q5), c51 = FloatVector.fromArray(S, c, q5 + j1);
        FloatVector c52 = FloatVector.fromArray(S, c, q5 + j2), c53 = FloatVector.fromArray(S, c, q5 + j3);
        for (int p = 0; p < kc; p++) {
            int bo = b0 + p * ldb, ap = a0 + p * lda;
            FloatVector b0v = FloatVector.fromArray(S, b, bo), b1v = FloatVector.fromArray(S, b, bo + VL);
            FloatVector b2v = FloatVector.fromArray(S, b, bo + 2 * VL), b3v = FloatVector.fromArray(S, b, bo + 3 * VL);
            FloatVector x = FloatVector.broadcast(S, a[ap]);
            c00 = x.fma(b0v, c00); c01 = x.fma(b1v, c01); c02 = x.fma(b2v, c02); c03 = x.fma(b3v, c03);
            x = FloatVector.broadcast(S, a[ap + 1]);
            c10 = x.fma(b0v, c10); c11 = x.fma(b1v, c11); c12 = x.fma(b2v, c12); c13 = x.fma(b3v, c13);
            x = FloatVector.broadcast(S, a[ap + 2]);
            c20 = x.fma(b0v, c20); c21 = x.fma(b1v, c21); c22 = x.fma(b2v, c22); c23 = x.fma(b3v, c23);
            x = FloatVector.broadcast(S, a[ap + 3]);
            c30 = x.fma(b0v, c30); c31 = x.fma(b1v, c31); c32 = x.fma(b2v, c32); c33 = x.fma(b3v, c33);
            x = FloatVector.broadcast(S, a[ap + 4]);
            c40 = x.fma(b0v, c40); c41 = x.fma(b1v, c41); c42 = x.fma(b2v, c42); c43 = x.fma(b3v, c43);
            x = FloatVector.broadcast(S, a[ap + 5]);
            c50 = x.fma(b0v, c50); c51 = x.fma(b1v, c51); c52 = x.fma(b2v, c52); c53 = x.fma(b3v, c53);
        }
        // a partial tile goes through t (never pass vectors to a method that may not inline: they would be boxed)
        boolean full = rows == 6 && nv == 4;
        float[] d = full ? c : t;
        int o = full ? c0 : 0, ld = full ? ldc : 4 * VL;
        c00.intoArray(d, o); c01.intoArray(d, o + VL); c02.intoArray(d, o + 2 * VL); c03.intoArray(d, o + 3 * VL);
        o += ld;
        c10.intoArray(d, o); c11.intoArray(d, o + VL); c12.intoArray(d, o + 2 * VL); c13.intoArray(d, o + 3 * VL);
        o += ld;
        c20.intoArray(d, o); c21.intoArray(d, o + VL); c22.intoArray(d, o + 2 * VL); c23.intoArray(d, o + 3 * VL);
        o += ld;
        c30.intoArray(d, o); c31.intoArray(d, o + VL); c32.intoArray(d, o + 2 * VL); c33.intoArray(d, o + 3 * VL);
        o += ld;
        c40.intoArray(d, o); c41.intoArray(d, o + VL); c42.intoArray(d, o + 2 * VL); c43.intoArray(d, o + 3 * VL);
        o += ld;
        c50.intoArray(d, o); c51.intoArray(d, o + VL); c52.intoArray(d, o + 2 * VL); c53.intoArray(d, o + 3 * VL);
        if (!full) copyTile(t, 4 * VL, rows, nv, c, c0, ldc);
    }

    /** c[r][0, nv*VL) = t[r*ldt ...] for r < rows: the stored part of a partial tile. */
    private static void copyTile(float[] t, int ldt, int rows, int nv, float[] c, int c0, int ldc) {
        for (int r = 0; r < rows; r++) System.arraycopy(t, r * ldt, c, c0 + r * ldc, nv * VL);
    }


    private static void accumulate4x2(int kc, float[] a, int a0, int lda, int rows, float[] b, int b0, int ldb, int nv, float[] t,
                                      float[] c, int c0, int ldc) {
        int last = rows - 1;
        int r1 = Math.min(1, last), r2 = Math.min(2, last), r3 = Math.min(3, last);
        int j1 = Math.min(1, nv - 1) * VL;
        int q0 = c0, q1 = c0 + r1 * ldc, q2 = c0 + r2 * ldc, q3 = c0 + r3 * ldc;
        FloatVector c00 = FloatVector.fromArray(S, c, q0), c01 = FloatVector.fromArray(S, c, q0 + j1);
        FloatVector c10 = FloatVector.fromArray(S, c, q1), c11 = FloatVector.fromArray(S, c, q1 + j1);
        FloatVector c20 = FloatVector.fromArray(S, c, q2), c21 = FloatVector.fromArray(S, c, q2 + j1);
        FloatVector c30 = FloatVector.fromArray(S, c, q3), c31 = FloatVector.fromArray(S, c, q3 + j1);
        for (int p = 0; p < kc; p++) {
            int bo = b0 + p * ldb, ap = a0 + p * lda;
            FloatVector b0v = FloatVector.fromArray(S, b, bo), b1v = FloatVector.fromArray(S, b, bo + VL);
            FloatVector x = FloatVector.broadcast(S, a[ap]);
            c00 = x.fma(b0v, c00); c01 = x.fma(b1v, c01);
            x = FloatVector.broadcast(S, a[ap + 1]);
            c10 = x.fma(b0v, c10); c11 = x.fma(b1v, c11);
            x = FloatVector.broadcast(S, a[ap + 2]);
            c20 = x.fma(b0v, c20); c21 = x.fma(b1v, c21);
            x = FloatVector.broadcast(S, a[ap + 3]);
            c30 = x.fma(b0v, c30); c31 = x.fma(b1v, c31);
        }
        boolean full = rows == 4 && nv == 2; // a partial tile goes through t, as in product6x4
        float[] d = full ? c : t;
        int o = full ? c0 : 0, ld = full ? ldc : 2 * VL;
        c00.intoArray(d, o); c01.intoArray(d, o + VL);
        o += ld;
        c10.intoArray(d, o); c11.intoArray(d, o + VL);
        o += ld;
        c20.intoArray(d, o); c21.intoArray(d, o + VL);
        o += ld;
        c30.intoArray(d, o); c31.intoArray(d, o + VL);
        if (!full) copyTile(t, 2 * VL, rows, nv, c, c0, ldc);
    }

}
