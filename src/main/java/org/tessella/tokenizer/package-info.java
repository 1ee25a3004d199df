/**
 * Stage 1, tokenization (DESIGN.md §3): {@link org.tessella.tokenizer.VqTokenizer} assembles the convolutional
 * {@link org.tessella.tokenizer.Encoder} and {@link org.tessella.tokenizer.Decoder} (VQGAN-style
 * {@link org.tessella.tokenizer.ResBlock}s, GroupNorm eps 1e-6, nearest-neighbour up-sampling) around the
 * l2-normalised {@link org.tessella.tokenizer.VectorQuantizer}, for padded 32x32 grey images in [-1, 1];
 * {@link org.tessella.tokenizer.VqConfig} holds its shape (presets {@code vq-s}: 64 tokens, {@code vq-s16}: 16
 * tokens; codebooks 64 to 4096). Latents are exchanged as raster-order sequences [B, N, D]. The CRT regularizer
 * ({@link org.tessella.tokenizer.CrtRegularizer}) reads the normalised pre-quantization latents during stage-1
 * training only.
 *
 * <p>Depends on {@code nn}, {@code optim}, {@code io}, {@code data} (and {@code ar} for the stage-2 probe), and through
 * them on autograd, backend, tensor.
 */
package org.tessella.tokenizer;
