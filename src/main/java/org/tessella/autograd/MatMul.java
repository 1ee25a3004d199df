package org.tessella.autograd;

import org.tessella.backend.FlopCounter;
import org.tessella.tensor.DType;
import org.tessella.tensor.Shape;
import org.tessella.tensor.Tensor;

import java.util.Arrays;

/**
 * Maps a NumPy-style batched matrix product onto the backend's rank-3 GEMM without copying: a transposed view is
 * passed as a transposed operand, a batch of one is broadcast by the GEMM, and a batched left operand times a plain
 * matrix is folded into one tall GEMM. Only layouts the GEMM cannot read are copied.
 */
final class MatMul {
    private MatMul() {}

    /** One GEMM operand: a contiguous rank-3 tensor of the stored layout, whether it is transposed, its batch count. */
    private record Operand(Tensor stored, boolean trans, int batch) {}

    static Tensor product(Tensor a, Tensor b) {
        int m = a.shape(-2), k = a.shape(-1), n = b.shape(-1);
        int[] aBatch = Arrays.copyOf(a.shape(), a.rank() - 2), bBatch = Arrays.copyOf(b.shape(), b.rank() - 2);
        int[] batch = Shape.broadcast("matmul", aBatch, bBatch);
        int[] outShape = Arrays.copyOf(batch, batch.length + 2);
        outShape[batch.length] = m;
        outShape[batch.length + 1] = n;
        Tensor out = Ops.be(a).empty(DType.F32, outShape);
        FlopCounter.add(2L * Shape.numel(batch) * m * n * k);

        Operand ob = operand(b, k, n, batch);
        Operand oa;
        int bt = (int) Shape.numel(batch);
        if (ob.batch == 1 && bt > 1 && aBatch.length == batch.length && (oa = operand(a, m, k, batch)) != null
                && !oa.trans && oa.batch == bt) {
            // fold: [bt * m, k] @ [k, n]
            Tensor a2 = oa.stored.reshape(1, bt * m, k);
            Ops.be(a).matmul(a2, false, ob.stored, ob.trans, out.reshape(1, bt * m, n), 1f, 0f);
            return out;
        }
        oa = operand(a, m, k, batch);
        Ops.be(a).matmul(oa.stored, oa.trans, ob.stored, ob.trans, out.reshape(bt, m, n), 1f, 0f);
        return out;
    }

    /** t is [..., rows, cols] with batch dims broadcastable to {@code batch}. */
    private static Operand operand(Tensor t, int rows, int cols, int[] batch) {
        int r = t.rank();
        int[] tb = Arrays.copyOf(t.shape(), r - 2);
        long tn = Shape.numel(tb);
        boolean fullBatch = tn == 1 || (tb.length == batch.length && Arrays.equals(tb, batch));
        int sr = t.strides()[r - 2], sc = t.strides()[r - 1];
        boolean normal = sc == 1 && (sr == cols || rows == 1);
        boolean trans = !normal && sr == 1 && (sc == rows || cols == 1);
        boolean batchOk = true;
        if (tn > 1) {
            long expect = (long) rows * cols;
            for (int d = r - 3; d >= 0; d--) {
                if (t.shape()[d] == 1) continue;
                if (t.strides()[d] != expect) { batchOk = false; break; }
                expect *= t.shape()[d];
            }
        }
        if (!fullBatch || !(normal || trans) || !batchOk) {
            int[] target = tn == 1 ? new int[]{1, rows, cols} : concat(batch, rows, cols);
            Tensor c = Ops.be(t).empty(DType.F32, target);
            Ops.be(t).copy(tn == 1 ? t.view(t.offset(), target, new int[]{rows * cols, sr, sc}) : t.expand(target), c);
            return new Operand(c.reshape(-1, rows, cols), false, (int) Shape.numel(Arrays.copyOf(target, target.length - 2)));
        }
        int bc = (int) tn;
        int[] stored = trans ? new int[]{bc, cols, rows} : new int[]{bc, rows, cols};
        return new Operand(t.view(t.offset(), stored, Shape.contiguousStrides(stored)), trans, bc);
    }

    private static int[] concat(int[] batch, int rows, int cols) {
        int[] s = Arrays.copyOf(batch, batch.length + 2);
        s[batch.length] = rows;
        s[batch.length + 1] = cols;
        return s;
    }
}
