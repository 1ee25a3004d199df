package org.tessella.tokenizer;

import org.tessella.autograd.Ops;
import org.tessella.nn.Conv2d;
import org.tessella.nn.GroupNorm;
import org.tessella.nn.Init;
import org.tessella.nn.Module;
import org.tessella.tensor.ShapeException;
import org.tessella.tensor.Shape;
import org.tessella.tensor.Tensor;

/**
 * VQGAN's residual block: {@code h = conv1(silu(norm1(x)))}, {@code h = conv2(silu(norm2(h)))},
 * {@code out = skip(x) + h}, where {@code skip} is a 1x1 convolution present only when the channel count changes
 * (identity otherwise). Convolutions are 3x3 with padding 1 and biases. GroupNorm uses eps 1e-6, as VQGAN's
 * {@code Normalize} does (PyTorch's default would be 1e-5). Parameter names: {@code norm1, conv1, norm2, conv2,
 * skip}.
 */
public final class ResBlock extends Module {
    /** GroupNorm epsilon of the tokenizer (VQGAN's value). */
    public static final float NORM_EPS = 1e-6f;

    public final int in, out;
    public final GroupNorm norm1, norm2;
    public final Conv2d conv1, conv2;
    /** The 1x1 projection of the residual path, or null when {@code in == out}. */
    public final Conv2d skip;

    public ResBlock(int in, int out, int groups, Init init) {
        if (in % groups != 0 || out % groups != 0)
            throw new IllegalArgumentException("ResBlock: " + groups + " GroupNorm groups must divide both " + in + " and " + out + " channels");
        this.in = in;
        this.out = out;
        norm1 = child("norm1", new GroupNorm(groups, in, NORM_EPS, init));
        conv1 = child("conv1", new Conv2d(in, out, 3, 1, 1, true, init));
        norm2 = child("norm2", new GroupNorm(groups, out, NORM_EPS, init));
        conv2 = child("conv2", new Conv2d(out, out, 3, 1, 1, true, init));
        skip = in != out ? child("skip", new Conv2d(in, out, 1, 1, 0, true, init)) : null;
    }

    /** x [B, in, H, W] to [B, out, H, W]. */
    public Tensor forward(Tensor x) {
        if (x.rank() != 4 || x.shape(1) != in)
            throw new ShapeException("ResBlock(" + in + "->" + out + "): wants [B, " + in + ", H, W], got " + Shape.str(x.shape()));
        Tensor h = conv1.forward(norm1.forwardSilu(x));
        h = conv2.forward(norm2.forwardSilu(h));
        return Ops.add(skip != null ? skip.forward(x) : x, h);
    }
}
