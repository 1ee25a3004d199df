package org.tessella.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.tessella.tensor.Tensor;

class StridedTest {
    /** The cursor's odometer gives every row the offsets rowOffset computes, from any start row, for permuted, broadcast and offset views. */
    @Test
    void cursorMatchesRowOffsetOnPermutedAndBroadcastViews() {
        Random rnd = new Random(7);
        for (int trial = 0; trial < 200; trial++) {
            int rank = 1 + rnd.nextInt(5);
            int[] shape = new int[rank];
            for (int d = 0; d < rank; d++) shape[d] = 1 + rnd.nextInt(5);
            int numel = 1;
            for (int v : shape) numel *= v;
            Tensor dense = Tensor.of(new float[numel + 3], numel + 3).view(3, shape, contiguous(shape));
            int[] axes = permutation(rank, rnd);
            int[] pshape = new int[rank];
            for (int d = 0; d < rank; d++) pshape[d] = shape[axes[d]];
            Tensor permuted = dense.permute(axes);
            int[] bstrides = contiguous(pshape);
            bstrides[rnd.nextInt(rank)] = 0; // one broadcast dimension
            Tensor broadcast = Tensor.of(new float[numel + 5], numel + 5).view(5, pshape, bstrides);
            Tensor out = Tensor.of(new float[numel], pshape);
            Strided it = Strided.of(pshape, out, permuted, broadcast);
            int start = rnd.nextInt(it.rows);
            Strided.Cursor cur = it.cursor(start);
            for (int r = start; r < it.rows; r++, cur.next())
                for (int k = 0; k < 3; k++)
                    assertEquals(it.rowOffset(k, r), cur.offset(k), "trial " + trial + ", row " + r + ", operand " + k);
        }
    }

    private static int[] contiguous(int[] shape) {
        int[] s = new int[shape.length];
        for (int d = shape.length - 1, acc = 1; d >= 0; d--) {
            s[d] = acc;
            acc *= shape[d];
        }
        return s;
    }

    private static int[] permutation(int n, Random rnd) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) p[i] = i;
        for (int i = n - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1), t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }
}
