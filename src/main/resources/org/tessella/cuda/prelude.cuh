// Put in front of every module by Kernels.source (NVRTC compiles one translation unit with no include path, so this
// file holds what the modules share). No headers: NVRTC has no standard library, and none is needed.

#define TS_MAX_RANK 8
#define TS_MAX_OPS 4
#define TS_NAN __int_as_float(0x7fc00000)

// Shape and per-operand strides of a strided elementwise op (org.tessella.cuda.Layout writes it; operand 0 is the
// output). Passed by value; ts_offsets indexes it only with compile-time constants (the loops are unrolled), so it
// stays in the parameter bank instead of being copied to local memory.
struct Layout {
    int rank;
    int shape[TS_MAX_RANK];
    int stride[TS_MAX_OPS][TS_MAX_RANK];
};

// The element offset of flat output index i in each of the first N operands.
template <int N>
__device__ __forceinline__ void ts_offsets(const Layout& L, int i, int* off) {
    if (L.rank == 1) {
#pragma unroll
        for (int k = 0; k < N; k++) off[k] = i * L.stride[k][0];
        return;
    }
#pragma unroll
    for (int k = 0; k < N; k++) off[k] = 0;
#pragma unroll
    for (int d = TS_MAX_RANK - 1; d >= 0; d--) {
        if (d < L.rank) {
            int s = L.shape[d];
            int q = i / s, r = i - q * s;
#pragma unroll
            for (int k = 0; k < N; k++) off[k] += r * L.stride[k][d];
            i = q;
        }
    }
}

// Grid-stride loop over [0, n).
#define TS_FOR(i, n) for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += gridDim.x * blockDim.x)

// max and min that propagate NaN, as Java's Math.max / Math.min (fmaxf / fminf would drop it).
__device__ __forceinline__ float ts_max(float a, float b) { return (a != a || b != b) ? TS_NAN : fmaxf(a, b); }
__device__ __forceinline__ float ts_min(float a, float b) { return (a != a || b != b) ? TS_NAN : fminf(a, b); }

__device__ __forceinline__ float ts_warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ double ts_warp_sum_d(double v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float ts_warp_max(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = ts_max(v, __shfl_down_sync(0xffffffffu, v, o));
    return v;
}

__device__ __forceinline__ float ts_warp_min(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = ts_min(v, __shfl_down_sync(0xffffffffu, v, o));
    return v;
}

// Block-wide reductions for blockDim.x a multiple of 32 (at most 1024). The tree has a fixed shape, so the result is
// the same bits on every run; every thread gets lane 0's value. scratch holds 33 values and may be reused by the
// next call (each call starts with a barrier).
__device__ __forceinline__ float ts_block_sum(float v, float* scratch) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    __syncthreads();
    v = ts_warp_sum(v);
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    if (warp == 0) {
        v = lane < warps ? scratch[lane] : 0.f;
        v = ts_warp_sum(v);
        if (lane == 0) scratch[32] = v;
    }
    __syncthreads();
    return scratch[32];
}

__device__ __forceinline__ double ts_block_sum_d(double v, double* scratch) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    __syncthreads();
    v = ts_warp_sum_d(v);
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    if (warp == 0) {
        v = lane < warps ? scratch[lane] : 0.0;
        v = ts_warp_sum_d(v);
        if (lane == 0) scratch[32] = v;
    }
    __syncthreads();
    return scratch[32];
}

__device__ __forceinline__ float ts_block_max(float v, float* scratch) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    __syncthreads();
    v = ts_warp_max(v);
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    if (warp == 0) {
        v = lane < warps ? scratch[lane] : -__int_as_float(0x7f800000);
        v = ts_warp_max(v);
        if (lane == 0) scratch[32] = v;
    }
    __syncthreads();
    return scratch[32];
}

__device__ __forceinline__ float ts_block_min(float v, float* scratch) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    __syncthreads();
    v = ts_warp_min(v);
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    if (warp == 0) {
        v = lane < warps ? scratch[lane] : __int_as_float(0x7f800000);
        v = ts_warp_min(v);
        if (lane == 0) scratch[32] = v;
    }
    __syncthreads();
    return scratch[32];
}

__device__ __forceinline__ float ts_sigmoid(float v) { return 1.f / (1.f + expf(-v)); }
