package org.tessella.tokenizer;

import org.tessella.nn.Conv2d;
import org.tessella.nn.GroupNorm;
import org.tessella.nn.Init;
import org.tessella.nn.Module;
import org.tessella.tensor.Shape;
import org.tessella.tensor.ShapeException;
import org.tessella.tensor.Tensor;

/**
 * The tokenizer's encoder (DESIGN.md §3), images [B, 1, 32, 32] to raw latents [B, codeDim, side, side]. With
 * {@code c = channels} and {@code L = downsamples} ({@code vq-s}: c 64, L 2):
 *
 * <pre>
 * conv_in   conv3x3 1 -> c                         32x32
 * res1      ResBlock(c)
 * down1     conv3x3 stride 2, c -> c               16x16
 * res2      ResBlock(c -> 2c)
 * down2     conv3x3 stride 2, 2c -> 2c             8x8
 * res3      ResBlock(2c)
 * (down3, res4: one more stage, 2c, for 16 tokens  4x4)
 * norm_out  GroupNorm, then SiLU
 * conv_out  conv1x1 2c -> codeDim
 * </pre>
 *
 * Down-sampling convolutions use symmetric padding 1 (VQGAN pads only right/bottom; the engine's conv2d pads
 * symmetrically), so output pixel (i, j) sees input rows 2i-1..2i+1.
 */
public final class Encoder extends Module {
    public final VqConfig config;
    public final Conv2d convIn, convOut;
    public final ResBlock[] res;   // res1 .. res(L+1)
    public final Conv2d[] down;    // down1 .. downL
    public final GroupNorm normOut;

    public Encoder(VqConfig config, Init init) {
        this.config = config;
        int levels = config.downsamples();
        res = new ResBlock[levels + 1];
        down = new Conv2d[levels];
        convIn = child("conv_in", new Conv2d(1, config.width(0), 3, 1, 1, true, init));
        res[0] = child("res1", new ResBlock(config.width(0), config.width(0), config.groups(), init));
        for (int i = 1; i <= levels; i++) {
            int c = config.width(i - 1);
            down[i - 1] = child("down" + i, new Conv2d(c, c, 3, 2, 1, true, init));
            res[i] = child("res" + (i + 1), new ResBlock(c, config.width(i), config.groups(), init));
        }
        int top = config.width(levels);
        normOut = child("norm_out", new GroupNorm(config.groups(), top, ResBlock.NORM_EPS, init));
        convOut = child("conv_out", new Conv2d(top, config.codeDim(), 1, 1, 0, true, init));
    }

    /** images [B, 1, 32, 32] to latents [B, codeDim, side, side]. */
    public Tensor forward(Tensor images) {
        checkImages("encoder", images);
        Tensor h = res[0].forward(convIn.forward(onDevice(images)));
        for (int i = 0; i < down.length; i++) h = res[i + 1].forward(down[i].forward(h));
        return convOut.forward(normOut.forwardSilu(h));
    }

    /** Throws a {@link ShapeException} naming the expected and actual shapes unless images are [B, 1, 32, 32]. */
    static void checkImages(String what, Tensor images) {
        int s = VqConfig.IMAGE_SIZE;
        if (images.rank() != 4 || images.shape(0) < 1 || images.shape(1) != 1 || images.shape(2) != s || images.shape(3) != s)
            throw new ShapeException(what + ": wants images [B, 1, " + s + ", " + s + "], got " + Shape.str(images.shape()));
    }
}
