package org.tessella.nn;

import org.tessella.autograd.Functional;
import org.tessella.tensor.Tensor;

/** LayerNorm over the last axis, optionally without affine parameters (DiT's adaLN uses none). */
public final class LayerNorm extends Module {
    public final Tensor weight, bias;
    public final float eps;

    public LayerNorm(int dim, float eps, boolean affine, Init init) {
        this.eps = eps;
        this.weight = affine ? parameter("weight", init.constant(1f, dim), false) : null;
        this.bias = affine ? parameter("bias", init.constant(0f, dim), false) : null;
    }

    public Tensor forward(Tensor x) { return Functional.layerNorm(x, weight, bias, eps); }
}
