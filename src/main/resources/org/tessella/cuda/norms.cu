// LayerNorm and RMSNorm over the last axis of contiguous [rows, d] tensors, forward and backward: one block per row.
// The weight and bias gradients are sums over rows, computed one thread per column with rows in order
// (deterministic, no atomics). Formulas follow org.tessella.cpu.Norms operation for operation.

// y = (x - mean) * rstd * w + b (w, b may be null); saves mean and rstd per row.
extern "C" __global__ void layer_norm(int rows, int d, const float* x, const float* w, const float* b, float eps,
                                      float* y, float* mean, float* rstd) {
    __shared__ float scratch[33];
    for (int r = blockIdx.x; r < rows; r += gridDim.x) {
        long long o = (long long) r * d;
        float s = 0.f;
        for (int j = threadIdx.x; j < d; j += blockDim.x) s += x[o + j];
        float mu = ts_block_sum(s, scratch) / d;
        float q = 0.f;
        for (int j = threadIdx.x; j < d; j += blockDim.x) {
            float c = x[o + j] - mu;
            q += c * c;
        }
        float rs = 1.f / sqrtf(ts_block_sum(q, scratch) / d + eps);
        if (threadIdx.x == 0) {
            mean[r] = mu;
            rstd[r] = rs;
        }
        for (int j = threadIdx.x; j < d; j += blockDim.x) {
            float h = (x[o + j] - mu) * rs;
            if (w != 0 && b != 0) h = fmaf(h, w[j], b[j]);
            else if (w != 0) h = h * w[j];
            else if (b != 0) h = h + b[j];
            y[o + j] = h;
        }
    }
}

// gx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)), dxhat = gy * w.
extern "C" __global__ void layer_norm_backward(int rows, int d, const float* x, const float* w, const float* mean,
                                               const float* rstd, const float* gy, float* gx) {
    __shared__ float scratch[33];
    for (int r = blockIdx.x; r < rows; r += gridDim.x) {
        long long o = (long long) r * d;
        float mu = mean[r], rs = rstd[r];
        float sa = 0.f, sb = 0.f;
        for (int j = threadIdx.x; j < d; j += blockDim.x) {
            float dh = w != 0 ? gy[o + j] * w[j] : gy[o + j];
            sa += dh;
            sb += dh * (x[o + j] - mu);
        }
        float a = ts_block_sum(sa, scratch) / d;
        float bb = ts_block_sum(sb, scratch) * rs / d;
        for (int j = threadIdx.x; j < d; j += blockDim.x) {
            float dh = w != 0 ? gy[o + j] * w[j] : gy[o + j];
            float h = (x[o + j] - mu) * rs;
            gx[o + j] = ((dh - a) - h * bb) * rs;
        }
    }
}

// y = x * rstd * w (w may be null), rstd = 1 / sqrt(mean(x^2) + eps).
extern "C" __global__ void rms_norm(int rows, int d, const float* x, const float* w, float eps, float* y, float* rstd) {
    __shared__ float scratch[33];
    for (int r = blockIdx.x; r < rows; r += gridDim.x) {
        long long o = (long long) r * d;
        float q = 0.f;
        for (int j = threadIdx.x; j < d; j += blockDim.x) q += x[o + j] * x[o + j];
        float rs = 1.f / sqrtf(ts_block_sum(q, scratch) / d + eps);
        if (threadIdx.x == 0) rstd[r] = rs;
        for (int j = threadIdx.x; j < d; j += blockDim.x) {
            float h = x[o + j] * rs;
            y[o + j] = w != 0 ? h * w[j] : h;
        }
    }
}

// gx = rstd * (dxhat - xhat * mean(dxhat * xhat)), xhat = x * rstd, dxhat = gy * w.
extern "C" __global__ void rms_norm_backward(int rows, int d, const float* x, const float* w, const float* rstd,
                                             const float* gy, float* gx) {
    __shared__ float scratch[33];
    for (int r = blockIdx.x; r < rows; r += gridDim.x) {
        long long o = (long long) r * d;
        float rs = rstd[r];
        float sb = 0.f;
        for (int j = threadIdx.x; j < d; j += blockDim.x) {
            float dh = w != 0 ? gy[o + j] * w[j] : gy[o + j];
            sb += dh * x[o + j];
        }
        float bb = ts_block_sum(sb, scratch) * rs / d;
        for (int j = threadIdx.x; j < d; j += blockDim.x) {
            float dh = w != 0 ? gy[o + j] * w[j] : gy[o + j];
            gx[o + j] = (dh - (x[o + j] * rs) * bb) * rs;
        }
    }
}

// The weight and bias gradients of LayerNorm / RMSNorm, first stage: for chunk k of rows (rows k*per .. in order) and
// column j, pw[k*d + j] = sum of gy * (x - mean[r]) * rstd[r] (mean null: RMSNorm), pb[k*d + j] = sum of gy.
// Consecutive threads take consecutive columns, so each row's loads coalesce; chunks x d threads fill the GPU where
// one thread per column (d of them, each 4096 rows long) ran 395 us per call on gpt-m.
extern "C" __global__ void norm_param_partials(int rows, int d, int chunks, const float* x, const float* gy,
                                               const float* mean, const float* rstd, float* pw, float* pb) {
    int per = (rows + chunks - 1) / chunks;
    TS_FOR(i, d * chunks) {
        int k = i / d, j = i - k * d, r1 = min(rows, (k + 1) * per);
        float sw = 0.f, sb = 0.f;
        for (int r = k * per; r < r1; r++) {
            long long o = (long long) r * d + j;
            float g = gy[o];
            if (pw != 0) sw = fmaf(g, (x[o] - (mean != 0 ? mean[r] : 0.f)) * rstd[r], sw);
            sb += g;
        }
        if (pw != 0) pw[i] = sw;
        if (pb != 0) pb[i] = sb;
    }
}

// Second stage: gw[j], gb[j] = the chunks' partial sums added in chunk order (either output may be null).
extern "C" __global__ void norm_param_grads(int d, int chunks, const float* pw, const float* pb, float* gw, float* gb) {
    TS_FOR(j, d) {
        float sw = 0.f, sb = 0.f;
        for (int k = 0; k < chunks; k++) {
            if (gw != 0) sw += pw[k * d + j];
            if (gb != 0) sb += pb[k * d + j];
        }
        if (gw != 0) gw[j] = sw;
        if (gb != 0) gb[j] = sb;
    }
}

// GroupNorm of x [N, C, HW] viewed as N*groups rows of cpg*HW contiguous elements; per-channel weight and bias.
extern "C" __global__ void group_norm(int rowsTotal, int groups, int cpg, int hw, const float* x, const float* w,
                                      const float* b, float eps, float* y, float* mean, float* rstd) {
    __shared__ float scratch[33];
    int m = cpg * hw;
    for (int r = blockIdx.x; r < rowsTotal; r += gridDim.x) {
        long long o = (long long) r * m;
        int c0 = (r % groups) * cpg;
        float s = 0.f;
        for (int j = threadIdx.x; j < m; j += blockDim.x) s += x[o + j];
        float mu = ts_block_sum(s, scratch) / m;
        float q = 0.f;
        for (int j = threadIdx.x; j < m; j += blockDim.x) {
            float c = x[o + j] - mu;
            q += c * c;
        }
        float rs = 1.f / sqrtf(ts_block_sum(q, scratch) / m + eps);
        if (threadIdx.x == 0) {
            mean[r] = mu;
            rstd[r] = rs;
        }
        for (int j = threadIdx.x; j < m; j += blockDim.x) {
            int ch = c0 + j / hw;
            float h = (x[o + j] - mu) * rs;
            if (w != 0 && b != 0) h = fmaf(h, w[ch], b[ch]);
            else if (w != 0) h = h * w[ch];
            else if (b != 0) h = h + b[ch];
            y[o + j] = h;
        }
    }
}

extern "C" __global__ void group_norm_backward(int rowsTotal, int groups, int cpg, int hw, const float* x,
                                               const float* w, const float* mean, const float* rstd, const float* gy,
                                               float* gx) {
    __shared__ float scratch[33];
    int m = cpg * hw;
    for (int r = blockIdx.x; r < rowsTotal; r += gridDim.x) {
        long long o = (long long) r * m;
        int c0 = (r % groups) * cpg;
        float mu = mean[r], rs = rstd[r];
        float sa = 0.f, sb = 0.f;
        for (int j = threadIdx.x; j < m; j += blockDim.x) {
            float dh = w != 0 ? gy[o + j] * w[c0 + j / hw] : gy[o + j];
            sa += dh;
            sb += dh * (x[o + j] - mu);
        }
        float a = ts_block_sum(sa, scratch) / m;
        float bb = ts_block_sum(sb, scratch) * rs / m;
        for (int j = threadIdx.x; j < m; j += blockDim.x) {
            float dh = w != 0 ? gy[o + j] * w[c0 + j / hw] : gy[o + j];
            float h = (x[o + j] - mu) * rs;
            gx[o + j] = ((dh - a) - h * bb) * rs;
        }
    }
}

// Per channel and chunk of images: the partial sums of gy * (x - mean) * rstd (partial[ch, chunk]) and of gy
// (partial[c * chunks + ...]), one block each, so a large batch fills the GPU (one block per channel did not).
extern "C" __global__ void group_norm_param_partials(int n, int c, int groups, int hw, int chunks, const float* x,
                                                     const float* gy, const float* mean, const float* rstd,
                                                     float* partial) {
    __shared__ float scratch[33];
    int cpg = c / groups, per = (n + chunks - 1) / chunks;
    for (int blk = blockIdx.x; blk < c * chunks; blk += gridDim.x) {
        int ch = blk / chunks, chunk = blk - ch * chunks, g = ch / cpg;
        float sw = 0.f, sb = 0.f;
        for (int i = chunk * per; i < min(n, (chunk + 1) * per); i++) {
            long long o = ((long long) i * c + ch) * hw;
            float mu = mean[i * groups + g], rs = rstd[i * groups + g];
            for (int j = threadIdx.x; j < hw; j += blockDim.x) {
                float gv = gy[o + j];
                sw += gv * (x[o + j] - mu) * rs;
                sb += gv;
            }
        }
        sw = ts_block_sum(sw, scratch);
        sb = ts_block_sum(sb, scratch);
        if (threadIdx.x == 0) {
            partial[blk] = sw;
            partial[c * chunks + blk] = sb;
        }
    }
}

// gw[c], gb[c]: the chunks' partial sums, added in chunk order.
extern "C" __global__ void group_norm_param_grads(int c, int chunks, const float* partial, float* gw, float* gb) {
    TS_FOR(ch, c) {
        float sw = 0.f, sb = 0.f;
        for (int k = 0; k < chunks; k++) {
            sw += partial[ch * chunks + k];
            sb += partial[(c + ch) * chunks + k];
        }
        if (gw != 0) gw[ch] = sw;
        if (gb != 0) gb[ch] = sb;
    }
}
