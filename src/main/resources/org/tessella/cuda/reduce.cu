// Reductions. Each block or thread accumulates in a fixed order and block trees have a fixed shape, so a result is
// the same bits on every run on one device (it may differ from the CPU's order in the last bits).
// ops: 0 SUM, 1 MAX, 2 MIN.

__device__ __forceinline__ float ts_reduce_init(int op) {
    return op == 0 ? 0.f : op == 1 ? -__int_as_float(0x7f800000) : __int_as_float(0x7f800000);
}

__device__ __forceinline__ float ts_reduce_step(int op, float acc, float v) {
    return op == 0 ? acc + v : op == 1 ? ts_max(acc, v) : ts_min(acc, v);
}

// out[r] = op over the contiguous row x[r*n .. r*n + n); one block per row.
extern "C" __global__ void reduce_rows(int op, int rows, int n, const float* x, float* out) {
    __shared__ float scratch[33];
    for (int r = blockIdx.x; r < rows; r += gridDim.x) {
        const float* row = x + (long long) r * n;
        float acc = ts_reduce_init(op);
        for (int j = threadIdx.x; j < n; j += blockDim.x) acc = ts_reduce_step(op, acc, row[j]);
        float v = op == 0 ? ts_block_sum(acc, scratch) : op == 1 ? ts_block_max(acc, scratch) : ts_block_min(acc, scratch);
        if (threadIdx.x == 0) out[r] = v;
    }
}

// out[j] = op over x[i*n + j] for i in [0, m), rows in order; one thread per column (coalesced across threads).
extern "C" __global__ void reduce_cols(int op, int m, int n, const float* x, float* out) {
    TS_FOR(j, n) {
        float acc = x[j];
        for (int i = 1; i < m; i++) acc = ts_reduce_step(op, acc, x[(long long) i * n + j]);
        out[j] = acc;
    }
}

// The first stage of a long column reduction: partial[c * n + j] = op over rows [c * per, min(m, (c + 1) * per)) of
// column j, rows in order; a second reduce_cols over the partials (in chunk order) finishes it. The chunking depends
// only on the shape, so the result is the same on every run and every device.
extern "C" __global__ void reduce_cols_chunked(int op, int m, int n, int per, int chunks, const float* x, float* partial) {
    long long total = (long long) chunks * n;
    for (long long e = blockIdx.x * (long long) blockDim.x + threadIdx.x; e < total; e += (long long) gridDim.x * blockDim.x) {
        int c = (int) (e / n), j = (int) (e - (long long) c * n);
        int i0 = c * per, i1 = i0 + per < m ? i0 + per : m;
        float acc = x[(long long) i0 * n + j];
        for (int i = i0 + 1; i < i1; i++) acc = ts_reduce_step(op, acc, x[(long long) i * n + j]);
        partial[e] = acc;
    }
}

// Partial sums of squares in double: block b covers a fixed grid-stride slice; the host adds the partials in order.
extern "C" __global__ void sum_squares(int n, const float* x, double* partial) {
    __shared__ double scratch[33];
    double acc = 0.0;
    TS_FOR(i, n) {
        double v = x[i];
        acc += v * v;
    }
    double s = ts_block_sum_d(acc, scratch);
    if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

// True when (va, ia) comes before (vb, ib) in argmax order: NaN first, then larger values, then smaller indices.
__device__ __forceinline__ bool ts_argmax_better(float va, int ia, float vb, int ib) {
    bool na = va != va, nb = vb != vb;
    if (na != nb) return na;
    if (!na && va != vb) return va > vb;
    return ia < ib;
}

// Index of the largest element of each contiguous row (first on ties; a NaN wins); one block per row.
extern "C" __global__ void argmax_rows(int rows, int n, const float* x, int* out) {
    __shared__ float sv[1024];
    __shared__ int si[1024];
    for (int r = blockIdx.x; r < rows; r += gridDim.x) {
        const float* row = x + (long long) r * n;
        float bv = -__int_as_float(0x7f800000);
        int bi = 0x7fffffff;
        for (int j = threadIdx.x; j < n; j += blockDim.x)
            if (bi == 0x7fffffff || ts_argmax_better(row[j], j, bv, bi)) { bv = row[j]; bi = j; }
        sv[threadIdx.x] = bv;
        si[threadIdx.x] = bi;
        __syncthreads();
        for (int s = blockDim.x / 2; s > 0; s >>= 1) {
            if (threadIdx.x < s) {
                int oi = si[threadIdx.x + s];
                if (oi != 0x7fffffff && (si[threadIdx.x] == 0x7fffffff
                        || ts_argmax_better(sv[threadIdx.x + s], oi, sv[threadIdx.x], si[threadIdx.x]))) {
                    sv[threadIdx.x] = sv[threadIdx.x + s];
                    si[threadIdx.x] = oi;
                }
            }
            __syncthreads();
        }
        if (threadIdx.x == 0) out[r] = si[0] == 0x7fffffff ? 0 : si[0];
        __syncthreads();
    }
}

// A 64-bit key whose unsigned ascending order is descending value (NaN first), then ascending index: the order of
// the CPU's topk.
__device__ __forceinline__ unsigned long long ts_topk_key(float v, int j) {
    unsigned int bits = v != v ? 0x7fc00000u : __float_as_uint(v);
    unsigned int ordered = (int) bits >= 0 ? bits ^ 0x80000000u : ~bits;
    return ((unsigned long long) (~ordered) << 32) | (unsigned int) j;
}

// The k largest values of each contiguous row, descending, with their indices: k rounds of a block-wide minimum
// over the keys greater than the previous round's. One block per row.
extern "C" __global__ void topk_rows(int rows, int n, int k, const float* x, float* values, int* indices) {
    __shared__ unsigned long long sk[1024];
    for (int r = blockIdx.x; r < rows; r += gridDim.x) {
        const float* row = x + (long long) r * n;
        unsigned long long prev = 0;
        for (int t = 0; t < k; t++) {
            unsigned long long best = ~0ull;
            for (int j = threadIdx.x; j < n; j += blockDim.x) {
                unsigned long long key = ts_topk_key(row[j], j);
                if ((t == 0 || key > prev) && key < best) best = key;
            }
            sk[threadIdx.x] = best;
            __syncthreads();
            for (int s = blockDim.x / 2; s > 0; s >>= 1) {
                if (threadIdx.x < s && sk[threadIdx.x + s] < sk[threadIdx.x]) sk[threadIdx.x] = sk[threadIdx.x + s];
                __syncthreads();
            }
            prev = sk[0];
            __syncthreads();
            if (threadIdx.x == 0) {
                int j = (int) (prev & 0xffffffffu);
                values[(long long) r * k + t] = row[j];
                indices[(long long) r * k + t] = j;
            }
        }
    }
}
