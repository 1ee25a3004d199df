package org.tessella.nn;

import org.tessella.autograd.Functional;
import org.tessella.tensor.Tensor;

/** 2-D convolution with a square kernel, PyTorch's default initialisation. */
public final class Conv2d extends Module {
    public final Tensor weight;
    public final Tensor bias;
    public final int stride, padding;

    public Conv2d(int in, int out, int kernel, int stride, int padding, boolean bias, Init init) {
        int fanIn = in * kernel * kernel;
        this.weight = parameter("weight", init.fanInUniform(fanIn, out, in, kernel, kernel), true);
        this.bias = bias ? parameter("bias", init.fanInUniform(fanIn, out), false) : null;
        this.stride = stride;
        this.padding = padding;
    }

    public Tensor forward(Tensor x) { return Functional.conv2d(x, weight, bias, stride, padding); }
}
