package org.tessella.cuda;

import org.tessella.tensor.Tensor;

/**
 * Softmax, log-softmax, their backward passes and fused cross-entropy over the last axis (rows.cu): one block per
 * row on contiguous tensors.
 */
final class RowOps {
    private static final String M = "rows";
    private final CudaBackend be;

    RowOps(CudaBackend be) { this.be = be; }

    private static int lastDim(Tensor t) { return t.rank() == 0 ? 1 : t.shape(-1); }

    private void rowKernel(String name, Tensor a, Tensor b, Tensor c) {
        if (c == null) be.requireContiguous(name, a, b);
        else be.requireContiguous(name, a, b, c);
        int d = lastDim(a), rows = d == 0 ? 0 : a.numel() / d;
        KernelArgs args = KernelArgs.begin().i32(rows).i32(d).ptr(be.ptr(a)).ptr(be.ptr(b));
        if (c != null) args.ptr(be.ptr(c));
        be.launchRows(be.kernel(M, name), rows, CudaBackend.rowThreads(d), args);
    }

    void softmax(Tensor x, Tensor out) { rowKernel("softmax", x, out, null); }

    void softmaxBackward(Tensor y, Tensor gy, Tensor gx) { rowKernel("softmax_backward", y, gy, gx); }

    void logSoftmax(Tensor x, Tensor out) { rowKernel("log_softmax", x, out, null); }

    void logSoftmaxBackward(Tensor y, Tensor gy, Tensor gx) { rowKernel("log_softmax_backward", y, gy, gx); }

    int crossEntropy(Tensor logits, Tensor targets, int ignoreIndex, Tensor losses, Tensor dlogits) {
        be.requireContiguous("crossEntropy", logits, targets, losses);
        if (dlogits != null) be.requireContiguous("crossEntropy", dlogits);
        int c = lastDim(logits), rows = c == 0 ? 0 : logits.numel() / c;
        if (rows == 0) return 0;
        DeviceStatus status = be.status(0, Integer.MAX_VALUE);
        try {
            be.launchRows(be.kernel(M, "cross_entropy"), rows, CudaBackend.rowThreads(c), KernelArgs.begin()
                    .i32(rows).i32(c).ptr(be.ptr(logits)).ptr(be.ptr(targets)).i32(ignoreIndex).ptr(be.ptr(losses))
                    .ptr(dlogits == null ? 0L : be.ptr(dlogits)).ptr(status.address()));
            int[] s = status.read();
            if (s[1] != Integer.MAX_VALUE) {
                int t = be.readInt(targets, s[1]);
                throw new IllegalArgumentException("crossEntropy: target " + t + " at row " + s[1] + " is out of range for "
                        + c + " classes (ignoreIndex is " + ignoreIndex + ")");
            }
            return s[0];
        } finally {
            status.close();
        }
    }
}
