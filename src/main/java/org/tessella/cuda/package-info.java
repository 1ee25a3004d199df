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
 * BF16); convolutions as implicit GEMMs on the tensor cores (conv.cu, compute capability 8.0+; im2col/col2im
 * around cuBLAS elsewhere, see {@code Conv}); fused attention (one shared-memory tile per (batch, head) pair for
 * sequences and heads up to 64, else a warp per row with an online softmax) and rope; gradient clipping's scale and
 * AdamW over all parameters in one launch each.
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
 * conversion); device copy 2.86 TB/s; gpt-s attention (batch 64) 0.20 ms forward, 0.55 ms backward. On an H200,
 * vq-s's 64-channel 32x32 3x3 convolution at batch 256, TF32: 200 / 205 / 310 us forward / input / weight gradient
 * (channels-last kernels; cuDNN 72 / 98 / 158).
 *
 * <p>The models run here unchanged: built on the CPU, moved with {@code Module.to(Device.cuda(n))} ({@code --device
 * cuda} on the commands), fed host batches that their entry points upload once per step. What waits for the device
 * per step: the loss read for the log, the global gradient norm (one {@code sumOfSquares(List)} for all gradients),
 * and the index checks of embedding and cross-entropy. {@code org.tessella.cli.CudaModelChecks} (run by
 * tools/cuda-check after {@link org.tessella.cuda.CudaSelfTest}) compares a training step of gpt-s and vq-s with the
 * CPU's and checks device memory over 1000 steps. Measured on an H100 (tools/cuda-check --train-bench: 5 + 20 steps,
 * PyTorch 2.11 eager with SDPA on the same GPU, the same weights and batch): gpt-s at batch 64 213k tokens/s in FP32
 * (1.17x PyTorch) and 243k in TF32 (1.58x); gpt-m 136k and 185k (1.12x, 1.32x); vq-s at batch 256 4.3k and 5.0k
 * images/s (0.50x, 0.30x) with im2col convolutions, on an H200 with the implicit-GEMM ones 11.1k and 16.2k (1.23x,
 * 0.85x); sampling gpt-s with the KV cache 1.0k tokens/s at batch 1, 21k at batch 64. On an H200 after the tiled
 * attention, the chunked norm weight gradients and the many-tensor AdamW: gpt-s 386k / 613k tokens/s (2.92x / 4.47x),
 * gpt-m 231k / 376k (2.11x / 3.15x), vq-s 10.7k / 15.8k images/s (1.23x / 1.15x), FP32 / TF32, one call. A step agrees with the CPU's to 1e-6 (gpt-s gradients) and 6e-6 (vq-s gradients).
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
 * {@code TESSELLA_CUDA_CONV=im2col}: the explicit convolution path everywhere; {@code =gather}: the implicit GEMMs
 * without channels-last copies. {@code TESSELLA_CUDA_PROFILE=1}: device
 * time per kernel and GEMM shape ({@code KernelProfiler}; {@code bench train --device cuda} prints it).
 *
 * <p>Depends on {@code tensor} and {@code backend} only (and the JDK).
 */
package org.tessella.cuda;
