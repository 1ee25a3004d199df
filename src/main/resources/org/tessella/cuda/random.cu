// Counter-based random numbers: Philox4x32-10 exactly as org.tessella.tensor.Philox, so element i of a tensor draws
// from (seed, offset + i) on the GPU as on the CPU. Uniform values are bitwise the CPU's; normal values use double
// log/cos/sqrt as StrictMath does and agree to float rounding.

struct ts_block4 { unsigned int x, y, z, w; };

__device__ __forceinline__ ts_block4 ts_philox(unsigned long long seed, unsigned long long counter, unsigned int stream) {
    unsigned int c0 = (unsigned int) counter, c1 = (unsigned int) (counter >> 32), c2 = stream, c3 = 0;
    unsigned int k0 = (unsigned int) seed, k1 = (unsigned int) (seed >> 32);
#pragma unroll
    for (int round = 0; round < 10; round++) {
        unsigned long long p0 = (unsigned long long) 0xD2511F53u * c0;
        unsigned long long p1 = (unsigned long long) 0xCD9E8D57u * c2;
        unsigned int n0 = (unsigned int) (p1 >> 32) ^ c1 ^ k0;
        unsigned int n1 = (unsigned int) p1;
        unsigned int n2 = (unsigned int) (p0 >> 32) ^ c3 ^ k1;
        unsigned int n3 = (unsigned int) p0;
        c0 = n0; c1 = n1; c2 = n2; c3 = n3;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    ts_block4 out = {c0, c1, c2, c3};
    return out;
}

extern "C" __global__ void random_uniform(int n, float* out, unsigned long long seed, unsigned long long offset) {
    TS_FOR(i, n) {
        ts_block4 b = ts_philox(seed, offset + (unsigned long long) i, 0);
        out[i] = (float) (b.x >> 8) * 5.9604644775390625e-8f; // 2^-24
    }
}

extern "C" __global__ void random_normal(int n, float* out, unsigned long long seed, unsigned long long offset,
                                         float mean, float std) {
    TS_FOR(i, n) {
        ts_block4 b = ts_philox(seed, offset + (unsigned long long) i, 1);
        double u1 = ((double) (b.x >> 8) + 1.0) * 5.9604644775390625e-8; // (0, 1]
        double u2 = (double) (b.y >> 8) * 5.9604644775390625e-8;
        float z = (float) (sqrt(-2.0 * log(u1)) * cos(2.0 * 3.141592653589793 * u2));
        out[i] = mean + std * z;
    }
}
