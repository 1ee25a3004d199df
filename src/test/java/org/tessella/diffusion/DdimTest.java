package org.tessella.diffusion;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.tessella.autograd.Ops;
import org.tessella.nn.Init;
import org.tessella.tensor.Tensor;
import org.tessella.tensor.Workspace;

/** The noise schedule, DiT's respacing, DDIM steps against closed forms, and guidance. */
class DdimTest {
    @Test
    void linearScheduleMatchesItsProduct() {
        GaussianDiffusion d = new GaussianDiffusion();
        assertEquals(1 - 1e-4, d.alphaBar(0), 1e-15);
        double prod = 1;
        for (int t = 0; t < 1000; t++) prod *= 1 - (1e-4 + (0.02 - 1e-4) * t / 999.0);
        assertEquals(prod, d.alphaBar(999), 1e-18);
        assertTrue(d.alphaBar(999) > 3e-5 && d.alphaBar(999) < 5e-5, "abar_999 = " + d.alphaBar(999));
        assertEquals(1.0, d.alphaBar(-1), 0);
        assertThrows(IllegalArgumentException.class, () -> d.alphaBar(1000));
    }

    @Test
    void respacingIsDitsDdimN() {
        int[] t20 = GaussianDiffusion.respaced(20);
        assertEquals(20, t20.length);
        assertEquals(950, t20[0]);
        assertEquals(0, t20[19]);
        assertEquals(50, t20[0] - t20[1]);
        int[] t16 = GaussianDiffusion.respaced(16);
        assertEquals(16, t16.length);
        assertEquals(63, t16[0] - t16[1]);
        assertEquals(50, GaussianDiffusion.respaced(50).length);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> GaussianDiffusion.respaced(999));
        assertTrue(e.getMessage().contains("999"), e.getMessage());
    }

    @Test
    void ddimStepWithTheTrueNoiseLandsOnTheForwardProcess() {
        GaussianDiffusion d = new GaussianDiffusion();
        try (Workspace w = new Workspace().open()) {
            Tensor x0 = Ops.randn(1, 0, 2, 1, 4, 4), eps = Ops.randn(2, 0, 2, 1, 4, 4);
            Tensor xt = d.noised(x0, eps, new int[]{700, 700});
            float[] prev = d.ddimStep(xt, eps, 700, 300).toFloatArray();
            float[] want = d.noised(x0, eps, new int[]{300, 300}).toFloatArray();
            assertArrayEquals(want, prev, 2e-5f);
            float[] clean = d.ddimStep(xt, eps, 700, -1).toFloatArray();
            assertArrayEquals(x0.toFloatArray(), clean, 2e-4f);
        }
    }

    @Test
    void samplingWithAnOracleEndsAtItsImage() {
        GaussianDiffusion d = new GaussianDiffusion();
        float[] target = Ops.randn(9, 0, 1, 1, 4, 4).toFloatArray();
        // the exact noise that takes x back to `target` from any x_t: eps = (x - sqrt(abar) target) / sqrt(1 - abar)
        NoiseModel oracle = (x, t, labels) -> {
            int b = x.shape(0);
            float[] xs = x.toFloatArray(), out = new float[xs.length];
            for (int i = 0; i < xs.length; i++) {
                double ab = d.alphaBar((int) t[i / 16]);
                out[i] = (float) ((xs[i] - Math.sqrt(ab) * target[i % 16]) / Math.sqrt(1 - ab));
            }
            return Tensor.of(out, b, 1, 4, 4);
        };
        for (int steps : new int[]{10, 20}) {
            float[] img = new DdimSampler(steps).sample(oracle, new int[]{0, 1}, 2, 1f, 5, 1, 4);
            for (int i = 0; i < img.length; i++) assertEquals(target[i % 16], img[i], 1e-3f, steps + " steps, element " + i);
        }
    }

    @Test
    void guidanceMixesTheHalvesAndScaleOneIsConditional() {
        Dit m = new Dit(DitTest.TINY, new Init(4));
        Init r = new Init(8);
        for (var p : m.parameters()) org.tessella.backend.Backends.of(p.tensor().device()).copy(r.normal(0f, 0.2f, p.tensor().shape()), p.tensor());
        try (var ignored = org.tessella.autograd.Tape.noGrad(); Workspace w = new Workspace().open()) {
            Tensor x = Ops.randn(3, 0, 2, 1, 8, 8);
            float[] c = DdimSampler.guidedEps(m::forward, x, 400, new int[]{0, 2}, m.nullClass(), 1f).toFloatArray();
            float[] cond = m.forward(x, new float[]{400, 400}, Tensor.ofInts(new int[]{0, 2}, 2)).toFloatArray();
            float[] unc = m.forward(x, new float[]{400, 400}, Tensor.ofInts(new int[]{3, 3}, 2)).toFloatArray();
            assertArrayEquals(cond, c, 0f);
            float[] g = DdimSampler.guidedEps(m::forward, x, 400, new int[]{0, 2}, m.nullClass(), 3f).toFloatArray();
            for (int i = 0; i < g.length; i++) assertEquals(unc[i] + 3 * (cond[i] - unc[i]), g[i], 1e-4f);
        }
        // same seed, same samples
        float[] a = new DdimSampler(10).sample(m::forward, new int[]{1}, m.nullClass(), 2f, 7, 1, 8);
        float[] b = new DdimSampler(10).sample(m::forward, new int[]{1}, m.nullClass(), 2f, 7, 1, 8);
        assertArrayEquals(a, b, 0f);
    }
}
