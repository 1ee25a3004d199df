package org.tessella.cuda;

import java.util.Locale;

/**
 * How the CUDA backend's matrix products compute. FP32 is exact float32 (SGEMM, no tensor cores); TF32 lets cuBLAS
 * round inputs to TF32 (10-bit mantissa) on tensor cores with float32 accumulation; BF16 converts both inputs to
 * bfloat16 and accumulates in float32 (cublasGemmEx). The last two are several times faster on recent GPUs at about
 * 1e-3 relative error. The convolutions' implicit GEMMs follow it too: FP32 as 3xTF32 (float32-class accuracy, not
 * bitwise SGEMM), TF32 and BF16 as TF32 (see {@code Conv}). Chosen by {@link CudaBackend#setMatmulPrecision}, or at start by the system property
 * {@code tessella.cuda.matmul} or the environment variable {@code TESSELLA_CUDA_MATMUL} (fp32, tf32, bf16).
 */
public enum GemmPrecision {
    FP32, TF32, BF16;

    public static GemmPrecision parse(String s) {
        try {
            return valueOf(s.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown matmul precision '" + s + "': use fp32, tf32 or bf16");
        }
    }

    static GemmPrecision fromEnvironment() {
        String s = System.getProperty("tessella.cuda.matmul");
        if (s == null || s.isBlank()) s = System.getenv("TESSELLA_CUDA_MATMUL");
        return s == null || s.isBlank() ? FP32 : parse(s);
    }
}
