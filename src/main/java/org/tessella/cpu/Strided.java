package org.tessella.cpu;

import org.tessella.tensor.Tensor;

/**
 * Walks tensors of one shape but arbitrary strides (zero strides included) as rows of their innermost dimension,
 * after merging dimensions that are contiguous in every operand. Elementwise kernels then run a tight loop per row.
 */
final class Strided {
    final int rank;
    final int[] shape;
    final int[][] strides;
    final int[] bases;
    final int inner;
    final int rows;

    private Strided(int[] shape, int[][] strides, int[] bases) {
        this.rank = shape.length;
        this.shape = shape;
        this.strides = strides;
        this.bases = bases;
        this.inner = shape[rank - 1];
        int r = 1;
        for (int i = 0; i < rank - 1; i++) r *= shape[i];
        this.rows = r;
    }

    /** Operands must all have {@code shape}. */
    static Strided of(int[] shape, Tensor... ts) {
        int n = ts.length;
        // drop size-1 dimensions, then merge dimensions that are contiguous in every operand
        int[] dims = new int[Math.max(1, shape.length)];
        int[][] st = new int[n][Math.max(1, shape.length)];
        int r = 0;
        for (int d = 0; d < shape.length; d++) {
            if (shape[d] == 1) continue;
            if (r > 0) {
                boolean merge = true;
                for (int k = 0; k < n && merge; k++)
                    merge = st[k][r - 1] == ts[k].strides()[d] * shape[d];
                if (merge) {
                    dims[r - 1] *= shape[d];
                    for (int k = 0; k < n; k++) st[k][r - 1] = ts[k].strides()[d];
                    continue;
                }
            }
            dims[r] = shape[d];
            for (int k = 0; k < n; k++) st[k][r] = ts[k].strides()[d];
            r++;
        }
        if (r == 0) { // a single element
            dims[0] = 1;
            r = 1;
        }
        int[] outShape = java.util.Arrays.copyOf(dims, r);
        int[][] outStrides = new int[n][];
        int[] bases = new int[n];
        for (int k = 0; k < n; k++) {
            outStrides[k] = java.util.Arrays.copyOf(st[k], r);
            bases[k] = ts[k].offset();
        }
        return new Strided(outShape, outStrides, bases);
    }

    /** Offset of element 0 of row {@code row} in operand {@code k}. */
    int rowOffset(int k, int row) {
        int off = bases[k];
        int[] s = strides[k];
        for (int d = rank - 2; d >= 0 && row > 0; d--) {
            int i = row % shape[d];
            row /= shape[d];
            off += i * s[d];
        }
        return off;
    }

    int innerStride(int k) { return strides[k][rank - 1]; }

    /** A cursor at row {@code row}, for walking rows in order. */
    Cursor cursor(int row) { return new Cursor(row); }

    /**
     * Every operand's offset of the current row, advanced row by row as an odometer over the outer dimensions:
     * {@link #rowOffset} divides once per dimension, which for short rows (gpt-s's 32-float head rows) cost more than
     * the copy itself.
     */
    final class Cursor {
        private final int[] index = new int[Math.max(1, rank - 1)];
        private final int[] offsets = new int[strides.length];

        private Cursor(int row) {
            for (int k = 0; k < offsets.length; k++) offsets[k] = rowOffset(k, row);
            for (int d = rank - 2; d >= 0; d--) {
                index[d] = row % shape[d];
                row /= shape[d];
            }
        }

        int offset(int k) { return offsets[k]; }

        /** Moves to the next row. */
        void next() {
            for (int d = rank - 2; d >= 0; d--) {
                boolean carry = ++index[d] == shape[d];
                if (carry) index[d] = 0;
                for (int k = 0; k < offsets.length; k++)
                    offsets[k] += carry ? -(shape[d] - 1) * strides[k][d] : strides[k][d];
                if (!carry) return;
            }
        }
    }
}
