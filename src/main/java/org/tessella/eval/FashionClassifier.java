package org.tessella.eval;

import org.tessella.autograd.Functional;
import org.tessella.autograd.Ops;
import org.tessella.nn.Conv2d;
import org.tessella.nn.GroupNorm;
import org.tessella.nn.Init;
import org.tessella.nn.Linear;
import org.tessella.nn.Module;
import org.tessella.tensor.Tensor;

/**
 * The Fashion-MNIST classifier whose penultimate features serve the Frechet distance of generated images (the role
 * Inception plays for ImageNet). Input: padded 32x32 grey images in [-1, 1], the same as the generators produce.
 *
 * <pre>
 * conv1 3x3 1->32, GroupNorm(8), ReLU, avgpool 2   (16x16)
 * conv2 3x3 32->64, GroupNorm(8), ReLU, avgpool 2  (8x8)
 * conv3 3x3 64->128, GroupNorm(8), ReLU, avgpool 2 (4x4)
 * flatten 2048 -> fc1 128, ReLU      (the features)
 * fc2 128 -> 10                      (logits)
 * </pre>
 */
public final class FashionClassifier extends Module {
    public static final int FEATURES = 128;
    public static final int CLASSES = 10;

    public static final int GROUPS = 8;

    public final Conv2d conv1, conv2, conv3;
    public final GroupNorm norm1, norm2, norm3;
    public final Linear fc1, fc2;

    public FashionClassifier(Init init) {
        conv1 = child("conv1", new Conv2d(1, 32, 3, 1, 1, true, init));
        norm1 = child("norm1", new GroupNorm(GROUPS, 32, 1e-5f, init));
        conv2 = child("conv2", new Conv2d(32, 64, 3, 1, 1, true, init));
        norm2 = child("norm2", new GroupNorm(GROUPS, 64, 1e-5f, init));
        conv3 = child("conv3", new Conv2d(64, 128, 3, 1, 1, true, init));
        norm3 = child("norm3", new GroupNorm(GROUPS, 128, 1e-5f, init));
        fc1 = child("fc1", new Linear(128 * 4 * 4, FEATURES, true, init));
        fc2 = child("fc2", new Linear(FEATURES, CLASSES, true, init));
    }

    /** Penultimate features [N, 128] of images [N, 1, 32, 32]. */
    public Tensor features(Tensor images) {
        Tensor h = Functional.avgPool2d(Ops.relu(norm1.forward(conv1.forward(onDevice(images)))), 2, 2);
        h = Functional.avgPool2d(Ops.relu(norm2.forward(conv2.forward(h))), 2, 2);
        h = Functional.avgPool2d(Ops.relu(norm3.forward(conv3.forward(h))), 2, 2);
        return Ops.relu(fc1.forward(Ops.flatten(h, 1)));
    }

    /** The checkpoint file name inside a classifier run directory. */
    public static final String CHECKPOINT = "classifier.safetensors";

    /** Loads the classifier saved by {@code train-classifier} in {@code dir}; errors name the file and the problem. */
    public static FashionClassifier load(java.nio.file.Path dir) {
        java.nio.file.Path file = dir.resolve(CHECKPOINT);
        if (!java.nio.file.Files.exists(file))
            throw new IllegalArgumentException("no classifier at " + file + ": train one with tessella train-classifier --out " + dir);
        org.tessella.io.Checkpoint c = org.tessella.io.Checkpoint.load(file);
        FashionClassifier m = new FashionClassifier(new Init(0));
        try {
            m.loadStateDict(c.tensors(), "optim.");
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        }
        m.eval();
        return m;
    }

    /** Class logits [N, 10]. */
    public Tensor forward(Tensor images) {
        return fc2.forward(features(images));
    }
}
