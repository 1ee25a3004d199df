package org.tessella.cpu;

import org.tessella.tensor.Tensor;

/** Convolution (im2col + GEMM), nearest upsampling and average pooling (placeholder until written). */
final class Conv {
    private Conv() {}

    static void conv2d(Tensor x, Tensor w, Tensor bias, int stride, int padding, Tensor y) { throw new UnsupportedOperationException("Conv not written yet"); }
    static void conv2dBackwardInput(Tensor gy, Tensor w, int stride, int padding, Tensor gx) { throw new UnsupportedOperationException("Conv not written yet"); }
    static void conv2dBackwardWeight(Tensor gy, Tensor x, int stride, int padding, Tensor gw, Tensor gBias) { throw new UnsupportedOperationException("Conv not written yet"); }
    static void upsampleNearest(Tensor x, int factor, Tensor y) { throw new UnsupportedOperationException("Conv not written yet"); }
    static void upsampleNearestBackward(Tensor gy, int factor, Tensor gx) { throw new UnsupportedOperationException("Conv not written yet"); }
    static void avgPool2d(Tensor x, int kernel, int stride, Tensor y) { throw new UnsupportedOperationException("Conv not written yet"); }
    static void avgPool2dBackward(Tensor gy, int kernel, int stride, Tensor gx) { throw new UnsupportedOperationException("Conv not written yet"); }
}
