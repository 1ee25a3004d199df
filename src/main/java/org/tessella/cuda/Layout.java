package org.tessella.cuda;

import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.MemorySegment;
import org.tessella.tensor.Shape;
import org.tessella.tensor.Tensor;

/**
 * How elementwise kernels walk operands of one shape but arbitrary strides (zero strides of broadcast views
 * included): size-1 dimensions are dropped and dimensions contiguous in every operand merged, then the shape and
 * each operand's strides go to the kernel by value as {@code struct Layout} (prelude.cuh), which turns a flat output
 * index into one element offset per operand. Operand 0 is the output. Offsets are relative to each operand's first
 * element (its device address already includes the tensor's offset).
 */
final class Layout {
    static final int MAX_RANK = 8, MAX_OPERANDS = 4;
    /** sizeof(struct Layout): rank, shape[8], stride[4][8], all int. */
    static final int BYTES = 4 * (1 + MAX_RANK + MAX_OPERANDS * MAX_RANK);

    final int rank;
    final int[] shape;
    final int[][] strides;

    private Layout(int rank, int[] shape, int[][] strides) {
        this.rank = rank;
        this.shape = shape;
        this.strides = strides;
    }

    /** Operands must all have {@code shape} (broadcast views expanded to it). */
    static Layout of(String op, int[] shape, Tensor... operands) {
        if (operands.length > MAX_OPERANDS) throw new IllegalArgumentException(op + ": too many operands for a layout");
        int n = operands.length;
        int[] dims = new int[Math.max(1, shape.length)];
        int[][] st = new int[n][Math.max(1, shape.length)];
        int r = 0;
        for (int d = 0; d < shape.length; d++) {
            if (shape[d] == 1) continue;
            if (r > 0) {
                boolean merge = true;
                for (int k = 0; k < n && merge; k++) merge = st[k][r - 1] == operands[k].strides()[d] * shape[d];
                if (merge) {
                    dims[r - 1] *= shape[d];
                    for (int k = 0; k < n; k++) st[k][r - 1] = operands[k].strides()[d];
                    continue;
                }
            }
            dims[r] = shape[d];
            for (int k = 0; k < n; k++) st[k][r] = operands[k].strides()[d];
            r++;
        }
        if (r == 0) { // a single element
            dims[0] = 1;
            r = 1;
        }
        if (r > MAX_RANK)
            throw new UnsupportedOperationException(op + ": a strided view of shape " + Shape.str(shape)
                    + " needs " + r + " dimensions after merging; the CUDA kernels walk at most " + MAX_RANK);
        return new Layout(r, dims, st);
    }

    /** True when operand k is laid out densely in the output's order. */
    boolean dense(int k) { return rank == 1 && strides[k][0] == 1; }

    void writeTo(MemorySegment s) {
        s.fill((byte) 0);
        s.set(JAVA_INT, 0, rank);
        for (int d = 0; d < rank; d++) s.set(JAVA_INT, 4L * (1 + d), shape[d]);
        for (int k = 0; k < strides.length; k++)
            for (int d = 0; d < rank; d++) s.set(JAVA_INT, 4L * (1 + MAX_RANK + k * MAX_RANK + d), strides[k][d]);
    }
}
