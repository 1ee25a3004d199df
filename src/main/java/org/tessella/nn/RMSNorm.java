package org.tessella.nn;

import org.tessella.autograd.Functional;
import org.tessella.tensor.Tensor;

/** RMSNorm over the last axis with a learned gain (LlamaGen: eps 1e-5). */
public final class RMSNorm extends Module {
    public final Tensor weight;
    public final float eps;

    public RMSNorm(int dim, float eps, Init init) {
        this.eps = eps;
        this.weight = parameter("weight", init.constant(1f, dim), false);
    }

    public Tensor forward(Tensor x) { return Functional.rmsNorm(x, weight, eps); }
}
