package org.tessella.cpu;

import org.tessella.backend.ReduceOp;
import org.tessella.tensor.Tensor;

/** Reductions (being written by the lead). */
final class Reductions {
    private Reductions() {}

    static void reduce(ReduceOp op, Tensor x, Tensor out) { throw new UnsupportedOperationException("not written yet"); }
    static double sumOfSquares(Tensor x) { throw new UnsupportedOperationException("not written yet"); }
    static void argmax(Tensor x, Tensor out) { throw new UnsupportedOperationException("not written yet"); }
    static void topk(Tensor x, int k, Tensor values, Tensor indices) { throw new UnsupportedOperationException("not written yet"); }
}
