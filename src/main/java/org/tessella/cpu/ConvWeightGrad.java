package org.tessella.cpu;

import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The weight gradient of a convolution as one GEMM per kernel tap over the whole batch:
 * {@code gw[o][c][ki][kj] = sum over images n, then output pixels p in raster order, of
 * gy[n][o][p] * x[n][c][oh*s - pad + ki][ow*s - pad + kj]}, a reduction of length images x P.
 *
 * <p>Work is split by image group and output tile: units of (group, NR input channels, MR output channels), in that
 * order, one task per thread. A task walks the pixels in blocks (whole output rows of one image, or whole images when they are
 * small, about {@link #BLOCK} pixels) and for each block copies the input rows the block needs, only for its own
 * channels, channel-last and zero-padded into a private buffer ({@code xt[row][iw][c]}, channels rounded up to a
 * multiple of NR). There the NR channels a tile needs at one pixel are one contiguous vector pair and the window of a
 * tap is an offset and a stride, so nothing else is packed on the B side, and x is transposed once in all, in cache.
 * The A side is read straight from gy: MR rows at a fixed distance, one scalar broadcast each per pixel. The micro
 * kernel computes an MR (output channels) x NR (input channels) tile of one tap, with its accumulators in registers
 * for a sub-block of about {@link #SUB} pixels and in a small accumulator array between sub-blocks; every unit and
 * tap runs over one sub-block before the next, so the input window stays in L1 (on vq-s's 16 x 16 and 8 x 8 layers
 * this, with the flat pixel loop, the 5-row tiles and the image groups below, took the 2-thread AVX2 weight gradient
 * from about 57 / 37 to 90-95 / 90 GFLOP/s).
 *
 * <p>Determinism: the images are split into groups by the shape alone ({@link #groups}); in each group each accumulator
 * is one fma chain, {@code acc = 0; acc = fma(gy, x, acc)} over the group's images in order and pixels in raster
 * order, however the pixels are blocked, and the groups' sums are added in group order. Threads share out units
 * (group, MR output channels, NR input channels), never pixels of a group. So the bits do not depend on the thread
 * count or the vector width.
 */
final class ConvWeightGrad {
    private ConvWeightGrad() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int VL = S.length();
    /** Input channels per tile: a vector pair (its own kernel's width, not Gemm's four vectors). */
    private static final int NR = 2 * VL;
    /**
     * Output channels per tile: eight (not Gemm's six), so that each pair of B vectors loaded feeds 16 multiply-adds
     * and vq-s's 64 and 128 channels fill whole tiles (measured 7-15% faster per layer). Five with 16 vector registers
     * ({@link VectorSupport#SIXTEEN_REGISTERS}), where 16 accumulators spill and 12 did too (6 rows: 30% slower):
     * ten independent fma chains cover the fma latency times two pipes, eight (4 rows) did not quite (5 rows measured
     * about 7% faster per layer, though 64 and 128 channels leave a partly filled last tile).
     */
    private static final int MR = VectorSupport.SIXTEEN_REGISTERS ? 5 : 8;
    /** Pixels per block: a block's transposed rows stay in L2 while every tile of the task runs over them. */
    private static final int BLOCK = 1024;
    /**
     * Pixels per sub-block: every unit and tap of a task runs over one sub-block before the next, so a channel tile's
     * input window (about SUB x NR floats) is read from L1 by all the output-channel tiles that use it.
     */
    private static final int SUB = 256;
    /** Output pixels per image group (see {@link #groups}), and the most groups. */
    private static final int GROUP_PIXELS = 2048, MAX_GROUPS = 16;
    /** Most weights times groups (16 MB of accumulators; vq-s's widest layer, 128 x 128 x 9, keeps its 16 groups). */
    private static final int GROUP_WEIGHTS = 1 << 22;

    private static final class Scratch {
        float[] xt = new float[0], acc = new float[0];
        /** {@link #dot3}'s sixteen partials and its three sums. */
        final float[] partials = new float[16], dots = new float[3];

        int[] off = new int[0];
        int offRows = -1, offWo, offRowStride, offColStep;

        /** xt offsets of the pixels of rows x wo output pixels in raster order, from the previous call when the same. */
        int[] offsets(int rows, int wo, int rowStride, int colStep) {
            if (rows != offRows || wo != offWo || rowStride != offRowStride || colStep != offColStep) {
                if (off.length < rows * wo) off = new int[rows * wo];
                for (int r = 0, q = 0; r < rows; r++)
                    for (int ow = 0; ow < wo; ow++) off[q++] = r * rowStride + ow * colStep;
                offRows = rows; offWo = wo; offRowStride = rowStride; offColStep = colStep;
            }
            return off;
        }

        float[] xt(int len) {
            if (xt.length < len) xt = new float[len];
            return xt;
        }
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    /**
     * gw [o, c, kh, kw] (at gwOff) from gy [n, o, ho, wo] and x [n, c, h, w] for a convolution with the given stride
     * and symmetric padding.
     */
    static void run(int n, int c, int h, int w, int o, int kh, int kw, int stride, int pad, int ho, int wo,
                    float[] gy, int gyOff, float[] x, int xOff, float[] gw, int gwOff) {
        WorkerPool pool = WorkerPool.global();
        int cp = (c + NR - 1) / NR * NR, wp = w + 2 * pad, taps = kh * kw, p = ho * wo;
        int oTiles = (o + MR - 1) / MR, cTiles = cp / NR, opad = oTiles * MR;
        // blocks of pixels: whole output rows of one image, or whole images when an image is smaller than a block
        int rowsPerBlock = Math.max(1, Math.min(ho, BLOCK / wo));
        int imagesPerBlock = rowsPerBlock < ho ? 1 : Math.max(1, BLOCK / p);
        int rowsIn = (rowsPerBlock - 1) * stride + kh;
        // Images in groups fixed by the shape alone, each with its own accumulators, summed in group order at the
        // end: enough independent work for many threads however few the channels are (vq-s's conv_out has one
        // output channel), and a thread's tiles need only its groups' images transposed.
        int groups = groups(n, p, o * c * taps), accLen = taps * opad * cp;
        float[] acc = accumulators(groups * accLen);
        // Units (group, NR input channels, MR output channels), in that order, in one task per thread: a task copies
        // only its own channels of each block of its images into its own cache-resident buffer, so x is transposed
        // about once in all and never goes through memory transposed.
        int unitsPerGroup = cTiles * oTiles, units = groups * unitsPerGroup;
        pool.parallelFor(units, (units + pool.threads() - 1) / pool.threads(), (s, e) -> {
            Scratch sc = SCRATCH.get();
            for (int group = s / unitsPerGroup; group * unitsPerGroup < e; group++) {
                int us = Math.max(s, group * unitsPerGroup) - group * unitsPerGroup;
                int ue = Math.min(e, (group + 1) * unitsPerGroup) - group * unitsPerGroup;
                accumulate(gy, gyOff, x, xOff, n * group / groups, n * (group + 1) / groups, c, h, w, o, kh, kw, stride,
                        pad, ho, wo, rowsPerBlock, imagesPerBlock, rowsIn, us, ue, acc, group * accLen, sc);
            }
        });
        pool.parallelFor(o, Math.max(1, 4096 / (c * taps)), (s, e) -> {
            for (int oc = s; oc < e; oc++)
                for (int ch = 0; ch < c; ch++)
                    for (int tap = 0; tap < taps; tap++) {
                        int a = (tap * opad + oc) * cp + ch;
                        float sum = acc[a];
                        for (int group = 1; group < groups; group++) sum += acc[group * accLen + a];
                        gw[gwOff + (oc * c + ch) * taps + tap] = sum;
                    }
        });
    }

    /**
     * The weight gradient of a stride-1 convolution with few input or output channels (the tokenizer's conv_in and
     * conv_out, 1 and 64), where a tile over channels would be mostly padding: each {@code gw[o][c][ki][kj]} is, per
     * image, the dot product of gy's row {@code gy[n][o]} with the tap's window of x, which in a column-shifted copy of
     * the padded plane ({@code xs[kj][r][ow] = padded[r][ow + kj]}, made once per image and channel) is the contiguous
     * run starting at row ki. The dots are summed in {@link RowReduce#dot}'s fixed order, three taps of a kernel row per
     * pass ({@link #dot3}); a group of images, fixed by the shape, adds its images' dots in order, and the groups are
     * then added in group order: the same bits for any thread count or vector width. (The im2col GEMM before padded 9 taps, or one output channel, to a 64-wide tile:
     * 8-9 GFLOP/s on 2 threads.)
     */
    static void dots(int n, int c, int h, int w, int o, int kh, int kw, int pad, int ho, int wo,
                     float[] gy, int gyOff, float[] x, int xOff, float[] gw, int gwOff) {
        int hp = h + 2 * pad, plane = hp * wo, p = ho * wo, taps = kh * kw, per = o * c * taps;
        int groups = Math.min(n, MAX_GROUPS);
        float[] acc = accumulators(groups * per);
        WorkerPool.global().parallelFor(groups, 1, (s, e) -> {
            Scratch sc = SCRATCH.get();
            float[] xs = sc.xt((kw + 2) * plane); // two planes past the last, read by dot3's unused chains
            for (int q = s; q < e; q++) {
                int a0 = q * per;
                Arrays.fill(acc, a0, a0 + per, 0f);
                for (int img = n * q / groups; img < n * (q + 1) / groups; img++)
                    for (int ch = 0; ch < c; ch++) {
                        int src = xOff + (img * c + ch) * h * w;
                        for (int kj = 0; kj < kw; kj++) { // xs[kj][r][ow] = x[r - pad][ow + kj - pad], 0 off the image
                            int lo = Math.min(wo, Math.max(0, pad - kj)), hi = Math.max(lo, Math.min(wo, w + pad - kj));
                            for (int r = 0; r < hp; r++) {
                                int d = kj * plane + r * wo, ih = r - pad;
                                if (ih < 0 || ih >= h) {
                                    Arrays.fill(xs, d, d + wo, 0f);
                                    continue;
                                }
                                Arrays.fill(xs, d, d + lo, 0f);
                                System.arraycopy(x, src + ih * w + lo + kj - pad, xs, d + lo, hi - lo);
                                Arrays.fill(xs, d + hi, d + wo, 0f);
                            }
                        }
                        for (int oc = 0; oc < o; oc++) {
                            int g0 = gyOff + (img * o + oc) * p, a = a0 + (oc * c + ch) * taps;
                            for (int ki = 0; ki < kh; ki++)
                                for (int kj = 0; kj < kw; kj += 3) { // three taps of a kernel row at once
                                    dot3(gy, g0, xs, kj * plane + ki * wo, plane, p, sc.partials, sc.dots);
                                    for (int j = 0; j < Math.min(3, kw - kj); j++) acc[a + ki * kw + kj + j] += sc.dots[j];
                                }
                        }
                    }
            }
        });
        for (int i = 0; i < per; i++) {
            float v = acc[i];
            for (int q = 1; q < groups; q++) v += acc[q * per + i];
            gw[gwOff + i] = v;
        }
    }

    private static final VectorSpecies<Float> R = RowReduce.species();
    private static final int RL = R.length(), RK = 16 / RL;

    /**
     * {@code out[j] = sum over i < n of g[gi + i] * x[xi + j*dx + i]} for j < 3, each exactly as {@link RowReduce#dot}
     * sums (element i into partial i mod 16, chunk c of RL elements into accumulator c mod RK, then the fixed tree):
     * three independent fma chains per pass where one dot at a time waited on its chain's latency.
     */
    private static void dot3(float[] g, int gi, float[] x, int xi, int dx, int n, float[] part, float[] out) {
        FloatVector z = FloatVector.zero(R);
        FloatVector a0 = z, a1 = z, a2 = z, a3 = z, b0 = z, b1 = z, b2 = z, b3 = z, c0 = z, c1 = z, c2 = z, c3 = z;
        int i = 0;
        for (int c = 0; i <= n - RL; i += RL, c++) {
            FloatVector v = FloatVector.fromArray(R, g, gi + i);
            FloatVector x0 = FloatVector.fromArray(R, x, xi + i), x1 = FloatVector.fromArray(R, x, xi + dx + i);
            FloatVector x2 = FloatVector.fromArray(R, x, xi + 2 * dx + i);
            switch (c & (RK - 1)) {
                case 0 -> { a0 = v.fma(x0, a0); b0 = v.fma(x1, b0); c0 = v.fma(x2, c0); }
                case 1 -> { a1 = v.fma(x0, a1); b1 = v.fma(x1, b1); c1 = v.fma(x2, c1); }
                case 2 -> { a2 = v.fma(x0, a2); b2 = v.fma(x1, b2); c2 = v.fma(x2, c2); }
                default -> { a3 = v.fma(x0, a3); b3 = v.fma(x1, b3); c3 = v.fma(x2, c3); }
            }
        }
        // each chain's partials stored here, written out three times: a vector passed out of line, or merged from
        // several by a conditional, would be boxed
        a0.intoArray(part, 0);
        if (RK > 1) a1.intoArray(part, RL);
        if (RK > 2) { a2.intoArray(part, 2 * RL); a3.intoArray(part, 3 * RL); }
        out[0] = tail(g, gi, x, xi, i, n, part);
        b0.intoArray(part, 0);
        if (RK > 1) b1.intoArray(part, RL);
        if (RK > 2) { b2.intoArray(part, 2 * RL); b3.intoArray(part, 3 * RL); }
        out[1] = tail(g, gi, x, xi + dx, i, n, part);
        c0.intoArray(part, 0);
        if (RK > 1) c1.intoArray(part, RL);
        if (RK > 2) { c2.intoArray(part, 2 * RL); c3.intoArray(part, 3 * RL); }
        out[2] = tail(g, gi, x, xi + 2 * dx, i, n, part);
    }

    /** Adds elements [i, n) to their partials (RowReduce's scalar tail) and returns the tree of the sixteen. */
    private static float tail(float[] g, int gi, float[] x, int xi, int i, int n, float[] part) {
        for (int t = i; t < n; t++) part[t & 15] = Math.fma(g[gi + t], x[xi + t], part[t & 15]);
        return RowReduce.tree(part);
    }

    /**
     * Image groups: about {@link #GROUP_PIXELS} output pixels each, at most {@link #MAX_GROUPS}, and no more than
     * {@link #GROUP_WEIGHTS} weights' worth of accumulators in all (wide layers have channel tiles enough for the
     * threads). From the shape alone, so the bits depend on neither the thread count nor the vector width.
     */
    static int groups(int n, int p, int weights) {
        int byPixels = (int) Math.min(MAX_GROUPS, (long) n * p / GROUP_PIXELS);
        return Math.max(1, Math.min(n, Math.min(byPixels, GROUP_WEIGHTS / Math.max(1, weights))));
    }

    /**
     * Adds, into acc at accOff (laid out [tap][opad][cp]), the products of images [n0, n1) for units [us, ue) of one
     * group (unit = input-channel tile * oTiles + output-channel tile).
     */
    private static void accumulate(float[] gy, int gyOff, float[] x, int xOff, int n0, int n1, int c, int h, int w, int o,
                                   int kh, int kw, int stride, int pad, int ho, int wo, int rowsPerBlock, int imagesPerBlock,
                                   int rowsIn, int us, int ue, float[] acc, int accOff, Scratch sc) {
        int cp = (c + NR - 1) / NR * NR, wp = w + 2 * pad, p = ho * wo, taps = kh * kw;
        int oTiles = (o + MR - 1) / MR, opad = oTiles * MR;
        int ct0 = us / oTiles, ct1 = (ue - 1) / oTiles, c0 = ct0 * NR, cr = (ct1 - ct0 + 1) * NR;
        int imageStride = rowsIn * wp * cr;
        float[] xt = sc.xt(imagesPerBlock * imageStride);
        // the units' own accumulator tiles (all units together cover [tap][opad][cp]), zeroed here in parallel
        for (int u = us; u < ue; u++)
            for (int tap = 0; tap < taps; tap++)
                for (int r = 0, a = accOff + (tap * opad + u % oTiles * MR) * cp + u / oTiles * NR; r < MR; r++, a += cp)
                    Arrays.fill(acc, a, a + NR, 0f);
        for (int nb = n0; nb < n1; nb += imagesPerBlock) {
            int imgs = Math.min(imagesPerBlock, n1 - nb);
            for (int r0 = 0; r0 < ho; r0 += rowsPerBlock) {
                int rows = Math.min(rowsPerBlock, ho - r0);
                for (int i = 0; i < imgs; i++)
                    transposeBlock(x, xOff + (nb + i) * c * h * w, c, h, w, r0 * stride - pad, rowsIn, pad, c0, cr, xt,
                            i * imageStride);
                // sub-blocks of about SUB pixels (whole rows, or whole images), each run by every unit and tap
                // before the next: a unit's input window then comes from L1 for all the units of its channels
                int subImgs = imgs > 1 ? Math.max(1, SUB / p) : 1, subRows = imgs > 1 ? rows : Math.max(1, Math.min(rows, SUB / wo));
                for (int i0 = 0; i0 < imgs; i0 += subImgs)
                    for (int q0 = 0; q0 < rows; q0 += subRows) {
                        int si = Math.min(subImgs, imgs - i0), sr = Math.min(subRows, rows - q0);
                        int[] off = sc.offsets(sr, wo, stride * wp * cr, stride * cr);
                        for (int u = us; u < ue; u++) {
                            int ct = u / oTiles, ot = u % oTiles, valid = Math.min(MR, o - ot * MR);
                            int g0 = gyOff + ((nb + i0) * o + ot * MR) * p + (r0 + q0) * wo;
                            int b0 = i0 * imageStride + q0 * stride * wp * cr + ct * NR - c0;
                            for (int tap = 0; tap < taps; tap++) {
                                int bx = b0 + ((tap / kw) * wp + tap % kw) * cr;
                                int ac = accOff + (tap * opad + ot * MR) * cp + ct * NR;
                                if (valid == 1) // a single output channel: one row of accumulators, not MR copies of it
                                    kernel1(gy, g0, o * p, xt, bx, si, imageStride, sr * wo, off, acc, ac);
                                else
                                    kernel(gy, g0, p, valid, o * p, xt, bx, si, imageStride, sr * wo, off, acc, ac, cp);
                            }
                        }
                    }
            }
        }
    }

    /** The calling thread's accumulator array of at least len floats (contents undefined: each task zeroes its tiles). */
    private static float[] accumulators(int len) {
        Scratch sc = SCRATCH.get();
        if (sc.acc.length < len) sc.acc = new float[len];
        return sc.acc;
    }

    /**
     * Input rows [ih0, ih0 + rowsIn) of one image of x [c, h, w], channels [c0, c0 + cr), into xt at xo as
     * [rowsIn][w + 2pad][cr], zero off the image and past channel c. Eight channels at a time, so that each pixel
     * gets eight consecutive stores.
     */
    private static void transposeBlock(float[] x, int img, int c, int h, int w, int ih0, int rowsIn, int pad, int c0, int cr,
                               float[] xt, int xo) {
        int wp = w + 2 * pad, hw = h * w, c1 = Math.min(c, c0 + cr);
        for (int j = 0; j < rowsIn; j++) {
            int ih = ih0 + j, line = xo + j * wp * cr;
            if (ih < 0 || ih >= h) {
                Arrays.fill(xt, line, line + wp * cr, 0f);
                continue;
            }
            Arrays.fill(xt, line, line + pad * cr, 0f);
            Arrays.fill(xt, line + (pad + w) * cr, line + wp * cr, 0f);
            int d0 = line + pad * cr - c0;
            if (c1 < c0 + cr)
                for (int iw = 0; iw < w; iw++) Arrays.fill(xt, d0 + iw * cr + c1, d0 + iw * cr + c0 + cr, 0f);
            int ch = c0;
            for (; ch + 8 <= c1; ch += 8) {
                int src = img + ch * hw + ih * w;
                for (int iw = 0, d = d0 + ch; iw < w; iw++, d += cr) {
                    xt[d] = x[src + iw];
                    xt[d + 1] = x[src + hw + iw];
                    xt[d + 2] = x[src + 2 * hw + iw];
                    xt[d + 3] = x[src + 3 * hw + iw];
                    xt[d + 4] = x[src + 4 * hw + iw];
                    xt[d + 5] = x[src + 5 * hw + iw];
                    xt[d + 6] = x[src + 6 * hw + iw];
                    xt[d + 7] = x[src + 7 * hw + iw];
                }
            }
            for (; ch < c1; ch++) {
                int src = img + ch * hw + ih * w;
                for (int iw = 0, d = d0 + ch; iw < w; iw++, d += cr) xt[d] = x[src + iw];
            }
        }
    }

    /**
     * acc tile (MR rows at stride ldc, NR columns at ac) += sum over the block's pixels of pa[q][r] * xt[b(q) ..
     * b(q) + NR), where pixel (image i, row, column ow) reads xt at bx + i*imageStride + row*rowStride + ow*colStep.
     */
    private static void kernel(float[] gy, int g0, int p, int valid, int gyImage, float[] xt, int bx, int imgs,
                               int imageStride, int pixels, int[] off, float[] acc, int ac, int ldc) {
        if (VectorSupport.SIXTEEN_REGISTERS) {
            kernel5(gy, g0, p, valid, gyImage, xt, bx, imgs, imageStride, pixels, off, acc, ac, ldc);
            return;
        }
        // rows of gy past the last output channel repeat it (their sums land in padding rows of acc, never read); the
        // pixels of an image go through one flat loop with their xt offsets from a table, so rows of 8 or 16 pixels
        // pay no per-row loop overhead
        int g1 = p * Math.min(1, valid - 1), g2 = p * Math.min(2, valid - 1), g3 = p * Math.min(3, valid - 1);
        int g4 = p * Math.min(4, valid - 1), g5 = p * Math.min(5, valid - 1), g6 = p * Math.min(6, valid - 1);
        int g7 = p * Math.min(7, valid - 1);
        FloatVector c00 = FloatVector.fromArray(S, acc, ac), c01 = FloatVector.fromArray(S, acc, ac + VL);
        FloatVector c10 = FloatVector.fromArray(S, acc, ac + ldc), c11 = FloatVector.fromArray(S, acc, ac + ldc + VL);
        FloatVector c20 = FloatVector.fromArray(S, acc, ac + 2 * ldc), c21 = FloatVector.fromArray(S, acc, ac + 2 * ldc + VL);
        FloatVector c30 = FloatVector.fromArray(S, acc, ac + 3 * ldc), c31 = FloatVector.fromArray(S, acc, ac + 3 * ldc + VL);
        FloatVector c40 = FloatVector.fromArray(S, acc, ac + 4 * ldc), c41 = FloatVector.fromArray(S, acc, ac + 4 * ldc + VL);
        FloatVector c50 = FloatVector.fromArray(S, acc, ac + 5 * ldc), c51 = FloatVector.fromArray(S, acc, ac + 5 * ldc + VL);
        FloatVector c60 = FloatVector.fromArray(S, acc, ac + 6 * ldc), c61 = FloatVector.fromArray(S, acc, ac + 6 * ldc + VL);
        FloatVector c70 = FloatVector.fromArray(S, acc, ac + 7 * ldc), c71 = FloatVector.fromArray(S, acc, ac + 7 * ldc + VL);
        for (int i = 0; i < imgs; i++) {
            int bi = bx + i * imageStride, g = g0 + i * gyImage;
            for (int q = 0; q < pixels; q++) {
                FloatVector b0 = FloatVector.fromArray(S, xt, bi + off[q]);
                    FloatVector b1 = FloatVector.fromArray(S, xt, bi + off[q] + VL);
                    FloatVector a = FloatVector.broadcast(S, gy[g + q]);
                    c00 = a.fma(b0, c00);
                    c01 = a.fma(b1, c01);
                    a = FloatVector.broadcast(S, gy[g + q + g1]);
                    c10 = a.fma(b0, c10);
                    c11 = a.fma(b1, c11);
                    a = FloatVector.broadcast(S, gy[g + q + g2]);
                    c20 = a.fma(b0, c20);
                    c21 = a.fma(b1, c21);
                    a = FloatVector.broadcast(S, gy[g + q + g3]);
                    c30 = a.fma(b0, c30);
                    c31 = a.fma(b1, c31);
                    a = FloatVector.broadcast(S, gy[g + q + g4]);
                    c40 = a.fma(b0, c40);
                    c41 = a.fma(b1, c41);
                    a = FloatVector.broadcast(S, gy[g + q + g5]);
                    c50 = a.fma(b0, c50);
                    c51 = a.fma(b1, c51);
                    a = FloatVector.broadcast(S, gy[g + q + g6]);
                    c60 = a.fma(b0, c60);
                    c61 = a.fma(b1, c61);
                    a = FloatVector.broadcast(S, gy[g + q + g7]);
                    c70 = a.fma(b0, c70);
                    c71 = a.fma(b1, c71);
            }
        }
        c00.intoArray(acc, ac);
        c01.intoArray(acc, ac + VL);
        c10.intoArray(acc, ac + ldc);
        c11.intoArray(acc, ac + ldc + VL);
        c20.intoArray(acc, ac + 2 * ldc);
        c21.intoArray(acc, ac + 2 * ldc + VL);
        c30.intoArray(acc, ac + 3 * ldc);
        c31.intoArray(acc, ac + 3 * ldc + VL);
        c40.intoArray(acc, ac + 4 * ldc);
        c41.intoArray(acc, ac + 4 * ldc + VL);
        c50.intoArray(acc, ac + 5 * ldc);
        c51.intoArray(acc, ac + 5 * ldc + VL);
        c60.intoArray(acc, ac + 6 * ldc);
        c61.intoArray(acc, ac + 6 * ldc + VL);
        c70.intoArray(acc, ac + 7 * ldc);
        c71.intoArray(acc, ac + 7 * ldc + VL);
    }

    /** {@link #kernel} with five rows (MR = 5, for 16 registers). */
    private static void kernel5(float[] gy, int g0, int p, int valid, int gyImage, float[] xt, int bx, int imgs,
                                int imageStride, int pixels, int[] off, float[] acc, int ac, int ldc) {
        int g1 = p * Math.min(1, valid - 1), g2 = p * Math.min(2, valid - 1), g3 = p * Math.min(3, valid - 1);
        int g4 = p * Math.min(4, valid - 1);
        FloatVector c00 = FloatVector.fromArray(S, acc, ac), c01 = FloatVector.fromArray(S, acc, ac + VL);
        FloatVector c10 = FloatVector.fromArray(S, acc, ac + ldc), c11 = FloatVector.fromArray(S, acc, ac + ldc + VL);
        FloatVector c20 = FloatVector.fromArray(S, acc, ac + 2 * ldc), c21 = FloatVector.fromArray(S, acc, ac + 2 * ldc + VL);
        FloatVector c30 = FloatVector.fromArray(S, acc, ac + 3 * ldc), c31 = FloatVector.fromArray(S, acc, ac + 3 * ldc + VL);
        FloatVector c40 = FloatVector.fromArray(S, acc, ac + 4 * ldc), c41 = FloatVector.fromArray(S, acc, ac + 4 * ldc + VL);
        for (int i = 0; i < imgs; i++) {
            int bi = bx + i * imageStride, g = g0 + i * gyImage;
            for (int q = 0; q < pixels; q++) {
                FloatVector b0 = FloatVector.fromArray(S, xt, bi + off[q]);
                    FloatVector b1 = FloatVector.fromArray(S, xt, bi + off[q] + VL);
                    FloatVector a = FloatVector.broadcast(S, gy[g + q]);
                    c00 = a.fma(b0, c00);
                    c01 = a.fma(b1, c01);
                    a = FloatVector.broadcast(S, gy[g + q + g1]);
                    c10 = a.fma(b0, c10);
                    c11 = a.fma(b1, c11);
                    a = FloatVector.broadcast(S, gy[g + q + g2]);
                    c20 = a.fma(b0, c20);
                    c21 = a.fma(b1, c21);
                    a = FloatVector.broadcast(S, gy[g + q + g3]);
                    c30 = a.fma(b0, c30);
                    c31 = a.fma(b1, c31);
                    a = FloatVector.broadcast(S, gy[g + q + g4]);
                    c40 = a.fma(b0, c40);
                    c41 = a.fma(b1, c41);
            }
        }
        c00.intoArray(acc, ac);
        c01.intoArray(acc, ac + VL);
        c10.intoArray(acc, ac + ldc);
        c11.intoArray(acc, ac + ldc + VL);
        c20.intoArray(acc, ac + 2 * ldc);
        c21.intoArray(acc, ac + 2 * ldc + VL);
        c30.intoArray(acc, ac + 3 * ldc);
        c31.intoArray(acc, ac + 3 * ldc + VL);
        c40.intoArray(acc, ac + 4 * ldc);
        c41.intoArray(acc, ac + 4 * ldc + VL);
    }

    /** {@link #kernel} for one row of gy (one output channel), into the accumulator row at ac. */
    private static void kernel1(float[] gy, int g0, int gyImage, float[] xt, int bx, int imgs, int imageStride, int pixels,
                                int[] off, float[] acc, int ac) {
        FloatVector c0 = FloatVector.fromArray(S, acc, ac), c1 = FloatVector.fromArray(S, acc, ac + VL);
        for (int i = 0; i < imgs; i++) {
            int bi = bx + i * imageStride, g = g0 + i * gyImage;
            for (int q = 0; q < pixels; q++) {
                FloatVector a = FloatVector.broadcast(S, gy[g + q]);
                c0 = a.fma(FloatVector.fromArray(S, xt, bi + off[q]), c0);
                c1 = a.fma(FloatVector.fromArray(S, xt, bi + off[q] + VL), c1);
            }
        }
        c0.intoArray(acc, ac);
        c1.intoArray(acc, ac + VL);
    }
}
