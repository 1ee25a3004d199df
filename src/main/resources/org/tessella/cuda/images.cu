// Image kernels: im2col / col2im around cuBLAS GEMMs for the convolutions, nearest-neighbour upsampling and average
// pooling with their backward passes, on contiguous [N, C, H, W] tensors. Every output element is one thread that
// sums its inputs in the CPU backend's order (rows, then columns), so results are deterministic.

// col[n, (c * kh + a) * kw + b, oh * wo + ow] = x[n, c, oh * stride - pad + a, ow * stride - pad + b] (0 outside).
extern "C" __global__ void im2col(int images, int c, int h, int w, int kh, int kw, int stride, int pad, int ho, int wo,
                                  const float* x, float* col) {
    int p = ho * wo, ckk = c * kh * kw;
    long long total = (long long) images * ckk * p;
    for (long long e = blockIdx.x * (long long) blockDim.x + threadIdx.x; e < total; e += (long long) gridDim.x * blockDim.x) {
        int pix = (int) (e % p);
        long long rest = e / p;
        int r = (int) (rest % ckk), n = (int) (rest / ckk);
        int oh = pix / wo, ow = pix - oh * wo;
        int ch = r / (kh * kw), tap = r - ch * kh * kw, a = tap / kw, b = tap - a * kw;
        int ih = oh * stride - pad + a, iw = ow * stride - pad + b;
        col[e] = ih >= 0 && ih < h && iw >= 0 && iw < w ? x[(((long long) n * c + ch) * h + ih) * w + iw] : 0.f;
    }
}

// x[n, c, ih, iw] = the sum of the col entries im2col took from it, taps in order.
extern "C" __global__ void col2im(int images, int c, int h, int w, int kh, int kw, int stride, int pad, int ho, int wo,
                                  const float* col, float* x) {
    int p = ho * wo, ckk = c * kh * kw;
    long long total = (long long) images * c * h * w;
    for (long long e = blockIdx.x * (long long) blockDim.x + threadIdx.x; e < total; e += (long long) gridDim.x * blockDim.x) {
        int iw = (int) (e % w);
        long long rest = e / w;
        int ih = (int) (rest % h);
        rest /= h;
        int ch = (int) (rest % c), n = (int) (rest / c);
        float sum = 0.f;
        for (int a = 0; a < kh; a++) {
            int th = ih + pad - a;
            if (th < 0 || th % stride != 0 || th / stride >= ho) continue;
            int oh = th / stride;
            for (int b = 0; b < kw; b++) {
                int tw = iw + pad - b;
                if (tw < 0 || tw % stride != 0 || tw / stride >= wo) continue;
                int ow = tw / stride;
                sum += col[((long long) n * ckk + (ch * kh + a) * kw + b) * p + oh * wo + ow];
            }
        }
        x[e] = sum;
    }
}

extern "C" __global__ void upsample_nearest(int planes, int h, int w, int f, const float* x, float* y) {
    int wy = w * f, hy = h * f;
    long long total = (long long) planes * hy * wy;
    for (long long e = blockIdx.x * (long long) blockDim.x + threadIdx.x; e < total; e += (long long) gridDim.x * blockDim.x) {
        int j = (int) (e % wy);
        long long rest = e / wy;
        int i = (int) (rest % hy), pl = (int) (rest / hy);
        y[e] = x[((long long) pl * h + i / f) * w + j / f];
    }
}

extern "C" __global__ void upsample_nearest_backward(int planes, int h, int w, int f, const float* gy, float* gx) {
    int wy = w * f;
    long long total = (long long) planes * h * w;
    for (long long e = blockIdx.x * (long long) blockDim.x + threadIdx.x; e < total; e += (long long) gridDim.x * blockDim.x) {
        int j = (int) (e % w);
        long long rest = e / w;
        int i = (int) (rest % h), pl = (int) (rest / h);
        const float* src = gy + ((long long) pl * h + i) * f * wy + (long long) j * f;
        float sum = 0.f;
        for (int a = 0; a < f; a++)
            for (int b = 0; b < f; b++) sum += src[a * wy + b];
        gx[e] = sum;
    }
}

extern "C" __global__ void avg_pool(int planes, int h, int w, int k, int s, int ho, int wo, const float* x, float* y) {
    float area = (float) (k * k);
    long long total = (long long) planes * ho * wo;
    for (long long e = blockIdx.x * (long long) blockDim.x + threadIdx.x; e < total; e += (long long) gridDim.x * blockDim.x) {
        int ow = (int) (e % wo);
        long long rest = e / wo;
        int oh = (int) (rest % ho), pl = (int) (rest / ho);
        const float* src = x + ((long long) pl * h + oh * s) * w + ow * s;
        float sum = 0.f;
        for (int a = 0; a < k; a++)
            for (int b = 0; b < k; b++) sum += src[a * w + b];
        y[e] = sum / area;
    }
}

// gx[ih, iw] = the sum, over the windows that cover it in row-major order, of gy / k^2.
extern "C" __global__ void avg_pool_backward(int planes, int h, int w, int k, int s, int ho, int wo, const float* gy,
                                             float* gx) {
    float area = (float) (k * k);
    long long total = (long long) planes * h * w;
    for (long long e = blockIdx.x * (long long) blockDim.x + threadIdx.x; e < total; e += (long long) gridDim.x * blockDim.x) {
        int iw = (int) (e % w);
        long long rest = e / w;
        int ih = (int) (rest % h), pl = (int) (rest / h);
        int lo = ih - k + 1, oh0 = lo <= 0 ? 0 : (lo + s - 1) / s, oh1 = ih / s < ho - 1 ? ih / s : ho - 1;
        int lw = iw - k + 1, ow0 = lw <= 0 ? 0 : (lw + s - 1) / s, ow1 = iw / s < wo - 1 ? iw / s : wo - 1;
        float sum = 0.f;
        for (int oh = oh0; oh <= oh1; oh++)
            for (int ow = ow0; ow <= ow1; ow++) sum += gy[((long long) pl * ho + oh) * wo + ow] / area;
        gx[e] = sum;
    }
}
