/**
 * Optimisation: {@link org.tessella.optim.AdamW} (PyTorch semantics, decay and no-decay groups, gradient
 * accumulation), {@link org.tessella.optim.LrSchedule} (warmup plus cosine) and {@link org.tessella.optim.GradClip}
 * (global-norm clipping). The optimizer state lives on the parameters' device ({@code AdamW.to} moves it); the
 * global norm is one backend call per device, so a GPU waits for it once per step.
 *
 * <p>Depends on {@code nn}.
 */
package org.tessella.optim;
