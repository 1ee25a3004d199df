/**
 * Stage 1, tokenization (DESIGN.md §3): {@link org.tessella.tokenizer.VqTokenizer} assembles the convolutional
 * {@link org.tessella.tokenizer.Encoder} and {@link org.tessella.tokenizer.Decoder} (VQGAN-style
 * {@link org.tessella.tokenizer.ResBlock}s, GroupNorm eps 1e-6, nearest-neighbour up-sampling) around the
 * l2-normalised {@link org.tessella.tokenizer.VectorQuantizer}, for padded 32x32 grey images in [-1, 1];
 * {@link org.tessella.tokenizer.VqConfig} holds its shape (presets {@code vq-s}: 64 tokens, {@code vq-s16}: 16
 * tokens; codebooks 64 to 4096). Latents are exchanged as raster-order sequences [B, N, D]. The CRT regularizer
 * ({@link org.tessella.tokenizer.CrtRegularizer}) reads the normalised pre-quantization latents during stage-1
 * training only; the quantizer's entropy loss (optional, {@code --entropy-weight}) is its counterweight, keeping
 * codes spread when the regularizer pulls latents together. Test metrics include the code entropy and the code entropy
 * given the position: a tokenizer whose codes encode where they are looks easy to a stage-2 model without carrying
 * simpler content, so both are reported next to the probe's bits per token. One image at a time: {@code VqTokenizer.load(dir)}, {@code encode(float[])} (28x28 padded like
 * Fashion-MNIST, or 32x32, in [-1, 1]) to code indices, {@code decode(int[])} back to a 32x32 image.
 *
 * <p>Depends on {@code nn}, {@code optim}, {@code io}, {@code data}, and through them on autograd, backend, tensor
 * (not on {@code ar}: token files are built in {@code eval.TokenProbe.tokenFile}). The stage-2 probe of a tokenizer's tokens is
 * {@code eval.TokenProbe}, not here.
 *
 * <p>Training runs on the tokenizer's device ({@code model.to(device)} first): the regularizer and the discriminator
 * are moved beside it, each batch is uploaded once per step, usage statistics and losses are read back per step.
 */
package org.tessella.tokenizer;
