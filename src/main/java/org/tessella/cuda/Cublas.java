package org.tessella.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.List;

/**
 * Hand-written bindings of the cuBLAS calls Tessella uses: a handle bound to a stream, the math mode (TF32 tensor
 * cores), SGEMM and its strided-batched form, and GemmEx / GemmStridedBatchedEx for BF16 inputs with float32
 * accumulation. cuBLAS is column-major; {@link CublasGemm} says how row-major products map onto it. Scalars (alpha,
 * beta) are passed by host pointer (the default pointer mode). Every status is checked and named.
 */
final class Cublas {
    static final int OP_N = 0, OP_T = 1;
    static final int DEFAULT_MATH = 0, TF32_TENSOR_OP_MATH = 3;
    static final int CUDA_R_32F = 0, CUDA_R_16BF = 14;
    static final int COMPUTE_32F = 68;
    static final int GEMM_DEFAULT = -1;

    private static Cublas instance;

    private final MethodHandle create, destroy, setStream, setMathMode, sgemm, sgemmStridedBatched, gemmEx,
            gemmStridedBatchedEx, getStatusName, getStatusString, getVersion;

    static synchronized Cublas get() {
        if (instance == null)
            instance = new Cublas(NativeLibrary.load("libcublas.so", "tessella.cuda.libcublas",
                    List.of("libcublas.so", "libcublas.so.13", "libcublas.so.12"),
                    List.of("libcublasLt.so", "libcublasLt.so.13", "libcublasLt.so.12"),
                    "install the CUDA toolkit's cuBLAS (e.g. the libcublas package) and set CUDA_HOME or LD_LIBRARY_PATH to its lib64"));
        return instance;
    }

    private Cublas(SymbolLookup lib) {
        String l = "libcublas.so";
        create = Native.function(lib, l, "cublasCreate_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        destroy = Native.function(lib, l, "cublasDestroy_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        setStream = Native.function(lib, l, "cublasSetStream_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        setMathMode = Native.function(lib, l, "cublasSetMathMode", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        getVersion = Native.function(lib, l, "cublasGetVersion_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        // (handle, transa, transb, m, n, k, alpha*, A, lda, B, ldb, beta*, C, ldc)
        sgemm = Native.function(lib, l, "cublasSgemm_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT,
                JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
        // (..., A, lda, strideA, B, ldb, strideB, beta*, C, ldc, strideC, batchCount)
        sgemmStridedBatched = Native.function(lib, l, "cublasSgemmStridedBatched", FunctionDescriptor.of(JAVA_INT,
                ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_LONG,
                JAVA_LONG, JAVA_INT, JAVA_LONG, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT));
        // (handle, ta, tb, m, n, k, alpha*, A, Atype, lda, B, Btype, ldb, beta*, C, Ctype, ldc, computeType, algo)
        gemmEx = Native.function(lib, l, "cublasGemmEx", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT,
                JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_INT,
                ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
        // (..., A, Atype, lda, strideA, B, Btype, ldb, strideB, beta*, C, Ctype, ldc, strideC, batch, computeType, algo)
        gemmStridedBatchedEx = Native.function(lib, l, "cublasGemmStridedBatchedEx", FunctionDescriptor.of(JAVA_INT,
                ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT,
                JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_LONG,
                JAVA_INT, JAVA_INT, JAVA_INT));
        getStatusName = Native.firstOf(lib, FunctionDescriptor.of(ADDRESS, JAVA_INT), "cublasGetStatusName");
        getStatusString = Native.firstOf(lib, FunctionDescriptor.of(ADDRESS, JAVA_INT), "cublasGetStatusString");
    }

    void check(String call, int status) {
        if (status != 0) throw new CudaException(call, status, statusName(status), statusString(status));
    }

    String statusName(int status) {
        try {
            String s = getStatusName == null ? null : Native.string((MemorySegment) getStatusName.invokeExact(status));
            return s == null ? "CUBLAS_STATUS_" + status : s;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    String statusString(int status) {
        try {
            return getStatusString == null ? null : Native.string((MemorySegment) getStatusString.invokeExact(status));
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** A new handle (needs the device's context current on this thread). */
    MemorySegment createHandle() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment h = a.allocate(ADDRESS);
            check("cublasCreate_v2", (int) create.invokeExact(h));
            return h.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    void destroyHandle(MemorySegment handle) {
        try {
            check("cublasDestroy_v2", (int) destroy.invokeExact(handle));
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    int version(MemorySegment handle) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_INT);
            check("cublasGetVersion_v2", (int) getVersion.invokeExact(handle, v));
            return v.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    void setStream(MemorySegment handle, MemorySegment stream) {
        try {
            check("cublasSetStream_v2", (int) setStream.invokeExact(handle, stream));
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    void setMathMode(MemorySegment handle, int mode) {
        try {
            check("cublasSetMathMode", (int) setMathMode.invokeExact(handle, mode));
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    void sgemm(MemorySegment h, int ta, int tb, int m, int n, int k, MemorySegment alpha, long a, int lda, long b,
               int ldb, MemorySegment beta, long c, int ldc) {
        try {
            check("cublasSgemm_v2", (int) sgemm.invokeExact(h, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc));
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    void sgemmStridedBatched(MemorySegment h, int ta, int tb, int m, int n, int k, MemorySegment alpha, long a, int lda,
                             long strideA, long b, int ldb, long strideB, MemorySegment beta, long c, int ldc,
                             long strideC, int batch) {
        try {
            check("cublasSgemmStridedBatched", (int) sgemmStridedBatched.invokeExact(h, ta, tb, m, n, k, alpha, a, lda,
                    strideA, b, ldb, strideB, beta, c, ldc, strideC, batch));
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    void gemmEx(MemorySegment h, int ta, int tb, int m, int n, int k, MemorySegment alpha, long a, int aType, int lda,
                long b, int bType, int ldb, MemorySegment beta, long c, int cType, int ldc, int computeType) {
        try {
            check("cublasGemmEx", (int) gemmEx.invokeExact(h, ta, tb, m, n, k, alpha, a, aType, lda, b, bType, ldb, beta,
                    c, cType, ldc, computeType, GEMM_DEFAULT));
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    void gemmStridedBatchedEx(MemorySegment h, int ta, int tb, int m, int n, int k, MemorySegment alpha, long a,
                              int aType, int lda, long strideA, long b, int bType, int ldb, long strideB,
                              MemorySegment beta, long c, int cType, int ldc, long strideC, int batch, int computeType) {
        try {
            check("cublasGemmStridedBatchedEx", (int) gemmStridedBatchedEx.invokeExact(h, ta, tb, m, n, k, alpha, a,
                    aType, lda, strideA, b, bType, ldb, strideB, beta, c, cType, ldc, strideC, batch, computeType,
                    GEMM_DEFAULT));
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }
}
