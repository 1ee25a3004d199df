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

// gTable[idx[i], :] += g[i, :], deterministically: the indices go in chunks (blockIdx.y) of `chunk`, and within a
// chunk each table row's hits are added in increasing i. One chunk: out is gTable itself and the sums start from its
// rows (the CPU's order, the same bits). Several: out[c] is chunk c's partial table (all rows written), which the host
// sums in chunk order and adds to gTable; a row that most indices hit (a codebook early in training sends most
// latents to a few codes) is then summed by many warps at once instead of one.
// One warp owns a table row: the block stages its chunk's indices 256 at a time in shared memory, each warp ballots
// its row's hits 32 indices at a time. No atomics on floats. For d <= 32 every lane loads the g row of its own index
// and the warp adds the hits in order with shuffles into registers holding the row; wider rows are added hit by
// hit, a column per lane.
extern "C" __global__ void embedding_backward(int n, int d, int v, int chunk, const float* g, const int* idx,
                                              float* out, int* status) {
    __shared__ int tile[256];
    int lane = threadIdx.x & 31, warps = blockDim.x >> 5;
    bool narrow = d <= 32, partial = gridDim.y > 1;
    int t0 = blockIdx.x * warps, t = t0 + (threadIdx.x >> 5); // t may be >= v: such a warp still helps stage the tiles
    int begin = blockIdx.y * chunk, end = min(n, begin + chunk);
    float* dst = out + ((long long) blockIdx.y * v + t) * d;
    float acc[32];
#pragma unroll
    for (int j = 0; j < 32; j++) acc[j] = narrow && t < v && j < d && !partial ? dst[j] : 0.f;
    if (!narrow && partial && t < v)
        for (int j = lane; j < d; j += 32) dst[j] = 0.f;
    for (int base = begin; base < end; base += blockDim.x) {
        __syncthreads();
        int i = base + threadIdx.x;
        int id = i < end ? idx[i] : 0;
        if (i < end && (id < 0 || id >= v) && blockIdx.x == 0) atomicMin(status, i);
        tile[threadIdx.x] = i < end ? id : -1;
        __syncthreads();
        int count = min((int) blockDim.x, end - base);
        for (int s = 0; s < count; s += 32) {
            bool hit = t < v && s + lane < count && tile[s + lane] == t;
            unsigned hits = __ballot_sync(0xffffffffu, hit);
            if (hits == 0u) continue;
            const float* src = g + (long long) (base + s) * d;
            if (narrow) {
                float mine[32];
#pragma unroll
                for (int j = 0; j < 32; j++) mine[j] = hit && j < d ? src[(long long) lane * d + j] : 0.f;
                while (hits != 0u) {
                    int b = __ffs(hits) - 1;
                    hits &= hits - 1u;
#pragma unroll
                    for (int j = 0; j < 32; j++) {
                        if (j >= d) break; // uniform: d is the same for the whole warp
                        acc[j] += __shfl_sync(0xffffffffu, mine[j], b);
                    }
                }
            } else {
                while (hits != 0u) {
                    int b = __ffs(hits) - 1;
                    hits &= hits - 1u;
                    for (int j = lane; j < d; j += 32) dst[j] += src[(long long) b * d + j];
                }
            }
        }
    }
    if (narrow && t < v) {
#pragma unroll
        for (int j = 0; j < 32; j++)
            if (j < d && lane == j) dst[j] = acc[j];
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
