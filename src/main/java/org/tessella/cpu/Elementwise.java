package org.tessella.cpu;

import org.tessella.backend.BinaryOp;
import org.tessella.backend.UnaryOp;
import org.tessella.tensor.Tensor;

/** Elementwise kernels (being written by the lead). */
final class Elementwise {
    private Elementwise() {}

    static void fill(Tensor out, float value) { throw new UnsupportedOperationException("not written yet"); }
    static void copy(Tensor src, Tensor dst) { throw new UnsupportedOperationException("not written yet"); }
    static void unary(UnaryOp op, Tensor x, Tensor out) { throw new UnsupportedOperationException("not written yet"); }
    static void unaryBackward(UnaryOp op, Tensor x, Tensor y, Tensor gy, Tensor gx) { throw new UnsupportedOperationException("not written yet"); }
    static void binary(BinaryOp op, Tensor a, Tensor b, Tensor out) { throw new UnsupportedOperationException("not written yet"); }
    static void affine(Tensor x, float scale, float shift, Tensor out) { throw new UnsupportedOperationException("not written yet"); }
    static void powScalar(Tensor x, float exponent, Tensor out) { throw new UnsupportedOperationException("not written yet"); }
    static void clamp(Tensor x, float lo, float hi, Tensor out) { throw new UnsupportedOperationException("not written yet"); }
    static void where(Tensor cond, Tensor a, Tensor b, Tensor out) { throw new UnsupportedOperationException("not written yet"); }
    static void adamw(Tensor param, Tensor grad, Tensor m, Tensor v, float lr, float beta1, float beta2, float eps, float weightDecay, float c1, float c2) { throw new UnsupportedOperationException("not written yet"); }
}
