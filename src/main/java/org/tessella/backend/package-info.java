/**
 * The backend boundary: {@link org.tessella.backend.Backend} lists the primitive ops every device implements
 * (elementwise, reductions, GEMM, fused softmax/cross-entropy/norms/attention/rope, convolution, indexing,
 * randomness, AdamW), and optional fusions a backend may declare ({@code fusesGroupNormSilu}, {@code fusesSwiglu},
 * {@code fusesQkvAttention}; {@code Functional} composes the primitives where a backend does not, with the same
 * values), and {@link org.tessella.backend.Backends} finds a device's backend through
 * {@link java.util.ServiceLoader}, so nothing above this layer names a backend class and no GPU code loads unless a
 * GPU device is asked for. {@link org.tessella.backend.FlopCounter} counts the FLOPs of the heavy ops. Two default
 * methods exist for devices that queue work: {@code synchronize()} (a no-op on the CPU, for timings) and
 * {@code sumOfSquares(List)} (the global gradient norm in one call); {@code adamw(List...)} and {@code scale(List)} are
 * the multi-tensor forms of the optimizer step and of gradient clipping (one parallel pass on the CPU, the loop by
 * default). {@link org.tessella.backend.OpProfiler} times every op of the CPU backend when {@code TESSELLA_CPU_PROFILE=1}.
 *
 * <p>Depends on {@code tensor} only.
 */
package org.tessella.backend;
