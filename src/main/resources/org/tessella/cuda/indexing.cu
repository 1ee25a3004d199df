// Embedding lookup, gather and their scatter-add backward passes on contiguous tensors. An out-of-range index is
// recorded in status[0] (the smallest bad position, INT_MAX when none) and its element skipped; the host reads the
// status after the launch and throws. The scatter-adds give each thread a destination column and walk the sources
// in order, so every destination sums its contributions in index order (deterministic, no atomics).

// out[i, :] = table[idx[i], :]; table [v, d], idx [n], out [n, d].
extern "C" __global__ void embedding(int n, int d, int v, const float* table, const int* idx, float* out, int* status) {
    long long total = (long long) n * d;
    for (long long e = blockIdx.x * (long long) blockDim.x + threadIdx.x; e < total; e += (long long) gridDim.x * blockDim.x) {
        int i = (int) (e / d), j = (int) (e - (long long) i * d);
        int t = idx[i];
        if (t < 0 || t >= v) {
            if (j == 0) atomicMin(status, i);
            out[e] = 0.f;
        } else {
            out[e] = table[(long long) t * d + j];
        }
    }
}

// gTable[idx[i], :] += g[i, :] for i in order; one thread per column.
extern "C" __global__ void embedding_backward(int n, int d, int v, const float* g, const int* idx, float* gTable,
                                              int* status) {
    TS_FOR(j, d) {
        for (int i = 0; i < n; i++) {
            int t = idx[i];
            if (t < 0 || t >= v) {
                if (j == 0) atomicMin(status, i);
                continue;
            }
            gTable[(long long) t * d + j] += g[(long long) i * d + j];
        }
    }
}

// out[a, i, b] = x[a, idx[a, i, b], b]: x [A, dx, B], idx and out [A, di, B].
extern "C" __global__ void gather(int A, int dx, int di, int B, const float* x, const int* idx, float* out, int* status) {
    long long total = (long long) A * di * B;
    for (long long e = blockIdx.x * (long long) blockDim.x + threadIdx.x; e < total; e += (long long) gridDim.x * blockDim.x) {
        long long row = e / B;
        int j = (int) (e - row * B);
        int a = (int) (row / di);
        int t = idx[e];
        if (t < 0 || t >= dx) {
            atomicMin(status, (int) e);
            out[e] = 0.f;
        } else {
            out[e] = x[((long long) a * dx + t) * B + j];
        }
    }
}

// gx[a, idx[a, i, b], b] += g[a, i, b] in order of i; one thread per (a, b).
extern "C" __global__ void scatter_add(int A, int dx, int di, int B, const float* g, const int* idx, float* gx,
                                       int* status) {
    long long total = (long long) A * B;
    for (long long e = blockIdx.x * (long long) blockDim.x + threadIdx.x; e < total; e += (long long) gridDim.x * blockDim.x) {
        int a = (int) (e / B), j = (int) (e - (long long) a * B);
        for (int i = 0; i < di; i++) {
            long long s = ((long long) a * di + i) * B + j;
            int t = idx[s];
            if (t < 0 || t >= dx) {
                atomicMin(status, (int) s);
                continue;
            }
            gx[((long long) a * dx + t) * B + j] += g[s];
        }
    }
}
