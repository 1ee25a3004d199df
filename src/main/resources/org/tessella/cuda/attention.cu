// Scaled dot-product attention (forward and backward) and rotary embeddings on contiguous tensors. Attention gives
// one warp to each query row (forward, query gradient) or key row (key and value gradients); a head dimension is
// spread over the lanes (at most TS_ATT_LANE_ELEMS * 32 = 256 elements), dot products are warp sums broadcast from
// lane 0, and keys (or queries) are visited in order with an online softmax, so no score matrix is stored and
// every result is deterministic. Semantics are org.tessella.cpu.Attention's: query t sees keys s < visible(t), the
// row log-sum-exp is saved, and the backward pass recomputes probabilities from it.

#define TS_ATT_LANE_ELEMS 8

__device__ __forceinline__ int ts_visible(int causal, int t, int tq, int sk) {
    if (!causal) return sk;
    int n = t + sk - tq + 1;
    return n < 0 ? 0 : n > sk ? sk : n;
}

// The dot product of a lane-distributed row (a, in registers) with a row in memory, the same value in every lane.
__device__ __forceinline__ float ts_warp_dot(const float* a, const float* row, int n, int lane) {
    float s = 0.f;
#pragma unroll
    for (int i = 0; i < TS_ATT_LANE_ELEMS; i++) {
        int e = lane + 32 * i;
        if (e < n) s = fmaf(a[i], row[e], s);
    }
    s = ts_warp_sum(s);
    return __shfl_sync(0xffffffffu, s, 0);
}

__device__ __forceinline__ void ts_load_row(float* dst, const float* row, int n, int lane) {
#pragma unroll
    for (int i = 0; i < TS_ATT_LANE_ELEMS; i++) {
        int e = lane + 32 * i;
        dst[i] = e < n ? row[e] : 0.f;
    }
}

// q [rows = B*H*tq, d], k [B*H*sk, d], v [B*H*sk, dv], out [rows, dv], lse [rows].
extern "C" __global__ void attention_forward(int rows, int tq, int sk, int d, int dv, int causal, float scale,
                                             const float* q, const float* k, const float* v, float* out, float* lse) {
    int lane = threadIdx.x & 31;
    int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (row >= rows) return; // the whole warp leaves together
    int p = row / tq, t = row - p * tq;
    const float* kb = k + (long long) p * sk * d;
    const float* vb = v + (long long) p * sk * dv;
    float qv[TS_ATT_LANE_ELEMS], acc[TS_ATT_LANE_ELEMS];
    ts_load_row(qv, q + (long long) row * d, d, lane);
#pragma unroll
    for (int i = 0; i < TS_ATT_LANE_ELEMS; i++) acc[i] = 0.f;
    int n = ts_visible(causal, t, tq, sk);
    float m = -__int_as_float(0x7f800000), l = 0.f;
    for (int j = 0; j < n; j++) {
        float s = ts_warp_dot(qv, kb + (long long) j * d, d, lane) * scale;
        float mNew = fmaxf(m, s);
        float corr = expf(m - mNew), e = expf(s - mNew);
        l = l * corr + e;
        const float* vr = vb + (long long) j * dv;
#pragma unroll
        for (int i = 0; i < TS_ATT_LANE_ELEMS; i++) {
            int c = lane + 32 * i;
            if (c < dv) acc[i] = acc[i] * corr + e * vr[c];
        }
        m = mNew;
    }
    float* orow = out + (long long) row * dv;
#pragma unroll
    for (int i = 0; i < TS_ATT_LANE_ELEMS; i++) {
        int c = lane + 32 * i;
        if (c < dv) orow[c] = n == 0 ? 0.f : acc[i] / l;
    }
    if (lane == 0) lse[row] = n == 0 ? -__int_as_float(0x7f800000) : m + logf(l);
}

// delta[row] = gOut[row] . out[row], the softmax-backward term shared by all of a query's keys.
extern "C" __global__ void attention_delta(int rows, int dv, const float* gOut, const float* out, float* delta) {
    int lane = threadIdx.x & 31;
    int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (row >= rows) return;
    float g[TS_ATT_LANE_ELEMS];
    ts_load_row(g, gOut + (long long) row * dv, dv, lane);
    float s = ts_warp_dot(g, out + (long long) row * dv, dv, lane);
    if (lane == 0) delta[row] = s;
}

// gq[row] = scale * sum over visible keys j of p_j (gOut . v_j - delta) k_j, with p_j = exp(scale q . k_j - lse).
extern "C" __global__ void attention_backward_q(int rows, int tq, int sk, int d, int dv, int causal, float scale,
                                                const float* q, const float* k, const float* v, const float* lse,
                                                const float* gOut, const float* delta, float* gq) {
    int lane = threadIdx.x & 31;
    int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (row >= rows) return;
    int p = row / tq, t = row - p * tq;
    const float* kb = k + (long long) p * sk * d;
    const float* vb = v + (long long) p * sk * dv;
    float qv[TS_ATT_LANE_ELEMS], gv[TS_ATT_LANE_ELEMS], acc[TS_ATT_LANE_ELEMS];
    ts_load_row(qv, q + (long long) row * d, d, lane);
    ts_load_row(gv, gOut + (long long) row * dv, dv, lane);
#pragma unroll
    for (int i = 0; i < TS_ATT_LANE_ELEMS; i++) acc[i] = 0.f;
    int n = ts_visible(causal, t, tq, sk);
    float lr = lse[row], dr = delta[row];
    for (int j = 0; j < n; j++) {
        const float* kr = kb + (long long) j * d;
        float pj = expf(ts_warp_dot(qv, kr, d, lane) * scale - lr);
        float ds = pj * (ts_warp_dot(gv, vb + (long long) j * dv, dv, lane) - dr);
#pragma unroll
        for (int i = 0; i < TS_ATT_LANE_ELEMS; i++) {
            int c = lane + 32 * i;
            if (c < d) acc[i] = fmaf(ds, kr[c], acc[i]);
        }
    }
    float* g = gq + (long long) row * d;
#pragma unroll
    for (int i = 0; i < TS_ATT_LANE_ELEMS; i++) {
        int c = lane + 32 * i;
        if (c < d) g[c] = acc[i] * scale;
    }
}

// For key row j of pair p: gv[j] = sum over the queries t that see it of p_tj gOut[t],
// gk[j] = sum of scale p_tj (gOut[t] . v_j - delta[t]) q[t]; queries in order.
extern "C" __global__ void attention_backward_kv(int keyRows, int tq, int sk, int d, int dv, int causal, float scale,
                                                 const float* q, const float* k, const float* v, const float* lse,
                                                 const float* gOut, const float* delta, float* gk, float* gvOut) {
    int lane = threadIdx.x & 31;
    int kr = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (kr >= keyRows) return;
    int p = kr / sk, j = kr - p * sk;
    float kv[TS_ATT_LANE_ELEMS], vv[TS_ATT_LANE_ELEMS], ak[TS_ATT_LANE_ELEMS], av[TS_ATT_LANE_ELEMS];
    ts_load_row(kv, k + (long long) kr * d, d, lane);
    ts_load_row(vv, v + (long long) kr * dv, dv, lane);
#pragma unroll
    for (int i = 0; i < TS_ATT_LANE_ELEMS; i++) { ak[i] = 0.f; av[i] = 0.f; }
    int t0 = causal ? j - (sk - tq) : 0; // visible(t) > j  <=>  t > j - (sk - tq) - 1
    if (t0 < 0) t0 = 0;
    for (int t = t0; t < tq; t++) {
        long long row = (long long) p * tq + t;
        const float* qr = q + row * d;
        const float* gr = gOut + row * dv;
        float pj = expf(ts_warp_dot(kv, qr, d, lane) * scale - lse[row]);
        float ds = pj * (ts_warp_dot(vv, gr, dv, lane) - delta[row]) * scale;
#pragma unroll
        for (int i = 0; i < TS_ATT_LANE_ELEMS; i++) {
            int c = lane + 32 * i;
            if (c < dv) av[i] = fmaf(pj, gr[c], av[i]);
            if (c < d) ak[i] = fmaf(ds, qr[c], ak[i]);
        }
    }
#pragma unroll
    for (int i = 0; i < TS_ATT_LANE_ELEMS; i++) {
        int c = lane + 32 * i;
        if (c < d) gk[(long long) kr * d + c] = ak[i];
        if (c < dv) gvOut[(long long) kr * dv + c] = av[i];
    }
}

// Short sequences (tq, sk <= TS_ATT_TILE, head dimensions <= TS_ATT_TILE): a block per (batch, head) pair holds q, k,
// v (and, backward, gOut and the probabilities) in shared memory and computes each score, probability and output
// element with one thread, as a sum in a fixed order (no atomics, so as deterministic as the warp kernels above).
// The warp-per-row kernels ran gpt-m's 64 x 64 heads at 191 / 451 us forward / backward per call, latency-bound on a
// warp reduction per key.
#define TS_ATT_TILE 64

// src [rows, cols] (contiguous) into shared dst with rows cols + 1 apart (the padding against bank conflicts).
__device__ __forceinline__ void ts_att_load(float* dst, const float* src, int rows, int cols) {
    for (int i = threadIdx.x; i < rows * cols; i += blockDim.x) dst[i / cols * (cols + 1) + i % cols] = src[i];
}

// Forward tile: shared q, k, v and the scores (rows padded by one against bank conflicts), then the rows' max and
// sum; Attention.java sizes the dynamic shared memory from this layout.
extern "C" __global__ void attention_forward_tile(int pairs, int tq, int sk, int d, int dv, int causal, float scale,
                                                  const float* q, const float* k, const float* v, float* out,
                                                  float* lse) {
    extern __shared__ float sh[];
    float* sQ = sh;
    float* sK = sQ + tq * (d + 1);
    float* sV = sK + sk * (d + 1);
    float* sP = sV + sk * (dv + 1);
    float* sM = sP + tq * (sk + 1);
    float* sL = sM + tq;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    for (int p = blockIdx.x; p < pairs; p += gridDim.x) {
        ts_att_load(sQ, q + (long long) p * tq * d, tq, d);
        ts_att_load(sK, k + (long long) p * sk * d, sk, d);
        ts_att_load(sV, v + (long long) p * sk * dv, sk, dv);
        __syncthreads();
        for (int i = threadIdx.x; i < tq * sk; i += blockDim.x) {
            int t = i / sk, j = i - t * sk;
            float sc = -__int_as_float(0x7f800000);
            if (j < ts_visible(causal, t, tq, sk)) {
                float a = 0.f;
                for (int e = 0; e < d; e++) a = fmaf(sQ[t * (d + 1) + e], sK[j * (d + 1) + e], a);
                sc = a * scale;
            }
            sP[t * (sk + 1) + j] = sc;
        }
        __syncthreads();
        for (int t = warp; t < tq; t += warps) { // a warp per row: max, then the sum of exp, in a fixed tree
            int n = ts_visible(causal, t, tq, sk);
            float m = -__int_as_float(0x7f800000);
            for (int j = lane; j < n; j += 32) m = fmaxf(m, sP[t * (sk + 1) + j]);
            m = __shfl_sync(0xffffffffu, ts_warp_max(m), 0); // the row max in every lane
            float l = 0.f;
            for (int j = lane; j < sk; j += 32) {
                float e = j < n ? expf(sP[t * (sk + 1) + j] - m) : 0.f;
                sP[t * (sk + 1) + j] = e;
                l += e;
            }
            l = ts_warp_sum(l);
            if (lane == 0) {
                sM[t] = m;
                sL[t] = l;
                lse[(long long) p * tq + t] = n == 0 ? -__int_as_float(0x7f800000) : m + logf(l);
            }
        }
        __syncthreads();
        for (int i = threadIdx.x; i < tq * dv; i += blockDim.x) {
            int t = i / dv, c = i - t * dv, n = ts_visible(causal, t, tq, sk);
            float a = 0.f;
            for (int j = 0; j < n; j++) a = fmaf(sP[t * (sk + 1) + j], sV[j * (dv + 1) + c], a);
            out[(long long) p * tq * dv + i] = n == 0 ? 0.f : a / sL[t];
        }
        __syncthreads();
    }
}

// Backward tile: shared q, k, v, gOut, probabilities, score gradients, lse and delta (padded as forward).
// gq, gk, gv of one pair: p = exp(scale q.k - lse), ds = p (gOut.v - delta); gq = scale ds k, gk = scale ds^T q,
// gv = p^T gOut, each element a sum in order over keys (gq) or queries (gk, gv).
extern "C" __global__ void attention_backward_tile(int pairs, int tq, int sk, int d, int dv, int causal, float scale,
                                                   const float* q, const float* k, const float* v, const float* lse,
                                                   const float* gOut, const float* delta, float* gq, float* gk,
                                                   float* gvOut) {
    extern __shared__ float sh[];
    float* sQ = sh;
    float* sK = sQ + tq * (d + 1);
    float* sV = sK + sk * (d + 1);
    float* sG = sV + sk * (dv + 1);
    float* sP = sG + tq * (dv + 1);
    float* sD = sP + tq * (sk + 1);
    float* sLse = sD + tq * (sk + 1);
    float* sDelta = sLse + tq;
    for (int p = blockIdx.x; p < pairs; p += gridDim.x) {
        ts_att_load(sQ, q + (long long) p * tq * d, tq, d);
        ts_att_load(sK, k + (long long) p * sk * d, sk, d);
        ts_att_load(sV, v + (long long) p * sk * dv, sk, dv);
        ts_att_load(sG, gOut + (long long) p * tq * dv, tq, dv);
        for (int i = threadIdx.x; i < tq; i += blockDim.x) {
            sLse[i] = lse[(long long) p * tq + i];
            sDelta[i] = delta[(long long) p * tq + i];
        }
        __syncthreads();
        for (int i = threadIdx.x; i < tq * sk; i += blockDim.x) {
            int t = i / sk, j = i - t * sk;
            float pr = 0.f, ds = 0.f;
            if (j < ts_visible(causal, t, tq, sk)) {
                float a = 0.f, b = 0.f;
                for (int e = 0; e < d; e++) a = fmaf(sQ[t * (d + 1) + e], sK[j * (d + 1) + e], a);
                for (int c = 0; c < dv; c++) b = fmaf(sG[t * (dv + 1) + c], sV[j * (dv + 1) + c], b);
                pr = expf(a * scale - sLse[t]);
                ds = pr * (b - sDelta[t]);
            }
            sP[t * (sk + 1) + j] = pr;
            sD[t * (sk + 1) + j] = ds;
        }
        __syncthreads();
        for (int i = threadIdx.x; i < tq * d; i += blockDim.x) {
            int t = i / d, e = i - t * d;
            float a = 0.f;
            for (int j = 0; j < sk; j++) a = fmaf(sD[t * (sk + 1) + j], sK[j * (d + 1) + e], a);
            gq[(long long) p * tq * d + i] = a * scale;
        }
        for (int i = threadIdx.x; i < sk * d; i += blockDim.x) {
            int j = i / d, e = i - j * d;
            float a = 0.f;
            for (int t = 0; t < tq; t++) a = fmaf(sD[t * (sk + 1) + j] * scale, sQ[t * (d + 1) + e], a);
            gk[(long long) p * sk * d + i] = a;
        }
        for (int i = threadIdx.x; i < sk * dv; i += blockDim.x) {
            int j = i / dv, c = i - j * dv;
            float a = 0.f;
            for (int t = 0; t < tq; t++) a = fmaf(sP[t * (sk + 1) + j], sG[t * (dv + 1) + c], a);
            gvOut[(long long) p * sk * dv + i] = a;
        }
        __syncthreads();
    }
}

// Rotary embedding on interleaved pairs of x [N, T, H, D] (contiguous) with cos, sin [T, D/2] of any strides:
// (x0, x1) -> (x0 c - x1 s, x0 s + x1 c), by the negative angle when inverse.
extern "C" __global__ void rope(int rows, int tq, int heads, int half, const float* x, const float* cosT, int cs0,
                                int cs1, const float* sinT, int ss0, int ss1, int inverse, float* out) {
    TS_FOR(e, rows * half) {
        int r = e / half, i = e - r * half;
        int t = (r / heads) % tq;
        float c = cosT[t * cs0 + i * cs1], s = sinT[t * ss0 + i * ss1];
        if (inverse) s = -s;
        long long o = (long long) r * 2 * half + 2 * i;
        float x0 = x[o], x1 = x[o + 1];
        out[o] = x0 * c - x1 * s;
        out[o + 1] = x0 * s + x1 * c;
    }
}
