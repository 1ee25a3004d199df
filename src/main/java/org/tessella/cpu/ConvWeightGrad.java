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
