package org.tessella.parity;

import org.tessella.tensor.Tensor;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** The comparison every PyTorch parity test uses: the largest difference relative to the reference's largest magnitude. */
public final class Parity {
    private Parity() {}

    public static double relError(Tensor actual, Tensor expected) {
        float[] a = actual.toFloatArray(), e = expected.toFloatArray();
        if (a.length != e.length) throw new AssertionError("sizes differ: " + a.length + " vs " + e.length);
        double maxDiff = 0, scale = 0;
        for (int i = 0; i < a.length; i++) {
            maxDiff = Math.max(maxDiff, Math.abs((double) a[i] - e[i]));
            scale = Math.max(scale, Math.abs(e[i]));
        }
        return maxDiff / Math.max(scale, 1e-30);
    }

    /** Asserts the relative error is below {@code tol} and returns it. */
    public static double assertClose(String what, Tensor actual, Tensor expected, double tol) {
        double err = relError(actual, expected);
        assertTrue(err < tol, what + ": relative error " + err + " >= " + tol);
        return err;
    }
}
