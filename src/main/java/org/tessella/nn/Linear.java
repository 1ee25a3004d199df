package org.tessella.nn;

import org.tessella.autograd.Ops;
import org.tessella.tensor.Tensor;

/** {@code y = x W^T + b}, W in PyTorch's [out, in] layout, PyTorch's default initialisation. */
public final class Linear extends Module {
    public final Tensor weight;
    public final Tensor bias;

    public Linear(int in, int out, boolean bias, Init init) {
        this.weight = parameter("weight", init.fanInUniform(in, out, in), true);
        this.bias = bias ? parameter("bias", init.fanInUniform(in, out), false) : null;
    }

    public Tensor forward(Tensor x) { return Ops.linear(x, weight, bias); }
}
