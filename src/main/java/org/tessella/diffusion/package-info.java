/**
 * The diffusion stage 2 (DESIGN.md §3, papers/l2c.md): {@link org.tessella.diffusion.Dit}, a pixel-space DiT with
 * adaLN-Zero blocks ({@link org.tessella.diffusion.DitBlock}, whose attention and MLP branches are exposed before
 * their gates for Learning-to-Cache) and its shape ({@link org.tessella.diffusion.DitConfig}, presets {@code dit-s} and
 * {@code dit-xs}); {@link org.tessella.diffusion.GaussianDiffusion}, the linear-beta DDPM schedule, noising and DDIM
 * steps over DiT's respaced timesteps; {@link org.tessella.diffusion.DdimSampler}, guided DDIM sampling of any
 * {@link org.tessella.diffusion.NoiseModel}; {@link org.tessella.diffusion.DitTraining}, epsilon-MSE training with label
 * dropout, EMA, atomic checkpoints and exact resume ({@code tessella train-dit}); Learning-to-Cache:
 * {@link org.tessella.diffusion.SubLayerPolicy} (what a forward pass does with each attention/MLP branch),
 * {@link org.tessella.diffusion.LayerCache} (record, reuse, interpolate, and drop for the baseline),
 * {@link org.tessella.diffusion.LearnToCache} (router training on the frozen DiT),
 * {@link org.tessella.diffusion.CacheSchedule} (the learned logits and mask as JSON) and
 * {@link org.tessella.diffusion.CacheBaselines} (top, bottom, random and greedy schedules with a given number of skipped
 * sub-layers, and the measured per-step change greedy ranks by); {@code DdimSampler} samples with a schedule in
 * batches that do not change the result, really skipping the cached (or dropped) branches. The commands are
 * {@code train-dit}, {@code export-dit}, {@code learn-cache} and {@code sample-dit}; the experiment that compares them
 * is {@code eval.CacheStudy} ({@code cache-study}).
 *
 * <p>Devices: everything here runs on the model's device ({@code model.to(device)}, {@code --device cuda}). The DiT
 * uploads its inputs (images, labels, timestep features) itself; training noise, timesteps and label drops, router
 * batches and DDIM's starting noise are drawn on the host from counter streams and uploaded, so every device sees the
 * same draws (and agrees with the CPU within float rounding), and checkpoints and schedules do not depend on where
 * they were made.
 *
 * <p>Depends on {@code nn}, {@code optim}, {@code io}, {@code data}, and through them on autograd, backend, tensor.
 */
package org.tessella.diffusion;
