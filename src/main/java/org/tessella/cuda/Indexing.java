package org.tessella.cuda;

import org.tessella.backend.BinaryOp;
import org.tessella.backend.ReduceOp;
import org.tessella.tensor.DType;
import org.tessella.tensor.Shape;
import org.tessella.tensor.Tensor;

/**
 * Embedding lookup, gather and their scatter-add backward passes (indexing.cu) on contiguous tensors. Indices live
 * on the device, so they are checked there: a kernel records the first bad position and the host throws the CPU
 * backend's message after the launch (one small read, which waits for the kernel).
 */
final class Indexing {
    /** Indices per chunk of embeddingBackward, and the most floats its partial tables may take. */
    private static final int CHUNK = 1024;
    private static final long PARTIAL_LIMIT = 16L << 20;
    private static final String M = "indexing";
    private final CudaBackend be;

    Indexing(CudaBackend be) { this.be = be; }

    private void check(DeviceStatus status, String op, Tensor idx, int size, String what) {
        int bad = status.read()[0];
        if (bad != Integer.MAX_VALUE)
            throw new IllegalArgumentException(op + ": index " + be.readInt(idx, bad) + " at position " + bad
                    + " is out of range for " + what + " of size " + size);
    }

    void embedding(Tensor table, Tensor idx, Tensor out) {
        be.requireContiguous("embedding", table, idx, out);
        int v = table.shape(0), d = table.shape(1), n = idx.numel();
        if (n == 0 || d == 0) return;
        try (DeviceStatus status = be.status(Integer.MAX_VALUE)) {
            be.launch(be.kernel(M, "embedding"), n * d, KernelArgs.begin().i32(n).i32(d).i32(v).ptr(be.ptr(table))
                    .ptr(be.ptr(idx)).ptr(be.ptr(out)).ptr(status.address()));
            check(status, "embedding", idx, v, "a table");
        }
    }

    void embeddingBackward(Tensor g, Tensor idx, Tensor gTable) {
        be.requireContiguous("embeddingBackward", g, idx, gTable);
        int v = gTable.shape(0), d = gTable.shape(1), n = idx.numel();
        if (n == 0 || d == 0) return;
        // chunks of CHUNK indices (fewer where the partial tables would pass PARTIAL_LIMIT floats): a function of the
        // shapes alone, so the order of the sums is too
        int chunks = (int) Math.max(1, Math.min((n + (long) CHUNK - 1) / CHUNK, PARTIAL_LIMIT / ((long) v * d)));
        int chunk = (int) ((n + (long) chunks - 1) / chunks);
        Tensor partial = chunks > 1 ? be.scratch(DType.F32, chunks, v * d) : null;
        try (DeviceStatus status = be.status(Integer.MAX_VALUE)) {
            // 256 threads: 8 warps, one table row each (see indexing.cu)
            be.launch(be.kernel(M, "embedding_backward"), (v + 7) / 8, chunks, 256, 0, KernelArgs.begin().i32(n).i32(d)
                    .i32(v).i32(chunk).ptr(be.ptr(g)).ptr(be.ptr(idx)).ptr(be.ptr(partial != null ? partial : gTable))
                    .ptr(status.address()));
            check(status, "embeddingBackward", idx, v, "a table");
            if (partial != null) {
                Tensor sum = be.scratch(DType.F32, 1, v * d), flat = gTable.reshape(1, v * d);
                be.reduce(ReduceOp.SUM, partial, sum);
                be.binary(BinaryOp.ADD, flat, sum, flat);
                be.release(sum);
            }
        } finally {
            if (partial != null) be.release(partial);
        }
    }

    /** {A, B}: the products of the dimensions before and after axis. */
    private static int[] outerInner(int[] shape, int axis) {
        int a = 1, b = 1;
        for (int i = 0; i < axis; i++) a *= shape[i];
        for (int i = axis + 1; i < shape.length; i++) b *= shape[i];
        return new int[]{a, b};
    }

    void gather(Tensor x, int axis, Tensor idx, Tensor out) {
        be.requireContiguous("gather", x, idx, out);
        int ax = Shape.axis("gather", axis, x.rank());
        int[] ab = outerInner(x.shape(), ax);
        int a = ab[0], b = ab[1], dx = x.shape(ax), di = idx.shape(ax);
        if ((long) a * di * b == 0) return;
        try (DeviceStatus status = be.status(Integer.MAX_VALUE)) {
            be.launch(be.kernel(M, "gather"), a * di * b, KernelArgs.begin().i32(a).i32(dx).i32(di).i32(b)
                    .ptr(be.ptr(x)).ptr(be.ptr(idx)).ptr(be.ptr(out)).ptr(status.address()));
            check(status, "gather", idx, dx, "axis " + ax + " of x " + Shape.str(x.shape()));
        }
    }

    void scatterAdd(Tensor g, int axis, Tensor idx, Tensor gx) {
        be.requireContiguous("scatterAdd", g, idx, gx);
        int ax = Shape.axis("scatterAdd", axis, gx.rank());
        int[] ab = outerInner(gx.shape(), ax);
        int a = ab[0], b = ab[1], dx = gx.shape(ax), di = idx.shape(ax);
        if ((long) a * b * di == 0) return;
        try (DeviceStatus status = be.status(Integer.MAX_VALUE)) {
            be.launch(be.kernel(M, "scatter_add"), a * b, KernelArgs.begin().i32(a).i32(dx).i32(di).i32(b)
                    .ptr(be.ptr(g)).ptr(be.ptr(idx)).ptr(be.ptr(gx)).ptr(status.address()));
            check(status, "scatterAdd", idx, dx, "axis " + ax + " of " + Shape.str(gx.shape()));
        }
    }
}
