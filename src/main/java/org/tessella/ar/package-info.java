/**
 * Stage 2, autoregressive: {@link org.tessella.ar.Gpt} (LlamaGen-style transformer over image tokens with a class
 * token, 1-D or 2-D RoPE, SwiGLU, KV-cache decoding), {@link org.tessella.ar.GptConfig} (presets gpt-xs, gpt-s,
 * gpt-m), {@link org.tessella.ar.Sampler} and {@link org.tessella.ar.SampleOptions} (temperature, top-k, top-p,
 * classifier-free guidance with conditional and null sequences in one batch), {@link org.tessella.ar.ArTraining}
 * (AdamW, class dropout, validation in bits per token and per position, atomic checkpoints, exact resume),
 * {@link org.tessella.ar.TokenFile} (the token-sequence format), {@link org.tessella.ar.MarkovSource} (synthetic
 * tokens of known conditional entropy) and {@link org.tessella.ar.Generator} (load and sample from Java).
 * A model trains and samples on the device it was moved to ({@code model.to(device)}): batches and prompts are filled
 * on the host and uploaded by {@code Gpt}'s entry points; checkpoints are written from host copies.
 *
 * <p>Depends on {@code nn}, {@code optim}, {@code io}, {@code data} (and through them autograd, backend, tensor).
 */
package org.tessella.ar;
