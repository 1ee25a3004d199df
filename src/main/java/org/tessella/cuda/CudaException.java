package org.tessella.cuda;

/**
 * A CUDA, NVRTC or cuBLAS call returned an error. The message names the call, the error's symbolic name and code, and
 * the library's description of it, e.g. {@code cuMemAlloc_v2 failed: CUDA_ERROR_OUT_OF_MEMORY (2): out of memory}.
 */
public class CudaException extends RuntimeException {
    private final String call;
    private final int code;

    public CudaException(String call, int code, String name, String description) {
        this(call, code, call + " failed: " + name + " (" + code + ")"
                + (description == null || description.isEmpty() ? "" : ": " + description));
    }

    protected CudaException(String call, int code, String message) {
        super(message);
        this.call = call;
        this.code = code;
    }

    /** The native function that failed, e.g. {@code cuLaunchKernel}. */
    public String call() { return call; }

    /** The library's status code (CUresult, nvrtcResult or cublasStatus_t). */
    public int code() { return code; }
}
