package org.tessella.cuda;

import org.tessella.tensor.Tensor;

/**
 * Counter-based random fills (random.cu): Philox4x32-10 as {@code org.tessella.tensor.Philox}, so element i draws
 * from (seed, offset + i) on the GPU exactly as on the CPU (uniform bit for bit, normal to float rounding).
 */
final class Randomness {
    private static final String M = "random";
    private final CudaBackend be;

    Randomness(CudaBackend be) { this.be = be; }

    void uniform(Tensor out, long seed, long offset) {
        be.requireContiguous("randomUniform", out);
        int n = out.numel();
        be.launch(be.kernel(M, "random_uniform"), n, KernelArgs.begin().i32(n).ptr(be.ptr(out)).i64(seed).i64(offset));
    }

    void normal(Tensor out, long seed, long offset, float mean, float std) {
        be.requireContiguous("randomNormal", out);
        int n = out.numel();
        be.launch(be.kernel(M, "random_normal"), n, KernelArgs.begin().i32(n).ptr(be.ptr(out)).i64(seed).i64(offset)
                .f32(mean).f32(std));
    }
}
