/**
 * The CPU backend: Vector API kernels ({@code FloatVector.SPECIES_PREFERRED} with scalar tails), one file per concern
 * (Elementwise (SwiGLU's gate fused), Reductions, Gemm, Conv, RowOps, Norms (GroupNorm also fused with the SiLU
 * after it), Indexing, Strided (rows of strided operands), Attention (also straight from the packed q/k/v projection,
 * RoPE applied as q and k are read); Gemm never packs A: its micro-kernel reads A in place, as rows or, transposed,
 * as columns. Conv's forward and stride-1 input gradient are implicit GEMMs in ConvGemm, each B panel copied once from
 * a padded copy of the image, and its weight gradient is one GEMM per kernel tap in ConvWeightGrad; 3x3 stride-1
 * layers with channels in multiples of 16 run all three passes by Winograd F(4x4, 3x3) in Winograd, 36 small GEMMs
 * between channels-last transforms; Chunks runs elementwise updates of many tensors in one parallel pass), the
 * persistent
 * {@link org.tessella.cpu.WorkerPool} and {@link org.tessella.cpu.FastMath}, the project's own transcendental functions.
 *
 * <p>Micro-kernel tiles follow the register file ({@code VectorSupport.SIXTEEN_REGISTERS}): 6 x 4 vectors (GEMM, direct
 * convolution) and 8 x 2 (weight gradient) with 32 vector registers, 4 x 2 (5 x 2 for the weight gradient) with 16
 * (x86 below AVX-512), where the larger tiles spill an accumulator and run at half speed. (A 5 x 2 GEMM tile spilled: C2
 * loads all five broadcasts of a k step ahead of its fmas, 17 live vectors, so one accumulator goes to the stack, 2.5x
 * slower on Zen 3; the weight gradient's 5-row kernel measured faster than 4 rows.) The tile never changes an output's fma chain.
 *
 * <p>Determinism: work is split by output, never by reduction, except that the convolution weight gradients (tap GEMM,
 * few-channel dot products and Winograd) sum image groups fixed by the shape and add them in order, and deep GEMMs
 * split over their fixed K blocks, whose partials are folded in block order as every path folds them; every reduction has a fixed order independent of the
 * thread count and the vector width; exp, log, tanh, erf are FMA polynomials whose scalar and vector forms perform the
 * same IEEE operations. The same inputs therefore give the same bits on any machine and thread count.
 *
 * <p>Depends on {@code tensor} and {@code backend}. Registered as a service in META-INF/services.
 */
package org.tessella.cpu;
