package org.tessella.nn;

import org.tessella.autograd.Functional;
import org.tessella.tensor.Tensor;

/** GroupNorm over [N, C, *] with affine per-channel parameters (PyTorch default eps 1e-5). */
public final class GroupNorm extends Module {
    public final Tensor weight, bias;
    public final int groups;
    public final float eps;

    public GroupNorm(int groups, int channels, float eps, Init init) {
        if (channels % groups != 0)
            throw new IllegalArgumentException("GroupNorm: " + groups + " groups do not divide " + channels + " channels");
        this.groups = groups;
        this.eps = eps;
        this.weight = parameter("weight", init.constant(1f, channels), false);
        this.bias = parameter("bias", init.constant(0f, channels), false);
    }

    public Tensor forward(Tensor x) { return Functional.groupNorm(x, groups, weight, bias, eps); }

    /** {@code silu(forward(x))}, fused where the backend can ({@link Functional#groupNormSilu}). */
    public Tensor forwardSilu(Tensor x) { return Functional.groupNormSilu(x, groups, weight, bias, eps); }
}
