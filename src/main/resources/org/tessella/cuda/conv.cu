// Implicit-GEMM convolutions on the tensor cores (compute capability 8.0 and newer: mma.sync with tf32 inputs).
// The three products of a convolution are GEMMs whose image operand is gathered from the [N, C, H, W] tensor as a
// tile is loaded, so no column buffer is written to memory (im2col moved 9x the input through DRAM twice):
//   forward          y[n, o, p]  = sum over k = (c, a, b)   of w[o, c, a, b] * x[n, c, ih, iw]   M = O, N = n*P, K = C*kh*kw
//   input gradient   gx[n, c, q] = sum over k = (o, a, b)   of w[o, c, a, b] * gy[n, o, oh, ow]  M = C, N = n*H*W, K = O*kh*kw
//                    (by stride classes of input pixels, each with only the taps that reach it: see conv_class)
//   weight gradient  gw[o, k]    = sum over j = (n, oh, ow) of gy[n, o, oh, ow] * x[n, c, ih, iw] M = O, N = C*kh*kw, K = n*P
// with ih = oh*stride - pad + a, iw = ow*stride - pad + b, and zero wherever that falls outside the image (for the
// input gradient: where no output pixel reads the input pixel through tap (a, b)).
//
// One block of 128 threads (4 warps as 2 x 2, each 32 x 64) computes a 64 x 128 tile of C, 16 of K at a time: the
// next tile's gathers go to registers while the warps run mma.m16n8k8 on the current one in shared memory (A as
// [m][k], B as [k][n]; row strides 20 and 136 words put every fragment read in its own bank). Image taps are
// stepped (channel, a, b) row by row instead of divided out. The weight gradient also sums the bias gradient from
// the gy rows it loads. Kept simple on purpose: measured on an H200 (vq-s training at batch 256), this version ran
// 10-40% faster than three variants: 32-deep K tiles (their registers halved the occupancy), a three-stage cp.async
// pipeline with ldmatrix fragments from K-contiguous tiles (bank conflicts on the 4-byte copies), and the same
// pipeline with these tiles.
// Precision: TF32 rounds each operand to nearest (one mma per product). The 3xTF32 variant splits each operand into
// a tf32 head and its remainder and computes tail*head + head*tail + head*head (small products first), adding each
// tile's products into the float32 sums with ordinary adds (the mma's own accumulation truncates). The weight
// gradient splits K into ranges fixed by the shapes alone; each range writes its own partial tile and the host sums
// them in order, so every result is deterministic and the same on every GPU.

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
