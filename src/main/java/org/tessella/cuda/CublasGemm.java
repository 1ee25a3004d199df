package org.tessella.cuda;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.tessella.tensor.Tensor;

/**
 * {@code Backend.matmul} on cuBLAS.
 *
 * <p>Row-major onto column-major: cuBLAS reads a matrix column-major, and a row-major M x N matrix read column-major
 * is its transpose (N x M, leading dimension N). So row-major {@code C = op(A) op(B)} is computed as the
 * column-major product {@code C^T = op(B)^T op(A)^T}: call GEMM with the operands swapped, m = N, n = M, k = K, and
 * ldc = N. B's memory read column-major is B^T (N x K, ld N) when B is [K, N], so it goes in untransposed (OP_N);
 * when transB (B stored [N, K]) it reads as a K x N matrix of ld K and goes in as OP_T. Likewise A: OP_N with ld K
 * for [M, K], OP_T with ld M when transA (A stored [K, M]). Batches use the strided-batched calls with stride 0 for an
 * operand whose batch is 1 (reused for every product).
 *
 * <p>Precision: see {@link GemmPrecision}. BF16 converts A and B into pooled bf16 buffers first (released right after
 * the call: the stream orders their reuse after the GEMM). One handle per device, bound to the device's stream;
 * calls are serialised (a cuBLAS handle is not for concurrent use, and alpha/beta live in one host buffer).
 */
final class CublasGemm {
    private final CudaBackend backend;
    private final CudaContext context;
    private final Cublas cublas;
    private final MemorySegment handle, alpha, beta;
    private volatile GemmPrecision precision;
    private int mathMode = -1;

    CublasGemm(CudaBackend backend, CudaContext context, Cublas cublas, GemmPrecision precision) {
        this.backend = backend;
        this.context = context;
        this.cublas = cublas;
        this.precision = precision;
        context.bind();
        this.handle = cublas.createHandle();
        cublas.setStream(handle, context.stream());
        Arena arena = Arena.global();
        this.alpha = arena.allocate(JAVA_FLOAT);
        this.beta = arena.allocate(JAVA_FLOAT);
    }

    GemmPrecision precision() { return precision; }

    void precision(GemmPrecision p) { this.precision = p; }

    int version() {
        context.bind();
        return cublas.version(handle);
    }

    synchronized void matmul(Tensor a, boolean transA, Tensor b, boolean transB, Tensor c, float alphaValue, float betaValue) {
        int batch = c.shape(0), m = c.shape(1), n = c.shape(2);
        int k = transA ? a.shape(1) : a.shape(2);
        if (batch == 0 || m == 0 || n == 0) return;
        if (k == 0 || alphaValue == 0f) { // C = beta C, as the CPU GEMM
            if (betaValue == 0f) backend.fill(c, 0f);
            else backend.affine(c, betaValue, 0f, c);
            return;
        }
        long strideA = a.shape(0) == 1 ? 0 : (long) m * k, strideB = b.shape(0) == 1 ? 0 : (long) k * n;
        long strideC = (long) m * n;
        int opA = transA ? Cublas.OP_T : Cublas.OP_N, opB = transB ? Cublas.OP_T : Cublas.OP_N;
        int lda = transA ? m : k, ldb = transB ? k : n;
        long pa = backend.ptr(a), pb = backend.ptr(b), pc = backend.ptr(c);
        alpha.set(JAVA_FLOAT, 0, alphaValue);
        beta.set(JAVA_FLOAT, 0, betaValue);
        context.bind();
        MemorySegment started = context.profiler().begin();
        try {
            gemm(precision, pa, a.numel(), pb, b.numel(), opA, opB, m, n, k, lda, ldb, strideA, strideB, pc, strideC, batch);
        } finally {
            if (started != null)
                context.profiler().end(started, String.format("gemm %s %s%s m%d n%d k%d x%d", precision,
                        transA ? "T" : "N", transB ? "T" : "N", m, n, k, batch));
        }
    }

    private void gemm(GemmPrecision p, long pa, long na, long pb, long nb, int opA, int opB, int m, int n, int k, int lda,
                      int ldb, long strideA, long strideB, long pc, long strideC, int batch) {
        if (p == GemmPrecision.BF16) {
            bf16(pa, na, pb, nb, opA, opB, m, n, k, lda, ldb, strideA, strideB, pc, strideC, batch);
            return;
        }
        mathMode(p == GemmPrecision.TF32 ? Cublas.TF32_TENSOR_OP_MATH : Cublas.DEFAULT_MATH);
        // swapped operands: C^T (n x m) = op(B)^T (n x k) . op(A)^T (k x m)
        if (batch == 1)
            cublas.sgemm(handle, opB, opA, n, m, k, alpha, pb, ldb, pa, lda, beta, pc, n);
        else
            cublas.sgemmStridedBatched(handle, opB, opA, n, m, k, alpha, pb, ldb, strideB, pa, lda, strideA, beta,
                    pc, n, strideC, batch);
    }

    private void bf16(long pa, long na, long pb, long nb, int opA, int opB, int m, int n, int k, int lda, int ldb,
                      long strideA, long strideB, long pc, long strideC, int batch) {
        DevicePool pool = context.pool();
        DevicePool.Block ha = pool.allocate(2 * na), hb = pool.allocate(2 * nb);
        try {
            backend.elementwise().toBf16(pa, ha.address(), na);
            backend.elementwise().toBf16(pb, hb.address(), nb);
            mathMode(Cublas.DEFAULT_MATH);
            if (batch == 1)
                cublas.gemmEx(handle, opB, opA, n, m, k, alpha, hb.address(), Cublas.CUDA_R_16BF, ldb, ha.address(),
                        Cublas.CUDA_R_16BF, lda, beta, pc, Cublas.CUDA_R_32F, n, Cublas.COMPUTE_32F);
            else
                cublas.gemmStridedBatchedEx(handle, opB, opA, n, m, k, alpha, hb.address(), Cublas.CUDA_R_16BF, ldb,
                        strideB, ha.address(), Cublas.CUDA_R_16BF, lda, strideA, beta, pc, Cublas.CUDA_R_32F, n,
                        strideC, batch, Cublas.COMPUTE_32F);
        } finally {
            pool.release(ha);
            pool.release(hb);
        }
    }

    private void mathMode(int mode) {
        if (mode != mathMode) {
            cublas.setMathMode(handle, mode);
            mathMode = mode;
        }
    }
}
