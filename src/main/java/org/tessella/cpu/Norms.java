package org.tessella.cpu;

import org.tessella.tensor.Tensor;

/** LayerNorm, RMSNorm and GroupNorm, forward and backward (placeholder until written). */
final class Norms {
    private Norms() {}

    static void layerNorm(Tensor x, Tensor weight, Tensor bias, float eps, Tensor y, Tensor mean, Tensor rstd) { throw new UnsupportedOperationException("Norms not written yet"); }
    static void layerNormBackward(Tensor x, Tensor weight, Tensor mean, Tensor rstd, Tensor gy, Tensor gx, Tensor gWeight, Tensor gBias) { throw new UnsupportedOperationException("Norms not written yet"); }
    static void rmsNorm(Tensor x, Tensor weight, float eps, Tensor y, Tensor rstd) { throw new UnsupportedOperationException("Norms not written yet"); }
    static void rmsNormBackward(Tensor x, Tensor weight, Tensor rstd, Tensor gy, Tensor gx, Tensor gWeight) { throw new UnsupportedOperationException("Norms not written yet"); }
    static void groupNorm(Tensor x, int groups, Tensor weight, Tensor bias, float eps, Tensor y, Tensor mean, Tensor rstd) { throw new UnsupportedOperationException("Norms not written yet"); }
    static void groupNormBackward(Tensor x, int groups, Tensor weight, Tensor mean, Tensor rstd, Tensor gy, Tensor gx, Tensor gWeight, Tensor gBias) { throw new UnsupportedOperationException("Norms not written yet"); }
}
