// Implicit-GEMM convolutions on the tensor cores (compute capability 8.0 and newer: mma.sync with tf32 inputs).
// The three products of a convolution are GEMMs whose image operand is gathered while a tile is loaded, so no column
// buffer is written to memory (im2col moved 9x the input through DRAM twice):
//   forward          y[n, o, p]  = sum over k = (c, a, b)   of w[o, c, a, b] * x[n, c, ih, iw]   M = O, N = n*P, K = C*kh*kw
//   input gradient   gx[n, c, q] = sum over k = (o, a, b)   of w[o, c, a, b] * gy[n, o, oh, ow]  M = C, N = n*H*W, K = O*kh*kw
//   weight gradient  gw[o, k]    = sum over j = (n, oh, ow) of gy[n, o, oh, ow] * x[n, c, ih, iw] M = O, N = C*kh*kw, K = n*P
// with ih = oh*stride - pad + a, iw = ow*stride - pad + b, and zero wherever that falls outside the image (for the
// input gradient: where no output pixel reads the input pixel through tap (a, b)).
//
// Three families, picked by Conv.java from the shapes:
// - Channels last (conv_cl_*, the bulk of vq-s): the gathered operand is first copied to [n, h, w, c] (and the weights
//   to [o, kh, kw, c]) by the memory-bound transposes at the end of this file, so every tap's K run is c contiguous
//   floats and a tile row is 16-byte cp.async copies (zero-filled outside the image), through a 4-stage pipeline in
//   shared memory. 256 threads (8 warps as 2 x 4) per block, tiles of 64 x 256 or 128 x 128 (halved in N when that
//   leaves under 256 blocks; 64 x 128 and 128 x 64 at 3xTF32, for its registers), 16 of K per stage; fragments are
//   float4 reads (see cl_forward and cl_weight_grad for the layouts that keep them conflict-free). The stride-1 input
//   gradient is the forward kernel applied to gy (channels last) with the weights as [c, kh, kw, o], taps reversed,
//   padded by k - 1 - pad. The weight gradient reads gy as it is when its pixels are a multiple of 16 (else from a
//   channels-last copy too) and writes its partial tiles through shared memory in whole rows. The outputs are
//   written [N, C, H, W] as the rest of the backend expects. Needs c % 16 == 0 (the gathered channels) for the
//   forward kernel, c % 4 == 0 (and o % 4 == 0 for a channels-last gy) for the weight gradient.
// - Thin (conv_thin_*, at most 4 channels on one side): direct float32 sums, a thread per pixel.
// - Gathering (conv_forward_*, conv_backward_*: every other shape, and the stride-2 input gradient): one block of 128
//   threads (4 warps as 2 x 2, each 32 x 64) computes a 64 x 128 tile of C, 16 of K at a time, the next tile's 4-byte
//   gathers from [N, C, H, W] going to registers while the warps run on the current one in shared memory (A as
//   [m][k], B as [k][n]; row strides 20 and 136 words put every fragment read in its own bank); image taps are
//   stepped (channel, a, b) row by row instead of divided out. The input gradient goes by stride classes of input
//   pixels, each with only the taps that reach it (see conv_class). On vq-s this ran 10-40% faster than 32-deep K
//   tiles and than cp.async pipelines whose copies were 4-byte gathers from [N, C, H, W]; the channels-last copies
//   are what let cp.async pay.
// Both GEMM families sum the bias gradient in the weight-gradient pass, from the gy values they load.
// Precision: TF32 rounds each operand to nearest (one mma per product; the channels-last copies of x, gy and w come
// rounded, the weight gradient rounds its gy fragments itself so that the bias sum stays exact). The 3xTF32 variant
// splits each operand into a tf32 head and its remainder and computes tail*head + head*tail + head*head (small
// products first), adding each 16-deep K step's products into the float32 sums with ordinary adds (the mma's own
// accumulation truncates). The weight gradients split K into ranges fixed by the shapes (and precision) alone; each
// range writes its own partial tile and the host sums them in order, so every result is deterministic and the same on
// every GPU.

#define CONV_BM 64
#define CONV_BN 128
#define CONV_BK 16
#define CONV_AS 20          // A tile row stride: fragment reads (rows g, columns t) hit 32 different banks
#define CONV_BS 136         // B tile row stride: fragment reads (rows t, columns g) hit 32 different banks
#define CONV_FAR 0x3fffffff // a tap index that puts every pixel outside the image (table padding)

enum { CONV_FORWARD = 0, CONV_BACKWARD_INPUT = 1, CONV_BACKWARD_WEIGHT = 2 };

struct ConvGeo {
    int n, c, h, w, o, kh, kw, s, pad, ho, wo;
};

// float bits rounded to tf32 (10 mantissa bits), to nearest with ties away from zero; Inf and NaN pass unchanged
__device__ __forceinline__ unsigned conv_tf32(unsigned bits) {
    return (bits & 0x7f800000u) == 0x7f800000u ? bits : (bits + 0x1000u) & 0xffffe000u;
}

__device__ __forceinline__ void conv_mma(float* d, const unsigned* a, unsigned b0, unsigned b1) {
    asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// A fragment word as the mma takes it. TF32: the tile holds rounded values already. 3xTF32: the tile holds the
// floats; the rounded head, and the remainder (which the mma truncates to tf32).
template <bool SPLIT3>
__device__ __forceinline__ void conv_operand(unsigned bits, unsigned& head, unsigned& tail) {
    if (SPLIT3) {
        head = conv_tf32(bits);
        tail = __float_as_uint(__uint_as_float(bits) - __uint_as_float(head));
    } else {
        head = bits;
    }
}

// Input-gradient class q = qh * s + qw: its first input row and column (ihq, iwq), its rows and columns (Hq, Wq: every
// s-th from the first) and its taps per dimension (na, nb). Conv.java counts the classes' tiles the same way.
__device__ __forceinline__ void conv_class(const ConvGeo& g, int q, int& qh, int& qw, int& ihq, int& iwq, int& Hq, int& Wq,
                                           int& na, int& nb) {
    qh = q / g.s;
    qw = q - qh * g.s;
    ihq = ((qh - g.pad) % g.s + g.s) % g.s;
    iwq = ((qw - g.pad) % g.s + g.s) % g.s;
    Hq = ihq < g.h ? (g.h - 1 - ihq) / g.s + 1 : 0;
    Wq = iwq < g.w ? (g.w - 1 - iwq) / g.s + 1 : 0;
    na = qh < g.kh ? (g.kh - 1 - qh) / g.s + 1 : 0;
    nb = qw < g.kw ? (g.kw - 1 - qw) / g.s + 1 : 0;
}

template <int MODE, bool SPLIT3>
__device__ __forceinline__ void conv_gemm(const ConvGeo g, const float* __restrict__ pa, const float* __restrict__ pb,
                                          float* __restrict__ out, float* __restrict__ aux, int kPerSplit) {
    // aux: forward, the bias to add (or null); weight gradient, where the bias gradient goes (or null): the
    // column-0 blocks also sum their A rows (gy) over their K range, one value per channel and range
    __shared__ unsigned As[CONV_BM * CONV_AS];
    __shared__ unsigned Bs[CONV_BK * CONV_BS];
    __shared__ int2 tab[CONV_BN]; // weight gradient: offset and (a << 16 | b) of each tile column's (c, a, b)

    const int kk = g.kh * g.kw, P = g.ho * g.wo, HW = g.h * g.w;
    const int M = MODE == CONV_BACKWARD_INPUT ? g.c : g.o;
    const int mTiles = (M + CONV_BM - 1) / CONV_BM;
    int N = MODE == CONV_FORWARD ? g.n * P : g.c * kk;
    int K = MODE == CONV_FORWARD ? g.c * kk : g.n * P;
    int tile = blockIdx.x;
    // Input gradient: the input pixels go by class (qh, qw) = ((ih + pad) % s, (iw + pad) % s), whose pixels only
    // taps a = qh + s*ai, b = qw + s*bi reach (all of them when s = 1: one class). A block's pixels share a class,
    // so K is O * na * nb instead of O * kh * kw (a quarter of the products for a 3x3 stride-2 convolution).
    int qh = 0, qw = 0, ihq = 0, iwq = 0, Hq = 0, Wq = 0, na = g.kh, nb = g.kw;
    if (MODE == CONV_BACKWARD_INPUT) {
        for (int q = 0; q < g.s * g.s; q++) {
            conv_class(g, q, qh, qw, ihq, iwq, Hq, Wq, na, nb);
            int tiles = mTiles * ((g.n * Hq * Wq + CONV_BN - 1) / CONV_BN);
            if (tile < tiles) break;
            tile -= tiles;
        }
        N = g.n * Hq * Wq;
        K = g.o * na * nb;
    }
    const int m0 = (tile % mTiles) * CONV_BM, n0 = (tile / mTiles) * CONV_BN;
    const int kBegin = MODE == CONV_BACKWARD_WEIGHT ? blockIdx.y * kPerSplit : 0;
    const int kEnd = MODE == CONV_BACKWARD_WEIGHT ? min(K, kBegin + kPerSplit) : K;
    const int tid = threadIdx.x;

    if (MODE == CONV_BACKWARD_WEIGHT) {
        for (int i = tid; i < CONV_BN; i += blockDim.x) {
            int col = n0 + i;
            if (col < N) {
                int ch = col / kk, tap = col - ch * kk, a = tap / g.kw, b = tap - a * g.kw;
                tab[i] = make_int2(ch * HW + a * g.w + b, a << 16 | b);
            } else {
                tab[i] = make_int2(0, CONV_FAR);
            }
        }
        __syncthreads();
    }

    // This thread's loads. A: column ak of rows am + 8i. B: forward and input gradient, column bn (one output or
    // input pixel) at all 16 rows; weight gradient, row ak (one output pixel j) of columns bn + 8i.
    const int ak = tid & 15, am = tid >> 4;
    const int bn = MODE == CONV_BACKWARD_WEIGHT ? tid >> 4 : tid;
    long long bBase = 0;
    int bRow = -CONV_FAR, bCol = 0; // forward: ih, iw of tap (0, 0); input gradient: see bRow below
    if (MODE != CONV_BACKWARD_WEIGHT && n0 + bn < N) {
        int col = n0 + bn;
        if (MODE == CONV_FORWARD) {
            int img = col / P, pix = col - img * P, oh = pix / g.wo, ow = pix - oh * g.wo;
            bRow = oh * g.s - g.pad;
            bCol = ow * g.s - g.pad;
            bBase = (long long) img * g.c * HW + (long long) bRow * g.w + bCol;
        } else {
            int img = col / (Hq * Wq), pix = col - img * (Hq * Wq), u = pix / Wq, v = pix - u * Wq;
            bRow = (ihq + g.s * u + g.pad - qh) / g.s; // (ih + pad) = s * bRow + qh: tap ai reaches oh = bRow - ai
            bCol = (iwq + g.s * v + g.pad - qw) / g.s;
            bBase = (long long) img * g.o * P;
        }
    }

    float ra[8], rb[16];
    const bool biasSums = MODE == CONV_BACKWARD_WEIGHT && aux != nullptr && n0 == 0;
    float rowSum[8] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f}; // this thread's columns of its 8 A rows
    auto load = [&](int k0) {
        if (MODE == CONV_BACKWARD_WEIGHT) {
            int j = k0 + ak, img = 0, pix = 0, ih0 = -CONV_FAR, iw0 = 0;
            bool jv = j < kEnd;
            if (jv) {
                img = j / P;
                pix = j - img * P;
                int oh = pix / g.wo, ow = pix - oh * g.wo;
                ih0 = oh * g.s - g.pad;
                iw0 = ow * g.s - g.pad;
            }
            const float* gyAt = pa + (long long) img * g.o * P + pix;
#pragma unroll
            for (int i = 0; i < 8; i++) {
                int m = m0 + am + 8 * i;
                ra[i] = jv && m < M ? gyAt[(long long) m * P] : 0.f;
                if (biasSums) rowSum[i] += ra[i];
            }
            long long xBase = (long long) img * g.c * HW + (long long) ih0 * g.w + iw0;
#pragma unroll
            for (int i = 0; i < 16; i++) {
                int2 t = tab[bn + 8 * i];
                int ih = ih0 + (t.y >> 16), iw = iw0 + (t.y & 0xffff);
                rb[i] = (unsigned) ih < (unsigned) g.h && (unsigned) iw < (unsigned) g.w ? pb[xBase + t.x] : 0.f;
            }
        } else {
            // A: this thread's k = k0 + ak
            int k = k0 + ak;
            int aAt = k; // forward: w[m, k] at m * K + k; input gradient: w[o, m, a, b] at o * C * kk + m * kk + tap
            if (MODE == CONV_BACKWARD_INPUT) {
                int o = k / (na * nb), t = k - o * (na * nb), ai = t / nb, bi = t - ai * nb;
                aAt = o * g.c * kk + (qh + g.s * ai) * g.kw + qw + g.s * bi;
            }
#pragma unroll
            for (int i = 0; i < 8; i++) {
                int m = m0 + am + 8 * i;
                bool v = m < M && k < K;
                ra[i] = v ? pa[MODE == CONV_FORWARD ? (long long) m * K + aAt : (long long) aAt + m * kk] : 0.f;
            }
            // B: rows k0 .. k0 + 15 of this thread's pixel, stepping (channel, a, b) instead of dividing for each
            // (input gradient: (o, ai, bi) over the class's taps)
            const int ta = MODE == CONV_FORWARD ? g.kh : na, tb = MODE == CONV_FORWARD ? g.kw : nb;
            int ch = k0 / (ta * tb), tap = k0 - ch * (ta * tb), a = tap / tb, b = tap - a * tb;
#pragma unroll
            for (int i = 0; i < CONV_BK; i++) {
                bool v;
                long long at;
                if (MODE == CONV_FORWARD) {
                    int ih = bRow + a, iw = bCol + b;
                    v = k0 + i < K && (unsigned) ih < (unsigned) g.h && (unsigned) iw < (unsigned) g.w;
                    at = bBase + (long long) ch * HW + a * g.w + b;
                } else {
                    int oh = bRow - a, ow = bCol - b;
                    v = k0 + i < K && (unsigned) oh < (unsigned) g.ho && (unsigned) ow < (unsigned) g.wo;
                    at = bBase + (long long) ch * P + oh * g.wo + ow;
                }
                rb[i] = v ? pb[at] : 0.f;
                if (++b == tb) {
                    b = 0;
                    if (++a == ta) {
                        a = 0;
                        ch++;
                    }
                }
            }
        }
    };

    const int lane = tid & 31, warp = tid >> 5, gq = lane >> 2, tq = lane & 3;
    const int wm = (warp & 1) * 32, wn = (warp >> 1) * 64;
    float acc[2][8][4];
#pragma unroll
    for (int mi = 0; mi < 2; mi++)
#pragma unroll
        for (int ni = 0; ni < 8; ni++)
#pragma unroll
            for (int e = 0; e < 4; e++) acc[mi][ni][e] = 0.f;

    if (kBegin < kEnd) load(kBegin);
    for (int k0 = kBegin; k0 < kEnd; k0 += CONV_BK) {
        __syncthreads(); // the previous tile's fragments are read
#pragma unroll
        for (int i = 0; i < 8; i++) As[(am + 8 * i) * CONV_AS + ak] = SPLIT3 ? __float_as_uint(ra[i]) : conv_tf32(__float_as_uint(ra[i]));
#pragma unroll
        for (int i = 0; i < 16; i++) {
            int r = MODE == CONV_BACKWARD_WEIGHT ? ak : i, c = MODE == CONV_BACKWARD_WEIGHT ? bn + 8 * i : bn;
            Bs[r * CONV_BS + c] = SPLIT3 ? __float_as_uint(rb[i]) : conv_tf32(__float_as_uint(rb[i]));
        }
        __syncthreads();
        if (k0 + CONV_BK < kEnd) load(k0 + CONV_BK); // in flight while the tensor cores work
        float part[2][8][4]; // 3xTF32: this tile's products, added to acc with float32 adds below
#pragma unroll
        for (int mi = 0; mi < 2; mi++)
#pragma unroll
            for (int ni = 0; ni < 8; ni++)
#pragma unroll
                for (int e = 0; e < 4; e++) part[mi][ni][e] = 0.f;
#pragma unroll
        for (int ks = 0; ks < CONV_BK; ks += 8) {
            unsigned ah[2][4], at[2][4];
#pragma unroll
            for (int mi = 0; mi < 2; mi++) {
                int r = wm + mi * 16 + gq;
                unsigned raw[4] = {As[r * CONV_AS + ks + tq], As[(r + 8) * CONV_AS + ks + tq],
                                   As[r * CONV_AS + ks + tq + 4], As[(r + 8) * CONV_AS + ks + tq + 4]};
#pragma unroll
                for (int e = 0; e < 4; e++) conv_operand<SPLIT3>(raw[e], ah[mi][e], at[mi][e]);
            }
#pragma unroll
            for (int ni = 0; ni < 8; ni++) {
                int c = wn + ni * 8 + gq;
                unsigned bh[2], bt[2];
                conv_operand<SPLIT3>(Bs[(ks + tq) * CONV_BS + c], bh[0], bt[0]);
                conv_operand<SPLIT3>(Bs[(ks + tq + 4) * CONV_BS + c], bh[1], bt[1]);
#pragma unroll
                for (int mi = 0; mi < 2; mi++) {
                    if (SPLIT3) {
                        conv_mma(part[mi][ni], at[mi], bh[0], bh[1]);
                        conv_mma(part[mi][ni], ah[mi], bt[0], bt[1]);
                        conv_mma(part[mi][ni], ah[mi], bh[0], bh[1]);
                    } else {
                        conv_mma(acc[mi][ni], ah[mi], bh[0], bh[1]);
                    }
                }
            }
        }
        if (SPLIT3) {
#pragma unroll
            for (int mi = 0; mi < 2; mi++)
#pragma unroll
                for (int ni = 0; ni < 8; ni++)
#pragma unroll
                    for (int e = 0; e < 4; e++) acc[mi][ni][e] += part[mi][ni][e];
        }
    }

    if (biasSums) { // the 16 threads of a row (lanes 0-15 or 16-31 of a warp) add their sums in a fixed tree
#pragma unroll
        for (int i = 0; i < 8; i++) {
            float v = rowSum[i];
#pragma unroll
            for (int off = 8; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
            int m = m0 + am + 8 * i;
            if (ak == 0 && m < M) aux[(long long) blockIdx.y * M + m] = v;
        }
    }

    // epilogue: c0, c1 at (row g, columns 2t, 2t+1), c2, c3 at row g + 8
#pragma unroll
    for (int ni = 0; ni < 8; ni++) {
#pragma unroll
        for (int e = 0; e < 2; e++) {
            int col = n0 + wn + ni * 8 + 2 * tq + e;
            if (col >= N) continue;
            long long base;
            int rowStride;
            if (MODE == CONV_FORWARD) {
                int img = col / P, pix = col - img * P;
                base = (long long) img * M * P + pix;
                rowStride = P;
            } else if (MODE == CONV_BACKWARD_INPUT) {
                int img = col / (Hq * Wq), pix = col - img * (Hq * Wq), u = pix / Wq, v = pix - u * Wq;
                base = (long long) img * M * HW + (long long) (ihq + g.s * u) * g.w + iwq + g.s * v;
                rowStride = HW;
            } else {
                base = (long long) blockIdx.y * M * N + col;
                rowStride = N;
            }
#pragma unroll
            for (int mi = 0; mi < 2; mi++) {
#pragma unroll
                for (int half = 0; half < 2; half++) {
                    int m = m0 + wm + mi * 16 + gq + 8 * half;
                    if (m >= M) continue;
                    float v = acc[mi][ni][2 * half + e];
                    if (MODE == CONV_FORWARD && aux != nullptr) v += aux[m];
                    out[base + (long long) m * rowStride] = v;
                }
            }
        }
    }
}

// MIN_BLOCKS: the blocks per multiprocessor ptxas must fit (it caps the registers at 65536 / (128 * MIN_BLOCKS))
#define CONV_ENTRY(NAME, MODE, SPLIT3, MIN_BLOCKS)                                                                   \
    extern "C" __global__ void __launch_bounds__(128, MIN_BLOCKS) NAME(int n, int c, int h, int w, int o, int kh, int kw, int s,    \
                                                           int pad, int ho, int wo, const float* pa, const float* pb,   \
                                                           float* out, float* aux, int kPerSplit) {                    \
        ConvGeo g = {n, c, h, w, o, kh, kw, s, pad, ho, wo};                                                           \
        conv_gemm<MODE, SPLIT3>(g, pa, pb, out, aux, kPerSplit);                                                       \
    }

// Measured on an H200 (vq-s at batch 256): TF32 at 4 blocks (128 registers, no spills) trains 10% faster than
// unbounded (157-174 registers, 2-3 blocks); 3xTF32 is fastest unbounded (225-250 registers; 3 blocks spill).
#ifndef CONV_MIN_BLOCKS_TF32
#define CONV_MIN_BLOCKS_TF32 4
#endif
#ifndef CONV_MIN_BLOCKS_3XTF32
#define CONV_MIN_BLOCKS_3XTF32 1
#endif
CONV_ENTRY(conv_forward_tf32, CONV_FORWARD, false, CONV_MIN_BLOCKS_TF32)
CONV_ENTRY(conv_forward_3xtf32, CONV_FORWARD, true, CONV_MIN_BLOCKS_3XTF32)
CONV_ENTRY(conv_backward_input_tf32, CONV_BACKWARD_INPUT, false, CONV_MIN_BLOCKS_TF32)
CONV_ENTRY(conv_backward_input_3xtf32, CONV_BACKWARD_INPUT, true, CONV_MIN_BLOCKS_3XTF32)
CONV_ENTRY(conv_backward_weight_tf32, CONV_BACKWARD_WEIGHT, false, CONV_MIN_BLOCKS_TF32)
CONV_ENTRY(conv_backward_weight_3xtf32, CONV_BACKWARD_WEIGHT, true, CONV_MIN_BLOCKS_3XTF32)

// ---- channels-last implicit GEMMs ------------------------------------------------------------------------------

#define CL_BK 16       // K per pipeline stage
#define CL_THREADS 256 // 8 warps as 2 (M) x 4 (N)

// The gathered image operand is [n, h, w, c] (channels last); the GEMM's M is m, its output grid ho x wo.
struct ClGeo {
    int n, c, h, w, m, kh, kw, s, padh, padw, ho, wo;
};

__device__ __forceinline__ unsigned cl_shared(const void* p) {
    unsigned r;
    asm("{ .reg .u64 t; cvta.to.shared.u64 t, %1; cvt.u32.u64 %0, t; }" : "=r"(r) : "l"(p));
    return r;
}

// 16 bytes global -> shared, bypassing L1; zeros instead where !valid (src is then not read)
__device__ __forceinline__ void cl_copy16(unsigned dst, const float* src, bool valid) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(valid ? 16 : 0) : "memory");
}

__device__ __forceinline__ void cl_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }

template <int N>
__device__ __forceinline__ void cl_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory"); }

// Forward (and the stride-1 input gradient, which is the forward of gy with the flipped, transposed weights):
// out[img, m, p] = sum over k = (a, b, ch) of wt[m, k] * x[img, oh*s - padh + a, ow*s - padw + b, ch] (+ bias[m]).
// Both operands are K-contiguous, so each 16-float K run of a tile row is four 16-byte copies (c % 16 == 0: a run
// never leaves its tap). Tiles are [rows][16] floats; a thread reads its fragments as float4s at column 4t: the
// mma's K slots (t, t + 4) of step j are the columns 4t + 2j and 4t + 2j + 1 in both operands (any order of K gives
// the same sum set, and A and B agree), and rows 2q and 2q + 1 fill the 32 banks, so no padding is needed.
// TF32: the operands arrive rounded to tf32 (the transposes round them).
template <int BM, int BN, int STAGES, bool SPLIT3>
__device__ __forceinline__ void cl_forward(const ClGeo g, const float* __restrict__ wt, const float* __restrict__ x,
                                           float* __restrict__ out, const float* __restrict__ bias) {
    constexpr int MI = BM / 32, NI = BN / 32;     // m16 and n8 tiles per warp (a warp is BM/2 x BN/4)
    constexpr int A_CP = BM / 64, B_CP = BN / 64; // 16-byte copies per thread per stage
    extern __shared__ float4 clShared[];
    float* As = reinterpret_cast<float*>(clShared); // [STAGES][BM][16]
    float* Bs = As + STAGES * BM * CL_BK;            // [STAGES][BN][16]

    const int P = g.ho * g.wo, N = g.n * P, K = g.kh * g.kw * g.c, M = g.m;
    const int mTiles = (M + BM - 1) / BM;
    const int m0 = (blockIdx.x % mTiles) * BM, n0 = (blockIdx.x / mTiles) * BN;
    const int tid = threadIdx.x, cq = tid & 3, cr = tid >> 2; // copies: chunk cq of rows cr + 64i

    // each B row (output pixel): offset of its tap (0, 0), and which taps fall inside the image (bit a * kw + b; none
    // for columns past N). In shared memory rather than registers, which the accumulators need.
    __shared__ int2 rows[BN];
    for (int i = tid; i < BN; i += CL_THREADS) {
        int col = n0 + i, off = 0;
        unsigned taps = 0;
        if (col < N) {
            int img = col / P, pix = col - img * P, oh = pix / g.wo, ow = pix - oh * g.wo;
            int ih0 = oh * g.s - g.padh, iw0 = ow * g.s - g.padw;
            off = ((img * g.h + ih0) * g.w + iw0) * g.c;
            for (int a = 0; a < g.kh; a++)
                for (int b = 0; b < g.kw; b++)
                    if ((unsigned) (ih0 + a) < (unsigned) g.h && (unsigned) (iw0 + b) < (unsigned) g.w)
                        taps |= 1u << (a * g.kw + b);
        }
        rows[i] = make_int2(off, (int) taps);
    }
    __syncthreads();
    const unsigned aDst = cl_shared(As + cr * CL_BK + 4 * cq), bDst = cl_shared(Bs + cr * CL_BK + 4 * cq);

    int ldC = 0, ldA = 0, ldB = 0; // the next tile to load: its channel offset and tap, stepped instead of divided
    auto load = [&](int stage) {
        const int tap = ldA * g.kw + ldB, k0 = tap * g.c + ldC;
#pragma unroll
        for (int i = 0; i < A_CP; i++) {
            int m = m0 + cr + 64 * i;
            cl_copy16(aDst + 4 * (stage * BM * CL_BK + 64 * i * CL_BK), wt + (m < M ? m * K + k0 + 4 * cq : 0), m < M);
        }
        const int tapOff = (ldA * g.w + ldB) * g.c + ldC + 4 * cq;
#pragma unroll
        for (int i = 0; i < B_CP; i++) {
            int2 r = rows[cr + 64 * i];
            bool v = ((unsigned) r.y >> tap) & 1u;
            cl_copy16(bDst + 4 * (stage * BN * CL_BK + 64 * i * CL_BK), x + (v ? r.x + tapOff : 0), v);
        }
        if ((ldC += CL_BK) == g.c) {
            ldC = 0;
            if (++ldB == g.kw) {
                ldB = 0;
                ldA++;
            }
        }
    };

    const int lane = tid & 31, warp = tid >> 5, gq = lane >> 2, tq = lane & 3;
    const int wm = (warp & 1) * (BM / 2), wn = (warp >> 1) * (BN / 4);
    float acc[MI][NI][4];
#pragma unroll
    for (int mi = 0; mi < MI; mi++)
#pragma unroll
        for (int ni = 0; ni < NI; ni++)
#pragma unroll
            for (int e = 0; e < 4; e++) acc[mi][ni][e] = 0.f;

    const int kTiles = K / CL_BK;
#pragma unroll
    for (int st = 0; st < STAGES - 1; st++) {
        if (st < kTiles) load(st);
        cl_commit();
    }
    for (int kt = 0; kt < kTiles; kt++) {
        cl_wait<STAGES - 2>();
        __syncthreads(); // tile kt is in for every thread, and everyone is done with the stage the next load reuses
        if (kt + STAGES - 1 < kTiles) load((kt + STAGES - 1) % STAGES);
        cl_commit();
        const float* as = As + (kt % STAGES) * BM * CL_BK;
        const float* bs = Bs + (kt % STAGES) * BN * CL_BK;
        float4 av[MI][2];
#pragma unroll
        for (int mi = 0; mi < MI; mi++) {
            int r = wm + mi * 16 + gq;
            av[mi][0] = *reinterpret_cast<const float4*>(as + r * CL_BK + 4 * tq);
            av[mi][1] = *reinterpret_cast<const float4*>(as + (r + 8) * CL_BK + 4 * tq);
        }
        unsigned ah[2][MI][4], at[2][MI][4];
#pragma unroll
        for (int mi = 0; mi < MI; mi++) {
            const float4 lo = av[mi][0], hi = av[mi][1]; // rows g and g + 8
            conv_operand<SPLIT3>(__float_as_uint(lo.x), ah[0][mi][0], at[0][mi][0]);
            conv_operand<SPLIT3>(__float_as_uint(hi.x), ah[0][mi][1], at[0][mi][1]);
            conv_operand<SPLIT3>(__float_as_uint(lo.y), ah[0][mi][2], at[0][mi][2]);
            conv_operand<SPLIT3>(__float_as_uint(hi.y), ah[0][mi][3], at[0][mi][3]);
            conv_operand<SPLIT3>(__float_as_uint(lo.z), ah[1][mi][0], at[1][mi][0]);
            conv_operand<SPLIT3>(__float_as_uint(hi.z), ah[1][mi][1], at[1][mi][1]);
            conv_operand<SPLIT3>(__float_as_uint(lo.w), ah[1][mi][2], at[1][mi][2]);
            conv_operand<SPLIT3>(__float_as_uint(hi.w), ah[1][mi][3], at[1][mi][3]);
        }
        float part[SPLIT3 ? MI : 1][SPLIT3 ? NI : 1][4]; // 3xTF32: this tile's products, added to acc in float32
        if (SPLIT3) {
#pragma unroll
            for (int mi = 0; mi < (SPLIT3 ? MI : 1); mi++)
#pragma unroll
                for (int ni = 0; ni < (SPLIT3 ? NI : 1); ni++)
#pragma unroll
                    for (int e = 0; e < 4; e++) part[mi][ni][e] = 0.f;
        }
#pragma unroll
        for (int ni = 0; ni < NI; ni++) {
            const float4 bv = *reinterpret_cast<const float4*>(bs + (wn + ni * 8 + gq) * CL_BK + 4 * tq);
            unsigned bh[2][2], bt[2][2];
            conv_operand<SPLIT3>(__float_as_uint(bv.x), bh[0][0], bt[0][0]);
            conv_operand<SPLIT3>(__float_as_uint(bv.y), bh[0][1], bt[0][1]);
            conv_operand<SPLIT3>(__float_as_uint(bv.z), bh[1][0], bt[1][0]);
            conv_operand<SPLIT3>(__float_as_uint(bv.w), bh[1][1], bt[1][1]);
#pragma unroll
            for (int j = 0; j < 2; j++)
#pragma unroll
                for (int mi = 0; mi < MI; mi++) {
                    if (SPLIT3) {
                        float* p = part[SPLIT3 ? mi : 0][SPLIT3 ? ni : 0];
                        conv_mma(p, at[j][mi], bh[j][0], bh[j][1]);
                        conv_mma(p, ah[j][mi], bt[j][0], bt[j][1]);
                        conv_mma(p, ah[j][mi], bh[j][0], bh[j][1]);
                    } else {
                        conv_mma(acc[mi][ni], ah[j][mi], bh[j][0], bh[j][1]);
                    }
                }
        }
        if (SPLIT3) {
#pragma unroll
            for (int mi = 0; mi < MI; mi++)
#pragma unroll
                for (int ni = 0; ni < NI; ni++)
#pragma unroll
                    for (int e = 0; e < 4; e++) acc[mi][ni][e] += part[SPLIT3 ? mi : 0][SPLIT3 ? ni : 0][e];
        }
    }
    cl_wait<0>();

    // epilogue: c0, c1 at (row g, columns 2t, 2t+1), c2, c3 at row g + 8; out is [img, m, p]
#pragma unroll
    for (int ni = 0; ni < NI; ni++) {
#pragma unroll
        for (int e = 0; e < 2; e++) {
            int col = n0 + wn + ni * 8 + 2 * tq + e;
            if (col >= N) continue;
            int img = col / P, base = img * M * P + (col - img * P);
#pragma unroll
            for (int mi = 0; mi < MI; mi++) {
#pragma unroll
                for (int half = 0; half < 2; half++) {
                    int m = m0 + wm + mi * 16 + gq + 8 * half;
                    if (m >= M) continue;
                    float v = acc[mi][ni][2 * half + e];
                    if (bias != nullptr) v += bias[m];
                    out[base + m * P] = v;
                }
            }
        }
    }
}

// Weight gradient: gw[m, ch, a, b] = sum over j = (img, oh, ow) of gy[img, m, oh, ow] * x[img, oh*s - padh + a,
// ow*s - padw + b, ch]: M = o, N = kh*kw*c as (a, b, ch), K = n*P, with x channels last, so a K row (pixel j) of B
// is BN contiguous floats per tap run, copied 16 bytes at a time. gy comes as it is ([n, o, P], A_NCHW: each A row
// is K-contiguous, for P % 16 == 0 so that a 16-deep K tile stays in one image) or channels last ([n*P, o], for the
// other shapes). K is cut into ranges fixed by the shapes (blockIdx.y); each writes its own partial [m, n] tile
// (out + blockIdx.y * M * N, columns in (a, b, ch) order) through shared memory in whole rows, and biasOut (when
// given) gets each range's sum of gy per m from the blocks of column tile 0. The host sums the ranges in order.
// Fragments are float4 reads. A_NCHW: A is read as the forward's A (K slots t, t + 4 of step j at columns 4t + 2j,
// 4t + 2j + 1), so B's K rows are 4t + 2j and 4t + 2j + 1; its 16-byte chunks are XOR-swizzled by bits 2-3 of the row
// so that those four rows fall in different banks. Channels-last gy: K slots are rows 8j + t and 8j + t + 4, and A
// and B rows are skewed by 8 words. In both, B's column g of n8 tile i is column 4g + (i & 3) of its 32-wide group
// (and channels-last A's row g + 8h of m16 tile i is column 4g + 2(i & 1) + h of its group), which the epilogue
// undoes. TF32: x arrives rounded; gy does not (the bias sum wants it exact), so its fragments are rounded here.
template <int BM, int BN, int STAGES, bool SPLIT3, bool A_NCHW>
__device__ __forceinline__ void cl_weight_grad(const ClGeo g, const float* __restrict__ gy, const float* __restrict__ x,
                                               float* __restrict__ out, float* __restrict__ biasOut, int kPerSplit) {
    constexpr int SA = A_NCHW ? CL_BK : BM + 8, SB = A_NCHW ? BN : BN + 8; // row strides (floats)
    constexpr int A_STAGE = A_NCHW ? BM * CL_BK : CL_BK * SA, B_STAGE = CL_BK * SB;
    constexpr int MI = BM / 32, NI = BN / 32;
    constexpr int A_ROW = A_NCHW ? 4 : BM / 4, B_ROW = BN / 4; // 16-byte chunks per smem row
    constexpr int A_CP = BM * CL_BK / 4 / CL_THREADS, B_CP = CL_BK * B_ROW / CL_THREADS;
    extern __shared__ float4 clShared[];
    float* As = reinterpret_cast<float*>(clShared); // [STAGES][A_STAGE]
    float* Bs = As + STAGES * A_STAGE;               // [STAGES][16][SB]

    const int P = g.ho * g.wo, M = g.m, kk = g.kh * g.kw, N = kk * g.c, K = g.n * P;
    const int mTiles = (M + BM - 1) / BM;
    const int m0 = (blockIdx.x % mTiles) * BM, n0 = (blockIdx.x / mTiles) * BN;
    const int kBegin = blockIdx.y * kPerSplit, kEnd = min(K, kBegin + kPerSplit);
    const int tid = threadIdx.x;

    // A copies: chunk tid % A_ROW of smem rows tid / A_ROW + i * (256 / A_ROW) (A_NCHW: rows are m, else pixels j)
    const int aCol = 4 * (tid % A_ROW), aRow = tid / A_ROW;
    // B copies: chunk tid % B_ROW (4 channels of one tap) of K rows tid / B_ROW + i * (256 / B_ROW)
    const int bCol = 4 * (tid % B_ROW), bRow = tid / B_ROW;
    int bDh = -CONV_FAR, bDw = 0, bCh = 0;
    {
        int n = n0 + bCol;
        if (n < N) {
            int tap = n / g.c, a = tap / g.kw;
            bCh = n - tap * g.c;
            bDh = a - g.padh;
            bDw = tap - a * g.kw - g.padw;
        }
    }
    int bImg[B_CP], bOh[B_CP], bOw[B_CP]; // the pixel j of each B row, stepped by 16 per tile
#pragma unroll
    for (int i = 0; i < B_CP; i++) {
        int j = kBegin + bRow + i * (CL_THREADS / B_ROW);
        bImg[i] = j / P;
        int pix = j - bImg[i] * P;
        bOh[i] = pix / g.wo;
        bOw[i] = pix - bOh[i] * g.wo;
    }
    const unsigned aDst = cl_shared(As + aRow * SA + aCol), bDst0 = cl_shared(Bs);
    int aImg = kBegin / P, aPix = kBegin - aImg * P; // A_NCHW: the image and pixel of the next tile's first j

    int ldK = kBegin;
    auto load = [&](int stage) {
#pragma unroll
        for (int i = 0; i < A_CP; i++) {
            const int r = i * (CL_THREADS / A_ROW);
            if (A_NCHW) {
                int m = m0 + aRow + r;
                bool v = m < M && ldK < kEnd;
                cl_copy16(aDst + 4 * (stage * A_STAGE + r * SA), gy + (v ? (aImg * M + m) * P + aPix + aCol : 0), v);
            } else {
                int j = ldK + aRow + r;
                bool v = m0 + aCol < M && j < kEnd;
                cl_copy16(aDst + 4 * (stage * A_STAGE + r * SA), gy + (v ? j * M + m0 + aCol : 0), v);
            }
        }
        if (A_NCHW && (aPix += CL_BK) == P) {
            aPix = 0;
            aImg++;
        }
#pragma unroll
        for (int i = 0; i < B_CP; i++) {
            const int row = bRow + i * (CL_THREADS / B_ROW), j = ldK + row;
            int ih = bOh[i] * g.s + bDh, iw = bOw[i] * g.s + bDw;
            bool v = j < kEnd && (unsigned) ih < (unsigned) g.h && (unsigned) iw < (unsigned) g.w;
            // A_NCHW: chunk bits 1-2 flipped by row bits 2-3 (stays inside its group of 8 chunks)
            int col = A_NCHW ? bCol ^ (((row >> 2) & 3) << 3) : bCol;
            cl_copy16(bDst0 + 4 * (stage * B_STAGE + row * SB + col),
                      x + (v ? ((bImg[i] * g.h + ih) * g.w + iw) * g.c + bCh : 0), v);
            bOw[i] += CL_BK;
            while (bOw[i] >= g.wo) {
                bOw[i] -= g.wo;
                if (++bOh[i] == g.ho) {
                    bOh[i] = 0;
                    bImg[i]++;
                }
            }
        }
        ldK += CL_BK;
    };

    const int lane = tid & 31, warp = tid >> 5, gq = lane >> 2, tq = lane & 3;
    const int wm = (warp & 1) * (BM / 2), wn = (warp >> 1) * (BN / 4);
    const bool biasSums = biasOut != nullptr && n0 == 0 && tid < BM;
    float biasSum = 0.f;
    float acc[MI][NI][4];
#pragma unroll
    for (int mi = 0; mi < MI; mi++)
#pragma unroll
        for (int ni = 0; ni < NI; ni++)
#pragma unroll
            for (int e = 0; e < 4; e++) acc[mi][ni][e] = 0.f;

    const int kTiles = (kEnd - kBegin + CL_BK - 1) / CL_BK;
#pragma unroll
    for (int st = 0; st < STAGES - 1; st++) {
        if (st < kTiles) load(st);
        cl_commit();
    }
    for (int kt = 0; kt < kTiles; kt++) {
        cl_wait<STAGES - 2>();
        __syncthreads();
        if (kt + STAGES - 1 < kTiles) load((kt + STAGES - 1) % STAGES);
        cl_commit();
        const float* as = As + (kt % STAGES) * A_STAGE;
        const float* bs = Bs + (kt % STAGES) * B_STAGE;
        if (biasSums) {
            if (A_NCHW) {
#pragma unroll
                for (int q = 0; q < 4; q++) {
                    const float4 v = *reinterpret_cast<const float4*>(as + tid * CL_BK + 4 * q);
                    biasSum += v.x;
                    biasSum += v.y;
                    biasSum += v.z;
                    biasSum += v.w;
                }
            } else {
#pragma unroll
                for (int k = 0; k < CL_BK; k++) biasSum += as[k * SA + tid];
            }
        }
        float4 av[A_NCHW ? MI : 1][2]; // A_NCHW: rows g and g + 8 of each m16 tile, both K steps
        if (A_NCHW) {
#pragma unroll
            for (int mi = 0; mi < (A_NCHW ? MI : 1); mi++) {
                int r = wm + mi * 16 + gq;
                av[mi][0] = *reinterpret_cast<const float4*>(as + r * CL_BK + 4 * tq);
                av[mi][1] = *reinterpret_cast<const float4*>(as + (r + 8) * CL_BK + 4 * tq);
            }
        }
        float part[SPLIT3 ? MI : 1][SPLIT3 ? NI : 1][4];
        if (SPLIT3) {
#pragma unroll
            for (int mi = 0; mi < (SPLIT3 ? MI : 1); mi++)
#pragma unroll
                for (int ni = 0; ni < (SPLIT3 ? NI : 1); ni++)
#pragma unroll
                    for (int e = 0; e < 4; e++) part[mi][ni][e] = 0.f;
        }
#pragma unroll
        for (int j = 0; j < 2; j++) {
            unsigned ah[MI][4], at[MI][4], bh[NI][2], bt[NI][2];
            if (A_NCHW) {
#pragma unroll
                for (int mi = 0; mi < MI; mi++) {
                    const float4 lo = av[A_NCHW ? mi : 0][0], hi = av[A_NCHW ? mi : 0][1];
                    const float v[4] = {j ? lo.z : lo.x, j ? hi.z : hi.x, j ? lo.w : lo.y, j ? hi.w : hi.y};
#pragma unroll
                    for (int e = 0; e < 4; e++) {
                        unsigned bits = __float_as_uint(v[e]);
                        if (SPLIT3) {
                            conv_operand<true>(bits, ah[mi][e], at[mi][e]);
                        } else {
                            ah[mi][e] = conv_tf32(bits);
                        }
                    }
                }
            } else {
#pragma unroll
                for (int grp = 0; grp < MI / 2; grp++) {
                    const float4 lo = *reinterpret_cast<const float4*>(as + (8 * j + tq) * SA + wm + 32 * grp + 4 * gq);
                    const float4 hi = *reinterpret_cast<const float4*>(as + (8 * j + tq + 4) * SA + wm + 32 * grp + 4 * gq);
                    const float v[2][4] = {{lo.x, lo.y, hi.x, hi.y}, {lo.z, lo.w, hi.z, hi.w}};
#pragma unroll
                    for (int u = 0; u < 2; u++)
#pragma unroll
                        for (int e = 0; e < 4; e++) {
                            unsigned bits = __float_as_uint(v[u][e]);
                            if (SPLIT3) {
                                conv_operand<true>(bits, ah[2 * grp + u][e], at[2 * grp + u][e]);
                            } else {
                                ah[2 * grp + u][e] = conv_tf32(bits);
                            }
                        }
                }
            }
            // B rows of K slots t and t + 4
            const int r0 = A_NCHW ? 4 * tq + 2 * j : 8 * j + tq, r1 = A_NCHW ? r0 + 1 : r0 + 4;
            const int swz = A_NCHW ? 4 * (gq ^ (2 * tq)) : 4 * gq; // see the copies: row bits 2-3 of r0 and r1 are tq
#pragma unroll
            for (int grp = 0; grp < NI / 4; grp++) {
                const float4 lo = *reinterpret_cast<const float4*>(bs + r0 * SB + wn + 32 * grp + swz);
                const float4 hi = *reinterpret_cast<const float4*>(bs + r1 * SB + wn + 32 * grp + swz);
                const float v[2][4] = {{lo.x, lo.y, lo.z, lo.w}, {hi.x, hi.y, hi.z, hi.w}};
#pragma unroll
                for (int u = 0; u < 4; u++)
#pragma unroll
                    for (int e = 0; e < 2; e++)
                        conv_operand<SPLIT3>(__float_as_uint(v[e][u]), bh[4 * grp + u][e], bt[4 * grp + u][e]);
            }
#pragma unroll
            for (int mi = 0; mi < MI; mi++)
#pragma unroll
                for (int ni = 0; ni < NI; ni++) {
                    if (SPLIT3) {
                        float* p = part[SPLIT3 ? mi : 0][SPLIT3 ? ni : 0];
                        conv_mma(p, at[mi], bh[ni][0], bh[ni][1]);
                        conv_mma(p, ah[mi], bt[ni][0], bt[ni][1]);
                        conv_mma(p, ah[mi], bh[ni][0], bh[ni][1]);
                    } else {
                        conv_mma(acc[mi][ni], ah[mi], bh[ni][0], bh[ni][1]);
                    }
                }
        }
        if (SPLIT3) {
#pragma unroll
            for (int mi = 0; mi < MI; mi++)
#pragma unroll
                for (int ni = 0; ni < NI; ni++)
#pragma unroll
                    for (int e = 0; e < 4; e++) acc[mi][ni][e] += part[SPLIT3 ? mi : 0][SPLIT3 ? ni : 0][e];
        }
    }
    cl_wait<0>();
    if (biasSums && m0 + tid < M) biasOut[blockIdx.y * M + m0 + tid] = biasSum;

    // epilogue: the tile to shared memory in its (m, n) order (the pipeline's buffers are free now), then out in rows
    __syncthreads();
    float* Cs = As; // [BM][BN]
#pragma unroll
    for (int mi = 0; mi < MI; mi++) {
#pragma unroll
        for (int half = 0; half < 2; half++) {
            int m = A_NCHW ? wm + mi * 16 + gq + 8 * half : wm + 32 * (mi >> 1) + 4 * gq + 2 * (mi & 1) + half;
#pragma unroll
            for (int ni = 0; ni < NI; ni++) {
#pragma unroll
                for (int e = 0; e < 2; e++) Cs[m * BN + wn + 32 * (ni >> 2) + 4 * (2 * tq + e) + (ni & 3)] = acc[mi][ni][2 * half + e];
            }
        }
    }
    __syncthreads();
    float* o = out + (size_t) blockIdx.y * M * N;
    for (int i = tid; i < BM * BN; i += CL_THREADS) {
        int r = i / BN, col = i - r * BN;
        if (m0 + r < M && n0 + col < N) o[(m0 + r) * N + n0 + col] = Cs[i];
    }
}

// gw[m, ch, a, b] = the sum over the K ranges s, in order, of partial[s, m, (a * kw + b) * c + ch].
extern "C" __global__ void conv_cl_weight_grad_sum(int splits, int m, int c, int kk, const float* __restrict__ partial,
                                                   float* __restrict__ gw) {
    const int N = kk * c;
    TS_FOR(i, m * N) {
        float v = 0.f;
        for (int s = 0; s < splits; s++) v += partial[(size_t) s * m * N + i];
        int mm = i / N, n = i - mm * N, tap = n / c;
        gw[mm * N + (n - tap * c) * kk + tap] = v;
    }
}

// MIN_BLOCKS: the blocks per multiprocessor ptxas must fit (it caps the registers at 65536 / (256 * MIN_BLOCKS)).
#define CL_ENTRY(NAME, BODY, MIN_BLOCKS, AUX_T, EXTRA, ...)                                                             \
    extern "C" __global__ void __launch_bounds__(CL_THREADS, MIN_BLOCKS)                                               \
        NAME(int n, int c, int h, int w, int m, int kh, int kw, int s, int padh, int padw, int ho, int wo,             \
             const float* pa, const float* pb, float* out, AUX_T aux, int kPerSplit) {                                 \
        ClGeo g = {n, c, h, w, m, kh, kw, s, padh, padw, ho, wo};                                                      \
        BODY<__VA_ARGS__>(g, pa, pb, out, aux EXTRA);                                                                  \
    }
#define CL_NONE
#define CL_SPLIT , kPerSplit
// template arguments: BM, BN, stages, 3xTF32 (and for the weight gradient: gy as [n, o, P])
CL_ENTRY(conv_cl_forward_64x256_tf32, cl_forward, 2, const float*, CL_NONE, 64, 256, 4, false)
CL_ENTRY(conv_cl_forward_64x128_tf32, cl_forward, 2, const float*, CL_NONE, 64, 128, 4, false)
CL_ENTRY(conv_cl_forward_128x128_tf32, cl_forward, 2, const float*, CL_NONE, 128, 128, 4, false)
CL_ENTRY(conv_cl_forward_128x64_tf32, cl_forward, 2, const float*, CL_NONE, 128, 64, 4, false)
CL_ENTRY(conv_cl_forward_64x128_3xtf32, cl_forward, 2, const float*, CL_NONE, 64, 128, 4, true)
CL_ENTRY(conv_cl_forward_128x64_3xtf32, cl_forward, 2, const float*, CL_NONE, 128, 64, 4, true)
CL_ENTRY(conv_cl_weight_grad_64x128_tf32, cl_weight_grad, 2, float*, CL_SPLIT, 64, 128, 4, false, false)
CL_ENTRY(conv_cl_weight_grad_128x128_tf32, cl_weight_grad, 2, float*, CL_SPLIT, 128, 128, 4, false, false)
CL_ENTRY(conv_cl_weight_grad_64x128_3xtf32, cl_weight_grad, 2, float*, CL_SPLIT, 64, 128, 4, true, false)
CL_ENTRY(conv_cl_weight_grad_nchw_64x128_tf32, cl_weight_grad, 2, float*, CL_SPLIT, 64, 128, 4, false, true)
CL_ENTRY(conv_cl_weight_grad_nchw_128x128_tf32, cl_weight_grad, 2, float*, CL_SPLIT, 128, 128, 4, false, true)
CL_ENTRY(conv_cl_weight_grad_nchw_64x128_3xtf32, cl_weight_grad, 2, float*, CL_SPLIT, 64, 128, 4, true, true)

// x [n, c, hw] -> [n, hw, c] through 32 x 32 tiles (coalesced on both sides), rounded to tf32 when round != 0.
// Blocks of 256 threads; blockIdx.x = image * pixel tiles + pixel tile, blockIdx.y = channel tile.
extern "C" __global__ void conv_channels_last(int n, int c, int hw, const float* __restrict__ src, float* __restrict__ dst,
                                              int round) {
    __shared__ float tile[32][33];
    const int pTiles = (hw + 31) / 32, img = blockIdx.x / pTiles, p0 = (blockIdx.x - img * pTiles) * 32;
    const int c0 = blockIdx.y * 32, tx = threadIdx.x & 31, ty = threadIdx.x >> 5;
#pragma unroll
    for (int i = 0; i < 32; i += 8) {
        int ch = c0 + ty + i, p = p0 + tx;
        if (ch < c && p < hw) tile[ty + i][tx] = src[(img * c + ch) * hw + p];
    }
    __syncthreads();
#pragma unroll
    for (int i = 0; i < 32; i += 8) {
        int p = p0 + ty + i, ch = c0 + tx;
        if (ch < c && p < hw) {
            float v = tile[tx][ty + i];
            dst[(img * hw + p) * c + ch] = round ? __uint_as_float(conv_tf32(__float_as_uint(v))) : v;
        }
    }
}

// w [o, c, kh, kw] -> [o, kh, kw, c] (flip = 0: the forward's A), or -> [c, kh, kw, o] with the taps reversed (flip = 1:
// the stride-1 input gradient's A), rounded to tf32 when round != 0.
extern "C" __global__ void conv_weight_channels_last(int o, int c, int kh, int kw, int flip, int round,
                                                     const float* __restrict__ w, float* __restrict__ dst) {
    TS_FOR(i, o * c * kh * kw) {
        int inner = flip ? o : c, r = i / inner, lo = i - r * inner, b = r % kw, a = (r / kw) % kh, hi = r / (kw * kh);
        int oo = flip ? lo : hi, ch = flip ? hi : lo;
        int src = flip ? ((oo * c + ch) * kh + kh - 1 - a) * kw + kw - 1 - b : ((oo * c + ch) * kh + a) * kw + b;
        float v = w[src];
        dst[i] = round ? __uint_as_float(conv_tf32(__float_as_uint(v))) : v;
    }
}

// ---- thin convolutions ---------------------------------------------------------------------------------------
// At most 4 output or input channels (vq-s's first and last layers), where a GEMM tile would be mostly padding:
// direct float32 sums in a fixed order (so exact at every precision, and deterministic), on [N, C, H, W] tensors. A
// thread per pixel loops over the channels of the other side, so the index arithmetic is paid once per pixel.

// One output pixel per thread, all o in turn, each summed over (c, a, b) in order.
extern "C" __global__ void conv_thin_forward(int n, int c, int h, int w, int o, int kh, int kw, int s, int pad, int ho,
                                             int wo, const float* __restrict__ x, const float* __restrict__ wt,
                                             const float* __restrict__ bias, float* __restrict__ y) {
    const int P = ho * wo, HW = h * w;
    TS_FOR(i, n * P) {
        int img = i / P, p = i - img * P, oh = p / wo, ow = p - oh * wo, ih0 = oh * s - pad, iw0 = ow * s - pad;
        const float* xi = x + img * c * HW;
        for (int oo = 0; oo < o; oo++) {
            float acc = 0.f;
            for (int ch = 0; ch < c; ch++) {
                const float* wp = wt + (oo * c + ch) * kh * kw;
                for (int a = 0; a < kh; a++) {
                    int ih = ih0 + a;
                    if ((unsigned) ih >= (unsigned) h) continue;
                    for (int b = 0; b < kw; b++) {
                        int iw = iw0 + b;
                        if ((unsigned) iw < (unsigned) w) acc = fmaf(wp[a * kw + b], xi[ch * HW + ih * w + iw], acc);
                    }
                }
            }
            y[(img * o + oo) * P + p] = bias != nullptr ? acc + bias[oo] : acc;
        }
    }
}

// One input pixel per thread, all c in turn, each summed over (o, a, b) in order: the output pixels that read (ih, iw)
// through tap (a, b) are oh = (ih + pad - a) / s where that divides (no division at stride 1).
extern "C" __global__ void conv_thin_backward_input(int n, int c, int h, int w, int o, int kh, int kw, int s, int pad,
                                                    int ho, int wo, const float* __restrict__ gy,
                                                    const float* __restrict__ wt, float* __restrict__ gx) {
    const int HW = h * w, P = ho * wo;
    TS_FOR(i, n * HW) {
        int img = i / HW, q = i - img * HW, ih = q / w, iw = q - ih * w;
        const float* gi = gy + img * o * P;
        for (int ch = 0; ch < c; ch++) {
            float acc = 0.f;
            for (int oo = 0; oo < o; oo++) {
                const float* gp = gi + oo * P;
                const float* wp = wt + (oo * c + ch) * kh * kw;
                for (int a = 0; a < kh; a++) {
                    int t = ih + pad - a, oh = s == 1 ? t : t / s;
                    if (t < 0 || oh * s != t || oh >= ho) continue;
                    for (int b = 0; b < kw; b++) {
                        int u = iw + pad - b, ow = s == 1 ? u : u / s;
                        if (u >= 0 && ow * s == u && ow < wo) acc = fmaf(wp[a * kw + b], gp[oh * wo + ow], acc);
                    }
                }
            }
            gx[(img * c + ch) * HW + q] = acc;
        }
    }
}

// Weight gradient for kernels of at most 4 x 4: block (chunk, o, c) of 256 threads sums gy[img, o] * x[img, c] shifted by
// each tap over the output pixels of CONV_THIN_IMAGES images (each thread its pixels in order, then a fixed tree), into
// partial[chunk, o, c, a, b]; the host sums the chunks in order. Blocks with c = 0 also sum gy[img, o] into
// biasPartial[chunk, o].
#define CONV_THIN_IMAGES 8
extern "C" __global__ void conv_thin_backward_weight(int n, int c, int h, int w, int o, int kh, int kw, int s, int pad,
                                                     int ho, int wo, const float* __restrict__ gy,
                                                     const float* __restrict__ x, float* __restrict__ partial,
                                                     float* __restrict__ biasPartial) {
    __shared__ float sums[17][8];
    const int ch = blockIdx.x % c, r = blockIdx.x / c, oo = r % o, chunk = r / o, P = ho * wo;
    const int img0 = chunk * CONV_THIN_IMAGES, img1 = min(n, img0 + CONV_THIN_IMAGES);
    float acc[16], gSum = 0.f; // acc[4a + b]
#pragma unroll
    for (int t = 0; t < 16; t++) acc[t] = 0.f;
    for (int img = img0; img < img1; img++) {
        const float* gp = gy + (img * o + oo) * P;
        const float* xp = x + (img * c + ch) * h * w;
        for (int p = threadIdx.x; p < P; p += blockDim.x) {
            int oh = p / wo, ow = p - oh * wo, ih0 = oh * s - pad, iw0 = ow * s - pad;
            float gv = gp[p];
            gSum += gv;
#pragma unroll
            for (int a = 0; a < 4; a++) {
                int ih = ih0 + a;
                if (a >= kh || (unsigned) ih >= (unsigned) h) continue;
#pragma unroll
                for (int b = 0; b < 4; b++) {
                    int iw = iw0 + b;
                    if (b < kw && (unsigned) iw < (unsigned) w) acc[4 * a + b] = fmaf(gv, xp[ih * w + iw], acc[4 * a + b]);
                }
            }
        }
    }
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
#pragma unroll
    for (int t = 0; t < 17; t++) {
        float v = ts_warp_sum(t < 16 ? acc[t] : gSum);
        if (lane == 0) sums[t][warp] = v;
    }
    __syncthreads();
    const int t = threadIdx.x;
    if (t < 17) {
        float v = 0.f;
        for (int i = 0; i < 8; i++) v += sums[t][i];
        if (t < 16 && (t >> 2) < kh && (t & 3) < kw)
            partial[((chunk * o + oo) * c + ch) * kh * kw + (t >> 2) * kw + (t & 3)] = v;
        if (t == 16 && ch == 0 && biasPartial != nullptr) biasPartial[chunk * o + oo] = v;
    }
}
