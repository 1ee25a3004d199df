package org.tessella.cpu;

import org.tessella.tensor.Tensor;

/** Softmax, log-softmax and fused cross-entropy over the last axis (placeholder until written). */
final class RowOps {
    private RowOps() {}

    static void softmax(Tensor x, Tensor out) { throw new UnsupportedOperationException("RowOps not written yet"); }
    static void softmaxBackward(Tensor y, Tensor gy, Tensor gx) { throw new UnsupportedOperationException("RowOps not written yet"); }
    static void logSoftmax(Tensor x, Tensor out) { throw new UnsupportedOperationException("RowOps not written yet"); }
    static void logSoftmaxBackward(Tensor y, Tensor gy, Tensor gx) { throw new UnsupportedOperationException("RowOps not written yet"); }
    static int crossEntropy(Tensor logits, Tensor targets, int ignoreIndex, Tensor losses, Tensor dlogits) { throw new UnsupportedOperationException("RowOps not written yet"); }
}
