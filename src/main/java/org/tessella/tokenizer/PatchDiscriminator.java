package org.tessella.tokenizer;

import org.tessella.autograd.Ops;
import org.tessella.nn.Conv2d;
import org.tessella.nn.GroupNorm;
import org.tessella.nn.Init;
import org.tessella.nn.Module;
import org.tessella.tensor.Tensor;

/**
 * A small PatchGAN discriminator for 1x32x32 images, the tokenizer's optional adversarial term (LlamaGen's recipe at
 * Fashion-MNIST scale): {@code conv1} 1->64 4x4 stride 2 (16x16), LeakyReLU 0.2, {@code conv2} 64->128 4x4 stride 2
 * (8x8), {@code norm} GroupNorm(8 groups; PatchGAN's BatchNorm would make a sample's score depend on its batch mates),
 * LeakyReLU 0.2, {@code conv3} 128->1 3x3: one real/fake logit per 8x8 patch position. Trained with the hinge loss by
 * its own optimizer; saved in the training checkpoint, not with the tokenizer.
 */
public final class PatchDiscriminator extends Module {
    public static final float SLOPE = 0.2f;

    public final Conv2d conv1, conv2, conv3;
    public final GroupNorm norm;

    public PatchDiscriminator(Init init) {
        conv1 = child("conv1", new Conv2d(1, 64, 4, 2, 1, true, init));
        conv2 = child("conv2", new Conv2d(64, 128, 4, 2, 1, false, init));
        norm = child("norm", new GroupNorm(8, 128, 1e-5f, init));
        conv3 = child("conv3", new Conv2d(128, 1, 3, 1, 1, true, init));
    }

    /** Patch logits [B, 1, 8, 8] for images [B, 1, 32, 32]. */
    public Tensor forward(Tensor images) {
        Encoder.checkImages("discriminator", images);
        Tensor h = leaky(conv1.forward(onDevice(images)));
        h = leaky(norm.forward(conv2.forward(h)));
        return conv3.forward(h);
    }

    private static Tensor leaky(Tensor x) { return Ops.maximum(x, Ops.mulScalar(x, SLOPE)); }

    /** The discriminator's hinge loss {@code 0.5 (mean relu(1 - real) + mean relu(1 + fake))} on patch logits. */
    public static Tensor hingeLoss(Tensor realLogits, Tensor fakeLogits) {
        Tensor r = Ops.mean(Ops.relu(Ops.addScalar(Ops.neg(realLogits), 1f)));
        Tensor f = Ops.mean(Ops.relu(Ops.addScalar(fakeLogits, 1f)));
        return Ops.mulScalar(Ops.add(r, f), 0.5f);
    }

    /** The generator's adversarial loss {@code -mean(fake)}: the decoder is pushed toward patches scored real. */
    public static Tensor generatorLoss(Tensor fakeLogits) { return Ops.neg(Ops.mean(fakeLogits)); }
}
