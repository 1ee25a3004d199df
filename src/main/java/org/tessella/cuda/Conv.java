package org.tessella.cuda;

import org.tessella.backend.ReduceOp;
import org.tessella.tensor.DType;
import org.tessella.tensor.Tensor;

/**
 * Convolutions, upsampling and pooling on the device (conv.cu, images.cu), on contiguous [N, C, H, W] tensors.
 *
 * <p>On GPUs with tf32 tensor cores (compute capability 8.0 and newer) the convolutions are implicit GEMMs (conv.cu),
 * so nothing the size of a column buffer is written. Where the gathered operand has a multiple of 16 channels (the
 * forward's x, the stride-1 input gradient's gy) and for weight gradients with channel counts of 4s, it is first
 * copied channels last ([n, h, w, c], a memory-bound transpose into a pool scratch buffer; the weights likewise to
 * [o, kh, kw, c]), so that the kernels load their tiles with 16-byte cp.async copies through a 4-stage pipeline; the
 * stride-1 input gradient is the forward kernel run on gy with the weights transposed and their taps reversed, and
 * the weight gradient reads gy as it is when its pixels are a multiple of 16. Layers with at most 4 channels on one
 * side (vq-s's first and last) take direct float32 kernels; every other shape, and the stride-2 input gradient (by stride classes of input pixels, each with only the
 * taps that reach it), takes the older kernels that gather from [N, C, H, W] as a tile is loaded. Outputs are always
 * [N, C, H, W]. TF32 and BF16 matmul precision run one tf32 mma per product; FP32 runs 3xTF32 (each operand split
 * into a tf32 head and its remainder, three mma per product, each 16-deep K step's sum added in float32), which meets
 * the same float32 checks as the exact path (CudaChecks: tolerance 1e-4 against the CPU), though it is not bitwise
 * SGEMM. The weight gradients split their long reduction (images x pixels) into ranges fixed by the shapes (and
 * precision) alone and sum the partial tiles in order, so results are deterministic and the same on every such GPU;
 * they sum the bias gradient in the same pass. {@code TESSELLA_CUDA_CONV=gather} sends every shape to the gathering
 * kernels, {@code TESSELLA_CUDA_CONV=im2col} every precision to the explicit path below (exact SGEMM at FP32);
 * pointwise convolutions always go straight to cuBLAS, as does everything on older GPUs.
 *
 * <p>The explicit path is im2col + cuBLAS: col[n] [C*kh*kw, Ho*Wo] from x[n] (a 1x1, stride-1, unpadded
 * convolution uses x itself), then y[n] = W [O, C*kh*kw] col[n] as one strided-batched GEMM (W reused with stride 0,
 * y pre-filled with the bias and beta = 1, as the CPU does). The input gradient is gcol[n] = W^T gy[n] followed by
 * col2im, a gather that sums each pixel's taps in order; the weight gradient is one batched GEMM of per-image
 * partials gy[n] col[n]^T, summed over images in order by the column reduction, and the bias gradient a reduction of
 * gy over N, H and W. Images go in chunks so that a column buffer stays under {@link #COL_LIMIT} floats. The GEMMs
 * follow the backend's matmul precision ({@link GemmPrecision}).
 */
final class Conv {
    private static final String M = "images";
    /** Largest column buffer (floats) per chunk of images: 64 Mi floats, 256 MiB. */
    private static final long COL_LIMIT = 64L << 20;
    private static final String IMPLICIT = "conv";
    /** The implicit GEMMs' tile sizes (conv.cu's CONV_BM, CONV_BN, CONV_BK) and threads per block. */
    private static final int BM = 64, BN = 128, BK = 32, THREADS = 128;
    /** Blocks the weight gradient aims for when it splits K (a constant, so the split depends on the shapes alone). */
    private static final int SPLIT_TARGET_BLOCKS = 1024;
    private static final String MODE = String.valueOf(System.getenv("TESSELLA_CUDA_CONV")).trim().toLowerCase(java.util.Locale.ROOT);
    private static final boolean IM2COL = MODE.equals("im2col");
    /** {@code TESSELLA_CUDA_CONV=gather}: the gathering kernels for every shape (no channels-last copies). */
    private static final boolean GATHER = MODE.equals("gather");
    /** The channels-last kernels' threads, K per stage and pipeline stages (conv.cu's CL_THREADS, CL_BK, CL_STAGES). */
    private static final int CL_THREADS = 256, CL_BK = 16, CL_STAGES = 4;
    /**
     * Blocks the channels-last weight gradient aims for when it splits K (constants per precision, so the split
     * depends on the shapes alone).
     */
    private static final int CL_SPLIT_TF32 = 256, CL_SPLIT_3XTF32 = 512;

    private final CudaBackend be;

    Conv(CudaBackend be) { this.be = be; }

    /** Whether the implicit-GEMM kernels run this geometry (their pixel and K indices are 32-bit). */
    private boolean implicitFits(Geo g) {
        long pixels = (long) g.n() * Math.max((long) g.p(), (long) g.h() * g.w());
        return !IM2COL && be.info().major() >= 8 && !g.pointwise() && pixels < Integer.MAX_VALUE
                && (long) g.o() * g.ckk() < Integer.MAX_VALUE;
    }

    private static int tiles(int v, int t) { return (v + t - 1) / t; }

    /**
     * The input gradient's blocks: per stride class (qh, qw) of input pixels (conv.cu's conv_class: the pixels with
     * (ih + pad) % s = qh and (iw + pad) % s = qw), the tiles of its n * Hq * Wq pixels times the channel tiles.
     */
    private static int inputGradientTiles(Geo g) {
        int s = g.stride(), total = 0;
        for (int qh = 0; qh < s; qh++) {
            for (int qw = 0; qw < s; qw++) {
                int ihq = Math.floorMod(qh - g.pad(), s), iwq = Math.floorMod(qw - g.pad(), s);
                int hq = ihq < g.h() ? (g.h() - 1 - ihq) / s + 1 : 0, wq = iwq < g.w() ? (g.w() - 1 - iwq) / s + 1 : 0;
                total += tiles(g.c(), BM) * tiles(g.n() * hq * wq, BN);
            }
        }
        return total;
    }

    private String variant(String kernel) { return kernel + (be.matmulPrecision() == GemmPrecision.FP32 ? "_3xtf32" : "_tf32"); }

    /** {@code aux}: forward, the bias (or null); weight gradient, the bias gradient or its per-range partials (or null). */
    private void launchImplicit(String kernel, Geo g, int gridX, int gridY, Tensor a, Tensor b, Tensor out, Tensor aux,
                                int kPerSplit) {
        String name = variant(kernel);
        be.launch(be.kernel(IMPLICIT, name), gridX, gridY, THREADS, 0, KernelArgs.begin()
                .i32(g.n()).i32(g.c()).i32(g.h()).i32(g.w()).i32(g.o()).i32(g.kh()).i32(g.kw()).i32(g.stride())
                .i32(g.pad()).i32(g.ho()).i32(g.wo()).ptr(be.ptr(a)).ptr(be.ptr(b)).ptr(be.ptr(out))
                .ptr(aux == null ? 0L : be.ptr(aux)).i32(kPerSplit),
                () -> String.format("%s %d->%d %dx%d k%d s%d", name, g.c(), g.o(), g.h(), g.w(), g.kh(), g.stride()));
    }

    /** Geometry of x [n, c, h, w] * w [o, c, kh, kw] -> y [n, o, ho, wo]. */
    private record Geo(int n, int c, int h, int w, int o, int kh, int kw, int stride, int pad, int ho, int wo) {
        static Geo of(Tensor x, Tensor w, Tensor y, int stride, int pad) {
            return new Geo(x.shape(0), x.shape(1), x.shape(2), x.shape(3), w.shape(0), w.shape(2), w.shape(3), stride, pad,
                    y.shape(2), y.shape(3));
        }

        int ckk() { return c * kh * kw; }

        int p() { return ho * wo; }

        boolean pointwise() { return kh == 1 && kw == 1 && stride == 1 && pad == 0; }

        /** Images per chunk so that a chunk's column buffer fits COL_LIMIT. */
        int chunk() { return (int) Math.max(1, Math.min(n, COL_LIMIT / Math.max(1L, (long) ckk() * p()))); }
    }

    private void im2col(Geo g, Tensor x, int n0, int nc, Tensor col) {
        be.launch(be.kernel(M, "im2col"), nc * g.ckk() * g.p(), KernelArgs.begin().i32(nc).i32(g.c()).i32(g.h()).i32(g.w())
                .i32(g.kh()).i32(g.kw()).i32(g.stride()).i32(g.pad()).i32(g.ho()).i32(g.wo())
                .ptr(be.ptr(x) + 4L * n0 * g.c() * g.h() * g.w()).ptr(be.ptr(col)));
    }

    void conv2d(Tensor x, Tensor w, Tensor bias, int stride, int padding, Tensor y) {
        be.requireContiguous("conv2d", x, w, y);
        Geo g = Geo.of(x, w, y, stride, padding);
        if (g.n() == 0 || g.o() == 0 || g.p() == 0) return;
        if (implicitFits(g)) {
            if (thin(g)) {
                be.launch(be.kernel(IMPLICIT, "conv_thin_forward"), g.n() * g.p(), thinArgs(g).ptr(be.ptr(x))
                        .ptr(be.ptr(w)).ptr(bias == null ? 0L : be.ptr(bias)).ptr(be.ptr(y)));
                return;
            }
            if (channelsLastFits(g, g.c())) {
                channelsLastForward(g, x, w, bias, y);
                return;
            }
            launchImplicit("conv_forward", g, tiles(g.o(), BM) * tiles(g.n() * g.p(), BN), 1, w, x, y, bias, 0);
            return;
        }
        Tensor yv = y.reshape(g.n(), g.o(), g.p()), wm = w.reshape(1, g.o(), g.ckk());
        float beta = 0f;
        if (bias != null) {
            be.copy(bias.reshape(1, g.o(), 1).expand(g.n(), g.o(), g.p()), yv);
            beta = 1f;
        }
        if (g.pointwise()) {
            be.matmul(wm, false, x.reshape(g.n(), g.c(), g.h() * g.w()), false, yv, 1f, beta);
            return;
        }
        int chunk = g.chunk();
        Tensor col = be.scratch(DType.F32, chunk, g.ckk(), g.p());
        for (int n0 = 0; n0 < g.n(); n0 += chunk) {
            int nc = Math.min(chunk, g.n() - n0);
            Tensor cv = nc == chunk ? col : col.slice(0, 0, nc);
            im2col(g, x, n0, nc, cv);
            be.matmul(wm, false, cv, false, yv.slice(0, n0, n0 + nc), 1f, beta);
        }
        be.release(col);
    }

    void conv2dBackwardInput(Tensor gy, Tensor w, int stride, int padding, Tensor gx) {
        be.requireContiguous("conv2dBackwardInput", gy, w, gx);
        Geo g = Geo.of(gx, w, gy, stride, padding);
        if (g.n() == 0 || g.c() == 0) return;
        if (implicitFits(g)) {
            if (thin(g)) {
                be.launch(be.kernel(IMPLICIT, "conv_thin_backward_input"), g.n() * g.h() * g.w(), thinArgs(g)
                        .ptr(be.ptr(gy)).ptr(be.ptr(w)).ptr(be.ptr(gx)));
                return;
            }
            if (g.stride() == 1 && channelsLastFits(g, g.o())) {
                channelsLastInputGradient(g, gy, w, gx);
                return;
            }
            launchImplicit("conv_backward_input", g, inputGradientTiles(g), 1, w, gy, gx, null, 0);
            return;
        }
        Tensor gyv = gy.reshape(g.n(), g.o(), g.p()), wm = w.reshape(1, g.o(), g.ckk());
        if (g.pointwise()) {
            be.matmul(wm, true, gyv, false, gx.reshape(g.n(), g.c(), g.h() * g.w()), 1f, 0f);
            return;
        }
        int chunk = g.chunk();
        Tensor col = be.scratch(DType.F32, chunk, g.ckk(), g.p());
        for (int n0 = 0; n0 < g.n(); n0 += chunk) {
            int nc = Math.min(chunk, g.n() - n0);
            Tensor cv = nc == chunk ? col : col.slice(0, 0, nc);
            be.matmul(wm, true, gyv.slice(0, n0, n0 + nc), false, cv, 1f, 0f);
            be.launch(be.kernel(M, "col2im"), nc * g.c() * g.h() * g.w(), KernelArgs.begin().i32(nc).i32(g.c())
                    .i32(g.h()).i32(g.w()).i32(g.kh()).i32(g.kw()).i32(g.stride()).i32(g.pad()).i32(g.ho()).i32(g.wo())
                    .ptr(be.ptr(cv)).ptr(be.ptr(gx) + 4L * n0 * g.c() * g.h() * g.w()));
        }
        be.release(col);
    }

    void conv2dBackwardWeight(Tensor gy, Tensor x, int stride, int padding, Tensor gw, Tensor gBias) {
        be.requireContiguous("conv2dBackwardWeight", gy, x, gw);
        Geo g = Geo.of(x, gw, gy, stride, padding);
        Tensor gyv = gy.reshape(g.n(), g.o(), g.p());
        if (g.n() == 0 || g.p() == 0) {
            be.fill(gw, 0f);
            if (gBias != null) be.fill(gBias, 0f);
            return;
        }
        if (implicitFits(g)) {
            if (thin(g) && g.kh() <= 4 && g.kw() <= 4) {
                thinWeightGradient(g, gy, x, gw, gBias);
                return;
            }
            if (!GATHER && g.c() % 4 == 0 && (g.o() % 4 == 0 || g.p() % CL_BK == 0)) {
                channelsLastWeightGradient(g, gy, x, gw, gBias);
                return;
            }
            implicitWeightGradient(g, gy, x, gw, gBias);
            return;
        }
        // per-image partials gy[n] col[n]^T, then their sum over images in order
        Tensor partial = be.scratch(DType.F32, g.n(), g.o(), g.ckk());
        if (g.pointwise()) {
            be.matmul(gyv, false, x.reshape(g.n(), g.c(), g.h() * g.w()), true, partial, 1f, 0f);
        } else {
            int chunk = g.chunk();
            Tensor col = be.scratch(DType.F32, chunk, g.ckk(), g.p());
            for (int n0 = 0; n0 < g.n(); n0 += chunk) {
                int nc = Math.min(chunk, g.n() - n0);
                Tensor cv = nc == chunk ? col : col.slice(0, 0, nc);
                im2col(g, x, n0, nc, cv);
                be.matmul(gyv.slice(0, n0, n0 + nc), false, cv, true, partial.slice(0, n0, n0 + nc), 1f, 0f);
            }
            be.release(col);
        }
        be.reduce(ReduceOp.SUM, partial.reshape(g.n(), g.o() * g.ckk()), gw.reshape(1, g.o() * g.ckk()));
        be.release(partial);
        if (gBias != null) be.reduce(ReduceOp.SUM, gyv, gBias.reshape(1, g.o(), 1));
    }

    /**
     * gw = sum over images and output pixels of gy x^T, with K (images x pixels) cut into ranges of a multiple of BK
     * such that about {@link #SPLIT_TARGET_BLOCKS} blocks run; each range's tile goes to its own slice of a partial
     * buffer, summed over the ranges in order (one range writes gw itself). The bias gradient comes out of the same
     * pass (the blocks of the first column tile sum the gy rows they load), per range, summed the same way.
     */
    private void implicitWeightGradient(Geo g, Tensor gy, Tensor x, Tensor gw, Tensor gBias) {
        int tiles = tiles(g.o(), BM) * tiles(g.ckk(), BN), k = g.n() * g.p(), kTiles = tiles(k, BK);
        int wanted = Math.max(1, Math.min(kTiles, tiles(SPLIT_TARGET_BLOCKS, tiles)));
        int kPerSplit = tiles(kTiles, wanted) * BK, splits = tiles(k, kPerSplit);
        if (splits == 1) {
            launchImplicit("conv_backward_weight", g, tiles, 1, gy, x, gw, gBias, kPerSplit);
            return;
        }
        Tensor partial = be.scratch(DType.F32, splits, g.o(), g.ckk());
        Tensor biasPartial = gBias == null ? null : be.scratch(DType.F32, splits, g.o());
        launchImplicit("conv_backward_weight", g, tiles, splits, gy, x, partial, biasPartial, kPerSplit);
        be.reduce(ReduceOp.SUM, partial.reshape(splits, g.o() * g.ckk()), gw.reshape(1, g.o() * g.ckk()));
        be.release(partial);
        if (biasPartial != null) {
            be.reduce(ReduceOp.SUM, biasPartial, gBias.reshape(1, g.o()));
            be.release(biasPartial);
        }
    }

    // ---- thin convolutions (conv.cu's conv_thin_*) -----------------------------------------------------------------

    /** At most 4 output or input channels: direct float32 sums, where a GEMM tile would be mostly padding. */
    private static boolean thin(Geo g) { return !GATHER && (g.o() <= 4 || g.c() <= 4); }

    private static KernelArgs thinArgs(Geo g) {
        return KernelArgs.begin().i32(g.n()).i32(g.c()).i32(g.h()).i32(g.w()).i32(g.o()).i32(g.kh()).i32(g.kw())
                .i32(g.stride()).i32(g.pad()).i32(g.ho()).i32(g.wo());
    }

    /** Images per block of conv.cu's conv_thin_backward_weight (CONV_THIN_IMAGES). */
    private static final int THIN_IMAGES = 8;

    /**
     * Partials of gw (and of the bias gradient) per chunk of {@link #THIN_IMAGES} images, from one block per
     * (chunk, o, c), summed over the chunks in order.
     */
    private void thinWeightGradient(Geo g, Tensor gy, Tensor x, Tensor gw, Tensor gBias) {
        int chunks = tiles(g.n(), THIN_IMAGES);
        Tensor partial = be.scratch(DType.F32, chunks, g.o() * g.ckk());
        Tensor biasPartial = gBias == null ? null : be.scratch(DType.F32, chunks, g.o());
        be.launchGrid(be.kernel(IMPLICIT, "conv_thin_backward_weight"), chunks * g.o() * g.c(), 256, thinArgs(g)
                .ptr(be.ptr(gy)).ptr(be.ptr(x)).ptr(be.ptr(partial)).ptr(biasPartial == null ? 0L : be.ptr(biasPartial)));
        be.reduce(ReduceOp.SUM, partial, gw.reshape(1, g.o() * g.ckk()));
        be.release(partial);
        if (biasPartial != null) {
            be.reduce(ReduceOp.SUM, biasPartial, gBias.reshape(1, g.o()));
            be.release(biasPartial);
        }
    }

    // ---- channels-last implicit GEMMs (conv.cu's conv_cl_*) ------------------------------------------------------

    /** Whether the channels-last forward kernel runs g with {@code run} channels in the gathered operand's K runs. */
    private boolean channelsLastFits(Geo g, int run) {
        return !GATHER && run % CL_BK == 0 && g.kh() * g.kw() <= 32;
    }

    private boolean tf32() { return be.matmulPrecision() != GemmPrecision.FP32; }

    /** src [n, c, hw] -> dst [n, hw, c], rounded to tf32 when {@code round}. */
    private void toChannelsLast(Tensor src, int n, int c, int hw, Tensor dst, boolean round) {
        be.launch(be.kernel(IMPLICIT, "conv_channels_last"), n * tiles(hw, 32), tiles(c, 32), 256, 0, KernelArgs.begin()
                .i32(n).i32(c).i32(hw).ptr(be.ptr(src)).ptr(be.ptr(dst)).i32(round ? 1 : 0),
                () -> String.format("conv_channels_last [%d, %d, %d]", n, c, hw));
    }

    /** w [o, c, kh, kw] -> [o, kh, kw, c], or (flip) -> [c, kh, kw, o] with the taps reversed. */
    private Tensor weightChannelsLast(Tensor w, Geo g, boolean flip, boolean round) {
        Tensor dst = be.scratch(DType.F32, g.o() * g.ckk());
        be.launch(be.kernel(IMPLICIT, "conv_weight_channels_last"), g.o() * g.ckk(), KernelArgs.begin().i32(g.o()).i32(g.c())
                .i32(g.kh()).i32(g.kw()).i32(flip ? 1 : 0).i32(round ? 1 : 0).ptr(be.ptr(w)).ptr(be.ptr(dst)));
        return dst;
    }

    /**
     * One channels-last kernel with {@code shared} bytes of dynamic shared memory: {@code geo} is conv.cu's ClGeo (the
     * gathered operand [n, h, w, c], M = m, output grid ho x wo), then its operands.
     */
    private void launchChannelsLast(String kernel, int shared, int[] geo, int gridX, int gridY, Tensor a, Tensor b,
                                    Tensor out, Tensor aux, int kPerSplit, String label) {
        KernelArgs args = KernelArgs.begin();
        for (int v : geo) args.i32(v);
        args.ptr(be.ptr(a)).ptr(be.ptr(b)).ptr(be.ptr(out)).ptr(aux == null ? 0L : be.ptr(aux)).i32(kPerSplit);
        be.launch(be.kernel(IMPLICIT, kernel, shared), gridX, gridY, CL_THREADS, shared, args, () -> kernel + " " + label);
    }

    /** conv.cu's conv_cl_forward_BMxBN_(3x)tf32 over its pipeline's shared memory. */
    private void launchForward(int bm, int bn, int[] geo, int gridX, Tensor a, Tensor b, Tensor out, Tensor bias,
                               String label) {
        String name = "conv_cl_forward_" + bm + "x" + bn + (tf32() ? "_tf32" : "_3xtf32");
        launchChannelsLast(name, 4 * CL_STAGES * CL_BK * (bm + bn), geo, gridX, 1, a, b, out, bias, 0, label);
    }

    private String label(Geo g) {
        return String.format("%d->%d %dx%d k%d s%d", g.c(), g.o(), g.h(), g.w(), g.kh(), g.stride());
    }

    /**
     * The forward tile for M rows and N columns: 64 x 256 up to 64 rows, else 128 x 128, halved in N when that
     * makes fewer than 256 blocks (3xTF32: always halved, for its registers). Each output's sum is the same for
     * every tile.
     */
    private int[] forwardTile(int m, int n) {
        int bm = m <= 64 ? 64 : 128, bn = m <= 64 ? 256 : 128;
        if (!tf32() || tiles(m, bm) * tiles(n, bn) < 256) bn /= 2;
        return new int[]{bm, bn};
    }

    /**
     * y = w * x with x and w copied channels last ([n, h, w, c] and [o, kh, kw, c], rounded to tf32 for the TF32
     * kernels), so each tap's K run is c contiguous floats.
     */
    private void channelsLastForward(Geo g, Tensor x, Tensor w, Tensor bias, Tensor y) {
        boolean round = tf32();
        Tensor xs = be.scratch(DType.F32, g.n() * g.h() * g.w() * g.c());
        toChannelsLast(x, g.n(), g.c(), g.h() * g.w(), xs, round);
        Tensor ws = weightChannelsLast(w, g, false, round);
        int[] t = forwardTile(g.o(), g.n() * g.p());
        int[] geo = {g.n(), g.c(), g.h(), g.w(), g.o(), g.kh(), g.kw(), g.stride(), g.pad(), g.pad(), g.ho(), g.wo()};
        launchForward(t[0], t[1], geo, tiles(g.o(), t[0]) * tiles(g.n() * g.p(), t[1]), ws, xs, y, bias,
                "forward " + label(g));
        be.release(xs);
        be.release(ws);
    }

    /**
     * At stride 1 the input gradient is a forward convolution of gy (channels last) with the weights transposed to
     * [c, kh, kw, o] and their taps reversed, padded by k - 1 - pad: gx[c, ih, iw] = sum of w[o, c, a, b] gy[o, ih +
     * pad - a, iw + pad - b].
     */
    private void channelsLastInputGradient(Geo g, Tensor gy, Tensor w, Tensor gx) {
        boolean round = tf32();
        Tensor gys = be.scratch(DType.F32, g.n() * g.p() * g.o());
        toChannelsLast(gy, g.n(), g.o(), g.p(), gys, round);
        Tensor wf = weightChannelsLast(w, g, true, round);
        int[] t = forwardTile(g.c(), g.n() * g.h() * g.w());
        int[] geo = {g.n(), g.o(), g.ho(), g.wo(), g.c(), g.kh(), g.kw(), 1, g.kh() - 1 - g.pad(), g.kw() - 1 - g.pad(),
                g.h(), g.w()};
        launchForward(t[0], t[1], geo, tiles(g.c(), t[0]) * tiles(g.n() * g.h() * g.w(), t[1]), wf, gys, gx, null,
                "input grad " + label(g));
        be.release(gys);
        be.release(wf);
    }

    /**
     * gw = sum over pixels of gy x^T with x channels last, so a K row (one pixel) of x is contiguous; gy as it is when
     * P % 16 == 0 (a K tile then stays in one image), else channels last too (exact: the kernel sums the bias from
     * it; x is rounded for TF32). K is cut into ranges fixed by the shapes and the precision's split target; each
     * range writes its own partial (and bias partial), summed in order.
     */
    private void channelsLastWeightGradient(Geo g, Tensor gy, Tensor x, Tensor gw, Tensor gBias) {
        boolean nchw = g.p() % CL_BK == 0;
        Tensor gys = null;
        if (!nchw) {
            gys = be.scratch(DType.F32, g.n() * g.p() * g.o());
            toChannelsLast(gy, g.n(), g.o(), g.p(), gys, false);
        }
        Tensor xs = be.scratch(DType.F32, g.n() * g.h() * g.w() * g.c());
        toChannelsLast(x, g.n(), g.c(), g.h() * g.w(), xs, tf32());
        int bm = tf32() && g.o() > 64 && !nchw ? 128 : 64, bn = 128;
        int tiles = tiles(g.o(), bm) * tiles(g.ckk(), bn), k = g.n() * g.p(), kTiles = tiles(k, CL_BK);
        int wanted = Math.max(1, Math.min(kTiles, tiles(tf32() ? CL_SPLIT_TF32 : CL_SPLIT_3XTF32, tiles)));
        int kPerSplit = tiles(kTiles, wanted) * CL_BK, splits = tiles(k, kPerSplit);
        int[] geo = {g.n(), g.c(), g.h(), g.w(), g.o(), g.kh(), g.kw(), g.stride(), g.pad(), g.pad(), g.ho(), g.wo()};
        String name = "conv_cl_weight_grad_" + (nchw ? "nchw_" : "") + bm + "x" + bn + (tf32() ? "_tf32" : "_3xtf32");
        int pipeline = 4 * CL_STAGES * CL_BK * (nchw ? bm + bn : bm + bn + 16);
        Tensor partial = be.scratch(DType.F32, splits, g.o(), g.ckk());
        Tensor biasPartial = gBias == null ? null : splits == 1 ? gBias : be.scratch(DType.F32, splits, g.o());
        launchChannelsLast(name, Math.max(pipeline, 4 * bm * bn), geo, tiles, splits, nchw ? gy : gys, xs, partial,
                biasPartial, kPerSplit, "weight grad " + label(g) + " splits " + splits);
        be.launch(be.kernel(IMPLICIT, "conv_cl_weight_grad_sum"), g.o() * g.ckk(), KernelArgs.begin().i32(splits)
                .i32(g.o()).i32(g.c()).i32(g.kh() * g.kw()).ptr(be.ptr(partial)).ptr(be.ptr(gw)));
        be.release(partial);
        if (biasPartial != null && biasPartial != gBias) {
            be.reduce(ReduceOp.SUM, biasPartial, gBias.reshape(1, g.o()));
            be.release(biasPartial);
        }
        if (gys != null) be.release(gys);
        be.release(xs);
    }

    void upsampleNearest(Tensor x, int factor, Tensor y) {
        be.requireContiguous("upsampleNearest", x, y);
        int planes = x.shape(0) * x.shape(1), h = x.shape(2), w = x.shape(3);
        be.launch(be.kernel(M, "upsample_nearest"), y.numel(), KernelArgs.begin().i32(planes).i32(h).i32(w).i32(factor)
                .ptr(be.ptr(x)).ptr(be.ptr(y)));
    }

    void upsampleNearestBackward(Tensor gy, int factor, Tensor gx) {
        be.requireContiguous("upsampleNearestBackward", gy, gx);
        int planes = gx.shape(0) * gx.shape(1), h = gx.shape(2), w = gx.shape(3);
        be.launch(be.kernel(M, "upsample_nearest_backward"), gx.numel(), KernelArgs.begin().i32(planes).i32(h).i32(w)
                .i32(factor).ptr(be.ptr(gy)).ptr(be.ptr(gx)));
    }

    void avgPool2d(Tensor x, int kernel, int stride, Tensor y) {
        be.requireContiguous("avgPool2d", x, y);
        int planes = x.shape(0) * x.shape(1);
        be.launch(be.kernel(M, "avg_pool"), y.numel(), KernelArgs.begin().i32(planes).i32(x.shape(2)).i32(x.shape(3))
                .i32(kernel).i32(stride).i32(y.shape(2)).i32(y.shape(3)).ptr(be.ptr(x)).ptr(be.ptr(y)));
    }

    void avgPool2dBackward(Tensor gy, int kernel, int stride, Tensor gx) {
        be.requireContiguous("avgPool2dBackward", gy, gx);
        int planes = gx.shape(0) * gx.shape(1);
        be.launch(be.kernel(M, "avg_pool_backward"), gx.numel(), KernelArgs.begin().i32(planes).i32(gx.shape(2))
                .i32(gx.shape(3)).i32(kernel).i32(stride).i32(gy.shape(2)).i32(gy.shape(3)).ptr(be.ptr(gy)).ptr(be.ptr(gx)));
    }
}
