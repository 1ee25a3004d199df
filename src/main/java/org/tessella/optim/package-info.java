/**
 * Optimisation: {@link org.tessella.optim.AdamW} (PyTorch semantics, decay and no-decay groups, gradient
 * accumulation), {@link org.tessella.optim.LrSchedule} (warmup plus cosine) and {@link org.tessella.optim.GradClip}
 * (global-norm clipping).
 *
 * <p>Depends on {@code nn}.
 */
package org.tessella.optim;
