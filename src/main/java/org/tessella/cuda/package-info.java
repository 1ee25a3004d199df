/**
 * The CUDA backend, through the JDK's foreign function API only (no JNI, no generated bindings): hand-written
 * downcalls of the CUDA driver API ({@link org.tessella.cuda.Driver}, libcuda.so.1), NVRTC
 * ({@link org.tessella.cuda.Nvrtc}) and cuBLAS ({@link org.tessella.cuda.Cublas}); the device context, stream and
 * pinned staging ({@link org.tessella.cuda.CudaContext}); a size-class memory pool
 * ({@link org.tessella.cuda.DevicePool}) behind device-resident tensor storage
 * ({@link org.tessella.cuda.DeviceStorage}) whose per-step temporaries follow the workspace
 * ({@link org.tessella.cuda.StepArena}); kernels kept as CUDA C resources (src/main/resources/org/tessella/cuda/*.cu,
 * with prelude.cuh in front) compiled by NVRTC for the device's architecture at first use and cached on disk
 * ({@link org.tessella.cuda.KernelCompiler}, {@link org.tessella.cuda.KernelCache}); and
 * {@link org.tessella.cuda.CudaBackend}, registered as a service for {@code Device.Kind.CUDA}, which implements every
 * {@code Backend} primitive: elementwise ops, reductions, softmax and cross-entropy, the norms, indexing, Philox
 * randomness and AdamW as NVRTC kernels; matmul on cuBLAS ({@link org.tessella.cuda.GemmPrecision}: FP32, TF32,
 * BF16); convolutions as im2col/col2im kernels around cuBLAS; fused attention (a warp per row, online softmax) and
 * rope.
 * {@link org.tessella.cuda.CudaSelfTest} checks it all against the CPU backend on a GPU machine (tools/cuda-check).
 *
 * <p>Memory: device tensors are {@code DeviceStorage}s, one pool block each. Inside a workspace step,
 * {@code empty} takes them through the step's {@code StepArena}, a {@code Workspace.Companion} reset with the
 * workspace, so a steady-state step reuses the same blocks and device memory stays flat; parameters and other
 * persistent tensors keep theirs until released (explicitly, or by a cleaner once unreachable, which only returns
 * the block to the pool). Ops' own temporaries go back to the pool as soon as their last use is queued: everything
 * runs on one stream, in order.
 *
 * <p>Measured on an H100 (tools/cuda-check): SGEMM 4096^3 51.7 TFLOP/s in FP32, 399 in TF32, 489 in BF16 (with the
 * conversion); device copy 2.86 TB/s; gpt-s attention (batch 64) 0.20 ms forward, 0.55 ms backward; a vq-s 3x3
 * convolution (batch 64, 64 channels, 32x32) 0.42 / 0.34 / 0.48 ms forward / input / weight gradient.
 *
 * <p>Nothing here loads unless a CUDA device is asked for: the provider class touches nothing native, and the
 * libraries are opened when the backend is created. Without them that fails in one line
 * ({@link org.tessella.cuda.CudaUnavailableException}) that says what is missing and how to fix it. Every native
 * return code is checked and turned into a {@link org.tessella.cuda.CudaException} that names the call and the
 * library's error name and text.
 *
 * <p>Libraries are found by their usual names (libcuda.so.1; libnvrtc.so, .so.13, .so.12; libcublas.so, .so.13,
 * .so.12) in LD_LIBRARY_PATH, $CUDA_HOME/lib64, $CUDA_HOME/targets/x86_64-linux/lib and the system search path, or at
 * the file named by {@code -Dtessella.cuda.libcuda=}, {@code libnvrtc=}, {@code libcublas=}. Kernel cache:
 * {@code $TESSELLA_CUDA_CACHE} or ~/.cache/tessella/cuda. Matmul precision: {@link org.tessella.cuda.GemmPrecision}.
 *
 * <p>Depends on {@code tensor} and {@code backend} only (and the JDK).
 */
package org.tessella.cuda;
