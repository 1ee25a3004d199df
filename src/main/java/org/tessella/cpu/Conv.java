package org.tessella.cpu;

import java.util.Arrays;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import org.tessella.tensor.Tensor;

/**
 * Convolution, nearest-neighbour upsampling and average pooling, on contiguous NCHW tensors.
 *
 * <p>3x3 stride-1 pad-1 convolutions whose channels are multiples of 16 (vq-s's wide layers) run all three passes by
 * Winograd's F(4x4, 3x3) ({@link Winograd}: a quarter of the multiply-adds). The others, with w viewed as
 * [O, C*kh*kw] and col(x) the im2col matrix [C*kh*kw, Ho*Wo] of one image:
 * <ul>
 *   <li>Forward, {@code y = w @ col(x) + bias}: an implicit GEMM ({@link ConvGemm}) that never builds col: B is read
 *       straight from a padded copy of each image (or packed from it, panel by panel, for odd row widths), with the
 *       bias added when the first K block is stored. A 1x1 stride-1 unpadded convolution is a batched {@link Gemm}
 *       on x itself.
 *   <li>Input gradient: with stride 1 it is the convolution of gy with the weights transposed and flipped (padding
 *       k-1-pad), the same implicit GEMM; otherwise (stride 2 downsampling, fewer than MR input channels)
 *       {@code gcol = w^T @ gy} per image and col2im, one image per task so gcol stays in that thread's cache.
 *   <li>Weight gradient: one GEMM per kernel tap whose reduction runs over all images and pixels
 *       ({@link ConvWeightGrad}); with stride 1 and fewer than {@link #TAP_MIN_CHANNELS} input or output channels
 *       (the tokenizer's conv_in and conv_out), fixed-order dot products of gy's rows with column-shifted copies of x
 *       ({@link ConvWeightGrad#dots}); otherwise below TAP_MIN_CHANNELS input channels, per-image GEMMs over im2col
 *       chunks whose partials are added in image order. The bias gradient is a double sum per output channel.
 * </ul>
 *
 * <p>Determinism: every GEMM-like kernel here sums each output in a fixed order that does not depend on the thread
 * count or the vector width (see {@link Gemm}, {@link ConvGemm}, {@link ConvWeightGrad}); which path runs depends only
 * on the shapes (Winograd's rule too), except where the paths do the same operations in the same order (ConvGemm's three ways to read B; the
 * pointwise GEMM). col2im and the pooling kernels work per (image, channel) plane, each plane on one thread in a fixed
 * order; the im2col fallback adds its per-image partials in image order; the bias gradient adds pixels in eight
 * interleaved double chains (pixel index mod 8, images in order) combined pairwise, on vectors or scalars alike.
 */
final class Conv {
    private Conv() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int VL = S.length();
    private static final VectorSpecies<Double> D = DoubleVector.SPECIES_PREFERRED;
    private static final int DL = D.length();

    /**
     * Below this many input channels the weight gradient goes through im2col and per-image GEMMs (the tap GEMM would
     * pad the channels to a whole NR-wide vector tile). A constant, so the path never depends on the vector width.
     */
    static final int TAP_MIN_CHANNELS = 8;

    /**
     * Target size of the im2col scratch of the few-channel weight gradient (floats): the chunk of images is chosen to
     * fit it (at least one image), in a per-thread array reused from call to call.
     */
    static final int SCRATCH_FLOATS = 1 << 21;

    private static final ThreadLocal<float[][]> SCRATCH = ThreadLocal.withInitial(() -> new float[][]{new float[0]});

    /** This thread's scratch array, grown to at least len floats (contents undefined). */
    private static float[] scratch(int len) {
        float[][] holder = SCRATCH.get();
        if (holder[0].length < len) holder[0] = new float[len];
        return holder[0];
    }

    /** Geometry of one convolution. */
    private record Geo(int n, int c, int h, int w, int o, int kh, int kw, int stride, int pad, int ho, int wo) {
        static Geo of(Tensor x, Tensor w, Tensor y, int stride, int pad) {
            return new Geo(x.shape(0), x.shape(1), x.shape(2), x.shape(3), w.shape(0), w.shape(2), w.shape(3),
                    stride, pad, y.shape(2), y.shape(3));
        }

        int ckk() { return c * kh * kw; }
        int p() { return ho * wo; }
        int hw() { return h * w; }
        boolean pointwise() { return kh == 1 && kw == 1 && stride == 1 && pad == 0; }
        boolean winograd() { return Winograd.applies(c, o, kh, kw, stride, pad); }
        ConvGemm.Window window() { return new ConvGemm.Window(c, h, w, kh, kw, stride, pad, pad, ho, wo); }
        /** Images per chunk when each takes perImage floats of scratch. */
        int chunk(int perImage) { return (int) Math.max(1, Math.min(n, SCRATCH_FLOATS / Math.max(1L, perImage))); }
    }

    // ---- convolution ---------------------------------------------------------------------------------------------

    static void conv2d(Tensor x, Tensor w, Tensor bias, int stride, int padding, Tensor y) {
        Geo g = Geo.of(x, w, y, stride, padding);
        float[] xa = x.floats(), wa = w.floats(), ya = y.floats();
        int xo = x.offset(), wo = w.offset(), yo = y.offset();
        if (g.pointwise()) { // y[n] = w @ x[n] + bias: x is already col, a batched GEMM
            float beta = 0f;
            if (bias != null) { // y starts as the bias; the GEMM adds w @ x to it (acc + bias, as ConvGemm does)
                float[] ba = bias.floats();
                int bo = bias.offset();
                WorkerPool.global().parallelFor(g.n() * g.o(), 64, (s, e) -> {
                    for (int i = s; i < e; i++) Arrays.fill(ya, yo + i * g.p(), yo + (i + 1) * g.p(), ba[bo + i % g.o()]);
                });
                beta = 1f;
            }
            Gemm.gemm(g.n(), g.o(), g.p(), g.c(), wa, wo, 0, false, xa, xo, g.c() * g.hw(), false, ya, yo, 1f, beta);
            return;
        }
        if (g.winograd()) {
            Winograd.forward(xa, xo, g.n(), g.c(), g.h(), g.w(), wa, wo, g.o(),
                    bias == null ? null : bias.floats(), bias == null ? 0 : bias.offset(), ya, yo);
            return;
        }
        float[] pa = ConvGemm.packRows(wa, wo, g.o(), g.ckk());
        ConvGemm.run(g.window(), g.n(), pa, g.o(), xa, xo, ya, yo,
                bias == null ? null : bias.floats(), bias == null ? 0 : bias.offset());
    }

    static void conv2dBackwardInput(Tensor gy, Tensor w, int stride, int padding, Tensor gx) {
        Geo g = Geo.of(gx, w, gy, stride, padding);
        float[] gya = gy.floats(), wa = w.floats(), gxa = gx.floats();
        int gyo = gy.offset(), wo = w.offset(), gxo = gx.offset();
        if (g.winograd()) {
            Winograd.backwardInput(gya, gyo, g.n(), g.o(), g.h(), g.w(), wa, wo, g.c(), gxa, gxo);
            return;
        }
        if (!g.pointwise() && g.stride() == 1 && g.pad() < g.kh() && g.pad() < g.kw() && g.c() >= Gemm.MR) {
            // gx = gy convolved with the flipped, transposed weights, padding k-1-pad: an implicit GEMM as forward
            float[] pa = ConvGemm.packFlipped(wa, wo, g.o(), g.c(), g.kh(), g.kw());
            ConvGemm.Window win = new ConvGemm.Window(g.o(), g.ho(), g.wo(), g.kh(), g.kw(), 1,
                    g.kh() - 1 - g.pad(), g.kw() - 1 - g.pad(), g.h(), g.w());
            ConvGemm.run(win, g.n(), pa, g.c(), gya, gyo, gxa, gxo, null, 0);
            return;
        }
        int op = g.o() * g.p();
        if (g.pointwise()) { // gx[n] = w^T @ gy[n], w stored [O, C]
            Gemm.gemm(g.n(), g.c(), g.hw(), g.o(), wa, wo, 0, true, gya, gyo, op, false, gxa, gxo, 1f, 0f);
            return;
        }
        // Strided (or over-padded): gcol = w^T @ gy[n], then col2im, one image per task unit, so that an image's
        // gcol stays in its thread's cache between the GEMM (which then runs inline on that thread) and col2im. The
        // GEMM is ConvGemm's with a 1x1 window over gy[n] (B read in place) and w^T packed once for all images (Gemm
        // packed it again for every image: 16% of the 64-channel layer's time); one K block either way, same bits.
        int colSize = g.ckk() * g.p(), chw = g.c() * g.hw();
        float[] pa = ConvGemm.packTransposed(wa, wo, g.ckk(), g.o());
        ConvGemm.Window gyWin = new ConvGemm.Window(g.o(), g.ho(), g.wo(), 1, 1, 1, 0, 0, g.ho(), g.wo());
        WorkerPool.global().parallelFor(g.n(), 1, (s, e) -> {
            float[] col = scratch(colSize);
            for (int i = s; i < e; i++) {
                ConvGemm.run(gyWin, 1, pa, g.ckk(), gya, gyo + i * op, col, 0, null, 0);
                for (int ch = 0; ch < g.c(); ch++)
                    col2imPlane(g, col, ch * g.kh() * g.kw() * g.p(), gxa, gxo + i * chw + ch * g.hw());
            }
        });
    }

    static void conv2dBackwardWeight(Tensor gy, Tensor x, int stride, int padding, Tensor gw, Tensor gBias) {
        Geo g = Geo.of(x, gw, gy, stride, padding);
        float[] gya = gy.floats(), xa = x.floats(), gwa = gw.floats();
        int gyo = gy.offset(), xo = x.offset(), gwo = gw.offset();
        int op = g.o() * g.p(), chw = g.c() * g.hw();
        if (g.winograd()) {
            Winograd.backwardWeight(gya, gyo, xa, xo, g.n(), g.c(), g.h(), g.w(), g.o(), gwa, gwo);
        } else if (g.stride() == 1 && Math.min(g.c(), g.o()) < TAP_MIN_CHANNELS && !g.pointwise()) {
            ConvWeightGrad.dots(g.n(), g.c(), g.h(), g.w(), g.o(), g.kh(), g.kw(), g.pad(), g.ho(), g.wo(),
                    gya, gyo, xa, xo, gwa, gwo);
        } else if (g.c() >= TAP_MIN_CHANNELS) {
            ConvWeightGrad.run(g.n(), g.c(), g.h(), g.w(), g.o(), g.kh(), g.kw(), g.stride(), g.pad(), g.ho(), g.wo(),
                    gya, gyo, xa, xo, gwa, gwo);
        } else {
            // few input channels: gw = sum over images, in order, of gy[n] [O, P] @ col[n]^T, col[n] [CKK, P]: one
            // batched GEMM per chunk into per-image partials, then the partials added to gw in image order.
            int colSize = g.pointwise() ? 0 : g.ckk() * g.p(), partSize = g.o() * g.ckk();
            int chunk = g.chunk(colSize + partSize);
            float[] buf = scratch(chunk * (colSize + partSize));
            int partOff = chunk * colSize;
            for (int n0 = 0; n0 < g.n(); n0 += chunk) {
                int nc = Math.min(chunk, g.n() - n0);
                if (g.pointwise()) {
                    Gemm.gemm(nc, g.o(), g.c(), g.p(), gya, gyo + n0 * op, op, false, xa, xo + n0 * chw, chw, true,
                            buf, partOff, 1f, 0f);
                } else {
                    im2col(g, xa, xo + n0 * chw, nc, buf);
                    Gemm.gemm(nc, g.o(), g.ckk(), g.p(), gya, gyo + n0 * op, op, false, buf, 0, colSize, true,
                            buf, partOff, 1f, 0f);
                }
                sumInto(buf, partOff, partSize, nc, gwa, gwo, n0 == 0);
            }
        }
        if (gBias != null) {
            float[] gba = gBias.floats();
            int gbo = gBias.offset(), p = g.p();
            WorkerPool.global().parallelFor(g.o(), Math.max(1, (1 << 16) / Math.max(1, g.n() * p)), (s, e) -> {
                double[] chains = new double[8];
                for (int o = s; o < e; o++) gba[gbo + o] = biasSum(gya, gyo + o * p, g.n(), op, p, chains);
            });
        }
    }

    /**
     * The sum of p pixels in each of n rows (row i at first + i*stride) as eight double chains, chain j taking pixel
     * indices j mod 8 in order (a row's last p mod 8 pixels go to chain 0), combined pairwise: a fixed order, so that the
     * adds overlap. When rows are whole vectors it runs on vectors that each hold whole chains (the same adds).
     */
    private static float biasSum(float[] a, int first, int n, int stride, int p, double[] c) {
        Arrays.fill(c, 0);
        if (p % VL == 0 && (DL == 8 || DL == 4)) {
            // float lanes [0, 8) of each 8-pixel group go to chains 0-7: with 8 double lanes both halves of a
            // 16-float vector add into one accumulator, in pixel order; with 4, the halves are chains 0-3 and 4-7
            DoubleVector lo = DoubleVector.zero(D), hi = DoubleVector.zero(D);
            for (int i = 0; i < n; i++)
                for (int q = 0, base = first + i * stride; q < p; q += VL) {
                    FloatVector v = FloatVector.fromArray(S, a, base + q);
                    DoubleVector v0 = (DoubleVector) v.convert(VectorOperators.F2D, 0);
                    DoubleVector v1 = (DoubleVector) v.convert(VectorOperators.F2D, 1);
                    if (DL == 8) lo = lo.add(v0).add(v1);
                    else {
                        lo = lo.add(v0);
                        hi = hi.add(v1);
                    }
                }
            lo.intoArray(c, 0);
            if (DL == 4) hi.intoArray(c, 4);
        } else {
            for (int i = 0; i < n; i++) {
                int base = first + i * stride, q = 0;
                for (; q + 8 <= p; q += 8)
                    for (int j = 0; j < 8; j++) c[j] += a[base + q + j];
                for (; q < p; q++) c[0] += a[base + q];
            }
        }
        return (float) (((c[0] + c[1]) + (c[2] + c[3])) + ((c[4] + c[5]) + (c[6] + c[7])));
    }

    /** {@code dst = (first ? 0 : dst) + part[0] + part[1] + ...}, the count parts of len floats added in order. */
    private static void sumInto(float[] part, int partOff, int len, int count, float[] dst, int dOff, boolean first) {
        WorkerPool.global().parallelFor(len, Math.max(VL, (1 << 14) / count), (s, e) -> {
            int i0 = 0;
            if (first) {
                System.arraycopy(part, partOff + s, dst, dOff + s, e - s);
                i0 = 1;
            }
            for (int i = i0; i < count; i++) addTo(part, partOff + i * len + s, dst, dOff + s, e - s);
        });
    }

    /** col[i] [C*kh*kw, Ho*Wo] for images i in [0, count) starting at x[xo], zero where the window is off the image. */
    private static void im2col(Geo g, float[] x, int xo, int count, float[] col) {
        int planes = count * g.c(), colSize = g.ckk() * g.p(), kk = g.kh() * g.kw();
        WorkerPool.global().parallelFor(planes, Math.max(1, (1 << 15) / Math.max(1, kk * g.p())), (s, e) -> {
            for (int pl = s; pl < e; pl++) {
                int img = pl / g.c(), ch = pl % g.c();
                im2colPlane(g, x, xo + pl * g.hw(), col, img * colSize + ch * kk * g.p());
            }
        });
    }

    /** The kh*kw rows of col that come from one input plane. */
    private static void im2colPlane(Geo g, float[] x, int src, float[] col, int dst) {
        int h = g.h(), w = g.w(), ho = g.ho(), wo = g.wo(), s = g.stride(), pad = g.pad();
        for (int ki = 0; ki < g.kh(); ki++)
            for (int kj = 0; kj < g.kw(); kj++) {
                int row = dst + (ki * g.kw() + kj) * ho * wo;
                // output columns whose input column ow*s - pad + kj lies in [0, w)
                int lo = Math.min(wo, Math.max(0, ceilDiv(pad - kj, s)));
                int hi = Math.max(lo, Math.min(wo, ceilDiv(w + pad - kj, s)));
                for (int oh = 0; oh < ho; oh++) {
                    int ih = oh * s - pad + ki, d = row + oh * wo;
                    if (ih < 0 || ih >= h) {
                        Arrays.fill(col, d, d + wo, 0f);
                        continue;
                    }
                    int line = src + ih * w - pad + kj;
                    Arrays.fill(col, d, d + lo, 0f);
                    if (s == 1) System.arraycopy(x, line + lo, col, d + lo, hi - lo);
                    else for (int ow = lo; ow < hi; ow++) col[d + ow] = x[line + ow * s];
                    Arrays.fill(col, d + hi, d + wo, 0f);
                }
            }
    }

    /** gx plane = the sum of one plane's kh*kw rows of gcol over the input positions they came from (col2im). */
    private static void col2imPlane(Geo g, float[] col, int src, float[] gx, int dst) {
        int h = g.h(), w = g.w(), ho = g.ho(), wo = g.wo(), s = g.stride(), pad = g.pad();
        Arrays.fill(gx, dst, dst + h * w, 0f);
        for (int ki = 0; ki < g.kh(); ki++)
            for (int kj = 0; kj < g.kw(); kj++) {
                int row = src + (ki * g.kw() + kj) * ho * wo;
                int lo = Math.min(wo, Math.max(0, ceilDiv(pad - kj, s)));
                int hi = Math.max(lo, Math.min(wo, ceilDiv(w + pad - kj, s)));
                for (int oh = 0; oh < ho; oh++) {
                    int ih = oh * s - pad + ki;
                    if (ih < 0 || ih >= h) continue;
                    int line = dst + ih * w - pad + kj, d = row + oh * wo;
                    if (s == 1) addTo(col, d + lo, gx, line + lo, hi - lo);
                    else for (int ow = lo; ow < hi; ow++) gx[line + ow * s] += col[d + ow];
                }
            }
    }

    /** {@code dst[d + i] += src[s + i]} for i in [0, len). */
    private static void addTo(float[] src, int s, float[] dst, int d, int len) {
        int i = 0;
        for (; i <= len - VL; i += VL)
            FloatVector.fromArray(S, dst, d + i).add(FloatVector.fromArray(S, src, s + i)).intoArray(dst, d + i);
        for (; i < len; i++) dst[d + i] += src[s + i];
    }

    private static int ceilDiv(int a, int b) {
        return Math.floorDiv(a + b - 1, b);
    }

    // ---- upsampling and pooling (per plane) ----------------------------------------------------------------------

    static void upsampleNearest(Tensor x, int factor, Tensor y) {
        int planes = x.shape(0) * x.shape(1), h = x.shape(2), w = x.shape(3), wy = w * factor;
        float[] xa = x.floats(), ya = y.floats();
        int xo = x.offset(), yo = y.offset();
        WorkerPool.global().parallelFor(planes, Math.max(1, (1 << 15) / (h * w * factor * factor)), (s, e) -> {
            for (int pl = s; pl < e; pl++)
                for (int i = 0; i < h; i++) {
                    int src = xo + (pl * h + i) * w, d = yo + (pl * h + i) * factor * wy;
                    for (int j = 0; j < w; j++) Arrays.fill(ya, d + j * factor, d + (j + 1) * factor, xa[src + j]);
                    for (int r = 1; r < factor; r++) System.arraycopy(ya, d, ya, d + r * wy, wy);
                }
        });
    }

    /** gx[i, j] = the sum of gy over its factor x factor block, rows then columns. */
    static void upsampleNearestBackward(Tensor gy, int factor, Tensor gx) {
        int planes = gx.shape(0) * gx.shape(1), h = gx.shape(2), w = gx.shape(3), wy = w * factor;
        float[] ga = gy.floats(), gxa = gx.floats();
        int go = gy.offset(), gxo = gx.offset();
        WorkerPool.global().parallelFor(planes, Math.max(1, (1 << 15) / (h * w * factor * factor)), (s, e) -> {
            for (int pl = s; pl < e; pl++)
                for (int i = 0; i < h; i++)
                    for (int j = 0; j < w; j++) {
                        int src = go + (pl * h + i) * factor * wy + j * factor;
                        float sum = 0f;
                        for (int a = 0; a < factor; a++)
                            for (int b = 0; b < factor; b++) sum += ga[src + a * wy + b];
                        gxa[gxo + (pl * h + i) * w + j] = sum;
                    }
        });
    }

    /** y = the mean of each kernel x kernel window (summed row by row, then divided by kernel^2). */
    static void avgPool2d(Tensor x, int kernel, int stride, Tensor y) {
        int planes = x.shape(0) * x.shape(1), h = x.shape(2), w = x.shape(3), ho = y.shape(2), wo = y.shape(3);
        float[] xa = x.floats(), ya = y.floats();
        int xo = x.offset(), yo = y.offset();
        float area = kernel * kernel;
        WorkerPool.global().parallelFor(planes, Math.max(1, (1 << 15) / Math.max(1, ho * wo * kernel * kernel)), (s, e) -> {
            for (int pl = s; pl < e; pl++)
                for (int oh = 0; oh < ho; oh++)
                    for (int ow = 0; ow < wo; ow++) {
                        int src = xo + (pl * h + oh * stride) * w + ow * stride;
                        float sum = 0f;
                        for (int a = 0; a < kernel; a++)
                            for (int b = 0; b < kernel; b++) sum += xa[src + a * w + b];
                        ya[yo + (pl * ho + oh) * wo + ow] = sum / area;
                    }
        });
    }

    /** gx = each gy / kernel^2 spread over its window, windows in row-major order (overlaps add in that order). */
    static void avgPool2dBackward(Tensor gy, int kernel, int stride, Tensor gx) {
        int planes = gx.shape(0) * gx.shape(1), h = gx.shape(2), w = gx.shape(3), ho = gy.shape(2), wo = gy.shape(3);
        float[] ga = gy.floats(), gxa = gx.floats();
        int go = gy.offset(), gxo = gx.offset();
        float area = kernel * kernel;
        WorkerPool.global().parallelFor(planes, Math.max(1, (1 << 15) / Math.max(1, ho * wo * kernel * kernel)), (s, e) -> {
            for (int pl = s; pl < e; pl++) {
                int base = gxo + pl * h * w;
                Arrays.fill(gxa, base, base + h * w, 0f);
                for (int oh = 0; oh < ho; oh++)
                    for (int ow = 0; ow < wo; ow++) {
                        float v = ga[go + (pl * ho + oh) * wo + ow] / area;
                        int d = base + oh * stride * w + ow * stride;
                        for (int a = 0; a < kernel; a++)
                            for (int b = 0; b < kernel; b++) gxa[d + a * w + b] += v;
                    }
            }
        });
    }
}
