package org.tessella.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.tessella.cpu.RowOpsTest.assertClose;
import static org.tessella.cpu.RowOpsTest.random;
import static org.tessella.cpu.RowOpsTest.zeros;

import org.junit.jupiter.api.Test;
import org.tessella.backend.BinaryOp;
import org.tessella.backend.UnaryOp;
import org.tessella.tensor.Tensor;

/** The fused SwiGLU gate against the composition it replaces (bitwise) and a double-precision reference. */
class SwigluTest {
    static final CpuBackend B = CpuBackend.INSTANCE;

    @Test
    void fusedGateIsTheCompositionAndMatchesDoubles() {
        for (int n : new int[]{1, 15, 16, 17, 1000, 40_000}) { // scalar tail only, whole vectors, both, several tasks
            float[] a = random(n + 1, n, 4), b = random(n + 2, n, 2), g = random(n + 3, n, 1);
            Tensor at = Tensor.of(a, n), bt = Tensor.of(b, n), gt = Tensor.of(g, n);
            // the composition: y = silu(a), out = y * b; backward: mul's (g b, g y), then silu's
            Tensor y = zeros(n), out = zeros(n), gy = zeros(n), ga = zeros(n), gb = zeros(n);
            B.unary(UnaryOp.SILU, at, y);
            B.binary(BinaryOp.MUL, y, bt, out);
            B.binary(BinaryOp.MUL, gt, bt, gy);
            B.unaryBackward(UnaryOp.SILU, at, y, gy, ga);
            B.binary(BinaryOp.MUL, gt, y, gb);
            Tensor fOut = zeros(n), fGa = zeros(n), fGb = zeros(n);
            B.swiglu(at, bt, fOut);
            B.swigluBackward(at, bt, gt, fGa, fGb);
            assertArrayEquals(out.floats(), fOut.floats(), "swiglu n=" + n);
            assertArrayEquals(ga.floats(), fGa.floats(), "swiglu ga n=" + n);
            assertArrayEquals(gb.floats(), fGb.floats(), "swiglu gb n=" + n);
            double[] want = new double[n], wantGa = new double[n], wantGb = new double[n];
            for (int i = 0; i < n; i++) {
                double x = a[i], s = 1 / (1 + Math.exp(-x));
                want[i] = x * s * b[i];
                wantGa[i] = g[i] * b[i] * (s + x * s * (1 - s));
                wantGb[i] = g[i] * x * s;
            }
            assertClose("swiglu n=" + n, want, fOut.floats(), 2e-6);
            assertClose("swiglu ga n=" + n, wantGa, fGa.floats(), 2e-6);
            assertClose("swiglu gb n=" + n, wantGb, fGb.floats(), 2e-6);
        }
    }
}
