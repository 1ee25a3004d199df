package org.tessella.tokenizer;

import org.tessella.autograd.Functional;
import org.tessella.nn.Conv2d;
import org.tessella.nn.GroupNorm;
import org.tessella.nn.Init;
import org.tessella.nn.Module;
import org.tessella.tensor.Shape;
import org.tessella.tensor.ShapeException;
import org.tessella.tensor.Tensor;

/**
 * The tokenizer's decoder, the encoder's mirror: codes [B, codeDim, side, side] to images [B, 1, 32, 32]. The
 * residual block at each resolution maps that level's encoder output width back to its input width; up-sampling is
 * nearest-neighbour x2 followed by a 3x3 convolution. For {@code vq-s} (c 64, L 2):
 *
 * <pre>
 * conv_in   conv1x1 codeDim -> 2c                  8x8
 * res1      ResBlock(2c)
 * up1       nearest x2, conv3x3 2c -> 2c           16x16
 * res2      ResBlock(2c -> c)
 * up2       nearest x2, conv3x3 c -> c             32x32
 * res3      ResBlock(c)
 * norm_out  GroupNorm, then SiLU
 * conv_out  conv3x3 c -> 1
 * </pre>
 *
 * For 16 tokens (L 3) there is one more 2c stage: res1 ResBlock(2c), up1, res2 ResBlock(2c), up2, res3
 * ResBlock(2c -> c), up3, res4 ResBlock(c). The output is not squashed (no tanh): the reconstruction loss is MSE
 * against images in [-1, 1].
 */
public final class Decoder extends Module {
    public final VqConfig config;
    public final Conv2d convIn, convOut;
    public final ResBlock[] res;   // res1 .. res(L+1)
    public final Conv2d[] up;      // up1 .. upL
    public final GroupNorm normOut;

    public Decoder(VqConfig config, Init init) {
        this.config = config;
        int levels = config.downsamples();
        res = new ResBlock[levels + 1];
        up = new Conv2d[levels];
        convIn = child("conv_in", new Conv2d(config.codeDim(), config.width(levels), 1, 1, 0, true, init));
        // at level l the encoder's block maps width(l-1) -> width(l) (width(-1) = channels); the decoder inverts it
        res[0] = child("res1", new ResBlock(config.width(levels), config.width(Math.max(levels - 1, 0)), config.groups(), init));
        for (int i = 1; i <= levels; i++) {
            int level = levels - i;
            int c = config.width(level);
            up[i - 1] = child("up" + i, new Conv2d(c, c, 3, 1, 1, true, init));
            res[i] = child("res" + (i + 1), new ResBlock(c, config.width(Math.max(level - 1, 0)), config.groups(), init));
        }
        int bottom = config.width(0);
        normOut = child("norm_out", new GroupNorm(config.groups(), bottom, ResBlock.NORM_EPS, init));
        convOut = child("conv_out", new Conv2d(bottom, 1, 3, 1, 1, true, init));
    }

    /** codes [B, codeDim, side, side] to images [B, 1, 32, 32]. */
    public Tensor forward(Tensor codes) {
        int s = config.gridSide();
        if (codes.rank() != 4 || codes.shape(1) != config.codeDim() || codes.shape(2) != s || codes.shape(3) != s)
            throw new ShapeException("decoder: wants codes [B, " + config.codeDim() + ", " + s + ", " + s + "], got "
                    + Shape.str(codes.shape()));
        Tensor h = res[0].forward(convIn.forward(codes));
        for (int i = 0; i < up.length; i++) h = res[i + 1].forward(up[i].forward(Functional.upsampleNearest(h, 2)));
        return convOut.forward(normOut.forwardSilu(h));
    }
}
