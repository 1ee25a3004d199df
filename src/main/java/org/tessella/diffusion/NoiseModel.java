package org.tessella.diffusion;

import org.tessella.tensor.Tensor;

/** A noise predictor: epsilon for noisy images x [B, C, H, W] at timesteps t (one per row) with labels [B]. */
@FunctionalInterface
public interface NoiseModel {
    Tensor eps(Tensor x, float[] t, Tensor labels);
}
