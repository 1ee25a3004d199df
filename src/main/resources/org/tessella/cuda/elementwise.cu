// Elementwise kernels over strided operands (see struct Layout in prelude.cuh): fill, copy with int32/float32
// conversion, unary functions and their derivatives, binary ops, affine, pow, clamp, where, and the fused AdamW
// update. Every element is computed independently, so results are deterministic. The op codes are those of
// org.tessella.cuda.Elementwise (a Java switch maps each enum constant to its code).

#define GELU_INV_SQRT2 0.70710678118654752f
#define GELU_INV_SQRT_2PI 0.39894228040143268f
#define GELU_C 0.79788456080286536f
#define GELU_K 0.044715f

// Java's (int) cast of a float: truncation toward zero, NaN to 0, saturation at the int range.
__device__ __forceinline__ int ts_java_int(float v) {
    if (v != v) return 0;
    if (v >= 2147483647.f) return 2147483647;
    if (v <= -2147483648.f) return (int) 0x80000000;
    return (int) v;
}

extern "C" __global__ void fill32(Layout L, int n, unsigned int* out, unsigned int bits) {
    TS_FOR(i, n) {
        int o[1];
        ts_offsets<1>(L, i, o);
        out[o[0]] = bits;
    }
}

// dst = src over dst's shape; srcInt / dstInt say which side holds int32 (1) or float32 (0).
extern "C" __global__ void copy(Layout L, int n, void* dst, int dstInt, const void* src, int srcInt) {
    TS_FOR(i, n) {
        int o[2];
        ts_offsets<2>(L, i, o);
        if (srcInt == dstInt) ((unsigned int*) dst)[o[0]] = ((const unsigned int*) src)[o[1]];
        else if (srcInt) ((float*) dst)[o[0]] = (float) ((const int*) src)[o[1]];
        else ((int*) dst)[o[0]] = ts_java_int(((const float*) src)[o[1]]);
    }
}

__device__ __forceinline__ float ts_unary(int op, float v) {
    switch (op) {
        case 0: return -v;                                                   // NEG
        case 1: return expf(v);                                              // EXP
        case 2: return logf(v);                                              // LOG
        case 3: return sqrtf(v);                                             // SQRT
        case 4: return 1.f / sqrtf(v);                                       // RSQRT
        case 5: return fabsf(v);                                             // ABS
        case 6: return v * v;                                                // SQUARE
        case 7: return 1.f / v;                                              // RECIPROCAL
        case 8: return v > 0.f ? 1.f : v < 0.f ? -1.f : v == v ? 0.f : v;    // SIGN
        case 9: return tanhf(v);                                             // TANH
        case 10: return ts_sigmoid(v);                                       // SIGMOID
        case 11: return v != v ? v : fmaxf(v, 0.f);                          // RELU
        case 12: return v * ts_sigmoid(v);                                   // SILU
        case 13: return v * 0.5f * (erff(v * GELU_INV_SQRT2) + 1.f);        // GELU
        case 14: return v * 0.5f * (tanhf(fmaf(v * v * v, GELU_K, v) * GELU_C) + 1.f); // GELU_TANH
    }
    return TS_NAN;
}

// gy * f'(x), from x (v) or from the forward output y, whichever the derivative is written in.
__device__ __forceinline__ float ts_unary_grad(int op, float v, float y, float g) {
    switch (op) {
        case 0: return -g;
        case 1: return g * y;
        case 2: return g / v;
        case 3: return g * 0.5f / y;
        case 4: return g * (-0.5f * y * y * y);
        case 5: return v > 0.f ? g : v < 0.f ? -g : 0.f;
        case 6: return g * (v + v);
        case 7: return -g * y * y;
        case 8: return 0.f;
        case 9: return g * (1.f - y * y);
        case 10: return g * (y * (1.f - y));
        case 11: return v <= 0.f ? 0.f : g;
        case 12: {
            float s = ts_sigmoid(v);
            return g * (s * (v * (1.f - s) + 1.f));
        }
        case 13: {
            float cdf = 0.5f * (erff(v * GELU_INV_SQRT2) + 1.f);
            float pdf = expf(-0.5f * v * v) * GELU_INV_SQRT_2PI;
            return g * (cdf + v * pdf);
        }
        case 14: {
            float u = fmaf(v * v * v, GELU_K, v) * GELU_C;
            float t = tanhf(u);
            float du = (v * v * (3.f * GELU_K) + 1.f) * GELU_C;
            return g * ((t + 1.f) * 0.5f + v * 0.5f * (1.f - t * t) * du);
        }
    }
    return TS_NAN;
}

extern "C" __global__ void unary(Layout L, int n, int op, float* out, const float* x) {
    TS_FOR(i, n) {
        int o[2];
        ts_offsets<2>(L, i, o);
        out[o[0]] = ts_unary(op, x[o[1]]);
    }
}

// Operands: gx, x, y (may be null: its strides are then 0 and it is not read), gy.
extern "C" __global__ void unary_backward(Layout L, int n, int op, float* gx, const float* x, const float* y,
                                          const float* gy) {
    TS_FOR(i, n) {
        int o[4];
        ts_offsets<4>(L, i, o);
        gx[o[0]] = ts_unary_grad(op, x[o[1]], y == 0 ? 0.f : y[o[2]], gy[o[3]]);
    }
}

__device__ __forceinline__ float ts_binary(int op, float x, float y) {
    switch (op) {
        case 0: return x + y;
        case 1: return x - y;
        case 2: return x * y;
        case 3: return x / y;
        case 4: return ts_max(x, y);
        case 5: return ts_min(x, y);
        case 6: return (float) pow((double) x, (double) y);                 // as StrictMath.pow in double
        case 7: return x > y ? 1.f : 0.f;
        case 8: return x >= y ? 1.f : 0.f;
        case 9: return x < y ? 1.f : 0.f;
        case 10: return x <= y ? 1.f : 0.f;
        case 11: return x == y ? 1.f : 0.f;
        case 12: return x != y ? 1.f : 0.f;
    }
    return TS_NAN;
}

extern "C" __global__ void binary(Layout L, int n, int op, float* out, const float* a, const float* b) {
    TS_FOR(i, n) {
        int o[3];
        ts_offsets<3>(L, i, o);
        out[o[0]] = ts_binary(op, a[o[1]], b[o[2]]);
    }
}

extern "C" __global__ void affine(Layout L, int n, float* out, const float* x, float scale, float shift) {
    TS_FOR(i, n) {
        int o[2];
        ts_offsets<2>(L, i, o);
        out[o[0]] = fmaf(x[o[1]], scale, shift);
    }
}

extern "C" __global__ void pow_scalar(Layout L, int n, float* out, const float* x, float e) {
    TS_FOR(i, n) {
        int o[2];
        ts_offsets<2>(L, i, o);
        float v = x[o[1]];
        out[o[0]] = e == 2.f ? v * v : e == 1.f ? v : e == 0.5f ? sqrtf(v) : (float) pow((double) v, (double) e);
    }
}

extern "C" __global__ void clamp(Layout L, int n, float* out, const float* x, float lo, float hi) {
    TS_FOR(i, n) {
        int o[2];
        ts_offsets<2>(L, i, o);
        out[o[0]] = ts_min(ts_max(x[o[1]], lo), hi);
    }
}

extern "C" __global__ void where_select(Layout L, int n, float* out, const float* cond, const float* a, const float* b) {
    TS_FOR(i, n) {
        int o[4];
        ts_offsets<4>(L, i, o);
        out[o[0]] = cond[o[1]] != 0.f ? a[o[2]] : b[o[3]];
    }
}

// AdamW on contiguous buffers: m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2,
// p = p * decay - step * m / (sqrt(v / c2) + eps), with decay = 1 - lr wd and step = lr / c1 (as the CPU kernel).
// One AdamW element update (p, m, v in place), shared by adamw and adamw_chunks.
__device__ __forceinline__ void ts_adamw(float* p, const float* g, float* m, float* v, int i, float beta1, float ob1,
                                         float beta2, float ob2, float eps, float decay, float step, float invC2) {
    float gi = g[i];
    float mi = m[i] * beta1 + gi * ob1;
    float vi = v[i] * beta2 + gi * gi * ob2;
    m[i] = mi;
    v[i] = vi;
    float denom = sqrtf(vi * invC2) + eps;
    p[i] = p[i] * decay - mi * step / denom;
}

extern "C" __global__ void adamw(int n, float* p, const float* g, float* m, float* v, float beta1, float beta2,
                                 float eps, float decay, float step, float invC2) {
    float ob1 = 1.f - beta1, ob2 = 1.f - beta2;
    TS_FOR(i, n) ts_adamw(p, g, m, v, i, beta1, ob1, beta2, ob2, eps, decay, step, invC2);
}

// adamw over many tensors in one launch: a block per chunk of one tensor; table entry c is 6 int64s (param, grad, m,
// v addresses of the chunk's first element, its length, the tensor's decay as float bits). Each element gets the same
// operations as in adamw above.
extern "C" __global__ void adamw_chunks(int chunks, const long long* table, float beta1, float beta2, float eps,
                                        float step, float invC2) {
    float ob1 = 1.f - beta1, ob2 = 1.f - beta2;
    for (int c = blockIdx.x; c < chunks; c += gridDim.x) {
        const long long* e = table + 6 * c;
        float* p = (float*) e[0];
        const float* g = (const float*) e[1];
        float* m = (float*) e[2];
        float* v = (float*) e[3];
        int n = (int) e[4];
        float decay = __int_as_float((int) e[5]);
        for (int i = threadIdx.x; i < n; i += blockDim.x) ts_adamw(p, g, m, v, i, beta1, ob1, beta2, ob2, eps, decay, step, invC2);
    }
}

// x *= s over many tensors in one launch (gradient clipping), as affine with shift 0: table entry c is 2 int64s (the
// chunk's address and length).
extern "C" __global__ void scale_chunks(int chunks, const long long* table, float s) {
    for (int c = blockIdx.x; c < chunks; c += gridDim.x) {
        float* x = (float*) table[2 * c];
        int n = (int) table[2 * c + 1];
        for (int i = threadIdx.x; i < n; i += blockDim.x) x[i] = fmaf(x[i], s, 0.f);
    }
}

// float32 -> bfloat16 (round to nearest even; NaN stays NaN), for cuBLAS's BF16 GEMM inputs.
extern "C" __global__ void to_bf16(int n, const float* x, unsigned short* y) {
    TS_FOR(i, n) {
        unsigned int b = __float_as_uint(x[i]);
        if ((b & 0x7fffffffu) > 0x7f800000u) y[i] = (unsigned short) ((b >> 16) | 0x40u);
        else y[i] = (unsigned short) ((b + 0x7fffu + ((b >> 16) & 1u)) >> 16);
    }
}
