// Softmax, log-softmax, their backward passes and fused cross-entropy over the last axis of contiguous tensors:
// one block per row, statistics through the fixed-shape block reductions of prelude.cuh.

extern "C" __global__ void softmax(int rows, int d, const float* x, float* y) {
    __shared__ float scratch[33];
    for (int r = blockIdx.x; r < rows; r += gridDim.x) {
        const float* xr = x + (long long) r * d;
        float* yr = y + (long long) r * d;
        float m = -__int_as_float(0x7f800000);
        for (int j = threadIdx.x; j < d; j += blockDim.x) m = ts_max(m, xr[j]);
        m = ts_block_max(m, scratch);
        float s = 0.f;
        for (int j = threadIdx.x; j < d; j += blockDim.x) {
            float e = expf(xr[j] - m);
            yr[j] = e;
            s += e;
        }
        float inv = 1.f / ts_block_sum(s, scratch);
        for (int j = threadIdx.x; j < d; j += blockDim.x) yr[j] *= inv;
    }
}

// gx = y * (gy - sum(gy * y)) per row.
extern "C" __global__ void softmax_backward(int rows, int d, const float* y, const float* gy, float* gx) {
    __shared__ float scratch[33];
    for (int r = blockIdx.x; r < rows; r += gridDim.x) {
        long long o = (long long) r * d;
        float s = 0.f;
        for (int j = threadIdx.x; j < d; j += blockDim.x) s += gy[o + j] * y[o + j];
        float dot = ts_block_sum(s, scratch);
        for (int j = threadIdx.x; j < d; j += blockDim.x) gx[o + j] = y[o + j] * (gy[o + j] - dot);
    }
}

extern "C" __global__ void log_softmax(int rows, int d, const float* x, float* y) {
    __shared__ float scratch[33];
    for (int r = blockIdx.x; r < rows; r += gridDim.x) {
        long long o = (long long) r * d;
        float m = -__int_as_float(0x7f800000);
        for (int j = threadIdx.x; j < d; j += blockDim.x) m = ts_max(m, x[o + j]);
        m = ts_block_max(m, scratch);
        float s = 0.f;
        for (int j = threadIdx.x; j < d; j += blockDim.x) s += expf(x[o + j] - m);
        float lse = m + logf(ts_block_sum(s, scratch));
        for (int j = threadIdx.x; j < d; j += blockDim.x) y[o + j] = x[o + j] - lse;
    }
}

// gx = gy - exp(y) * sum(gy) per row (y is the log-softmax output).
extern "C" __global__ void log_softmax_backward(int rows, int d, const float* y, const float* gy, float* gx) {
    __shared__ float scratch[33];
    for (int r = blockIdx.x; r < rows; r += gridDim.x) {
        long long o = (long long) r * d;
        float s = 0.f;
        for (int j = threadIdx.x; j < d; j += blockDim.x) s += gy[o + j];
        float sum = ts_block_sum(s, scratch);
        for (int j = threadIdx.x; j < d; j += blockDim.x) gx[o + j] = gy[o + j] - expf(y[o + j]) * sum;
    }
}

// losses[r] = logsumexp(x[r]) - x[r, t[r]] and, when dx is not null, dx[r] = softmax(x[r]) - onehot(t[r]). Rows whose
// target is ignore get 0 and a zero gradient. status[0] counts the rows not ignored; status[1] is the first row whose
// target is out of range (left at INT_MAX when none is).
extern "C" __global__ void cross_entropy(int rows, int c, const float* x, const int* targets, int ignore,
                                         float* losses, float* dx, int* status) {
    __shared__ float scratch[33];
    for (int r = blockIdx.x; r < rows; r += gridDim.x) {
        long long o = (long long) r * c;
        int t = targets[r];
        if (t == ignore || t < 0 || t >= c) {
            if (threadIdx.x == 0) {
                losses[r] = 0.f;
                if (t != ignore) atomicMin(status + 1, r);
            }
            if (dx != 0) for (int j = threadIdx.x; j < c; j += blockDim.x) dx[o + j] = 0.f;
            continue;
        }
        if (threadIdx.x == 0) atomicAdd(status, 1);
        float m = -__int_as_float(0x7f800000);
        for (int j = threadIdx.x; j < c; j += blockDim.x) m = ts_max(m, x[o + j]);
        m = ts_block_max(m, scratch);
        float s = 0.f;
        for (int j = threadIdx.x; j < c; j += blockDim.x) {
            float e = expf(x[o + j] - m);
            if (dx != 0) dx[o + j] = e;
            s += e;
        }
        float sum = ts_block_sum(s, scratch);
        if (threadIdx.x == 0) losses[r] = (m + logf(sum)) - x[o + t];
        if (dx != 0) {
            float inv = 1.f / sum;
            for (int j = threadIdx.x; j < c; j += blockDim.x) dx[o + j] = dx[o + j] * inv - (j == t ? 1.f : 0.f);
        }
    }
}
