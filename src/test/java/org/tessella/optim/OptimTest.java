package org.tessella.optim;

import org.junit.jupiter.api.Test;
import org.tessella.autograd.Functional;
import org.tessella.autograd.Ops;
import org.tessella.autograd.Tape;
import org.tessella.nn.Init;
import org.tessella.nn.Linear;
import org.tessella.nn.Parameter;
import org.tessella.tensor.Tensor;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** AdamW against PyTorch's update rule in double precision, parameter groups, accumulation, schedule, clipping. */
class OptimTest {

    @Test
    void adamwFollowsPyTorchsRule() {
        float[] p0 = {0.5f, -1.25f, 2f, 0f}, g = {0.1f, -0.3f, 0.02f, 1.5f};
        Tensor p = Tensor.of(p0.clone(), 4).requiresGrad(true);
        p.setGrad(Tensor.of(g.clone(), 4));
        float lr = 0.01f, b1 = 0.9f, b2 = 0.999f, eps = 1e-8f, wd = 0.1f;
        AdamW opt = new AdamW(List.of(new Parameter("p", p, true)), lr, b1, b2, eps, wd);
        double[] ref = new double[4], m = new double[4], v = new double[4];
        for (int i = 0; i < 4; i++) ref[i] = p0[i];
        for (int t = 1; t <= 3; t++) {
            opt.step();
            for (int i = 0; i < 4; i++) {
                ref[i] -= lr * wd * ref[i];
                m[i] = b1 * m[i] + (1 - b1) * g[i];
                v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
                double mh = m[i] / (1 - Math.pow(b1, t)), vh = v[i] / (1 - Math.pow(b2, t));
                ref[i] -= lr * mh / (Math.sqrt(vh) + eps);
            }
        }
        float[] got = p.toFloatArray();
        for (int i = 0; i < 4; i++) assertEquals(ref[i], got[i], 1e-6, "element " + i);
    }

    @Test
    void undecayedGroupIgnoresWeightDecay() {
        Tensor a = Tensor.of(new float[]{1f, 2f}, 2).requiresGrad(true), b = Tensor.of(new float[]{1f, 2f}, 2).requiresGrad(true);
        a.setGrad(Tensor.of(new float[2], 2));
        b.setGrad(Tensor.of(new float[2], 2));
        AdamW opt = new AdamW(List.of(new Parameter("a", a, true), new Parameter("b", b, false)), 0.1f, 0.5f);
        opt.step();
        assertArrayEquals(new float[]{0.95f, 1.9f}, a.toFloatArray(), 1e-6f);
        assertArrayEquals(new float[]{1f, 2f}, b.toFloatArray(), 0f);
    }

    @Test
    void accumulatedHalfBatchesGiveTheFullBatchGradient() {
        Linear full = new Linear(6, 3, true, new Init(4)), split = new Linear(6, 3, true, new Init(4));
        Tensor x = Ops.randn(9, 0, 8, 6), y = Ops.randn(9, 100, 8, 3);
        Tape.backward(Functional.mse(full.forward(x), y));
        for (int h = 0; h < 2; h++) {
            Tensor loss = Ops.mulScalar(Functional.mse(split.forward(x.slice(0, 4 * h, 4 * h + 4)), y.slice(0, 4 * h, 4 * h + 4)), 0.5f);
            Tape.backward(loss);
        }
        List<Parameter> a = full.parameters(), b = split.parameters();
        for (int i = 0; i < a.size(); i++)
            assertArrayEquals(a.get(i).tensor().grad().toFloatArray(), b.get(i).tensor().grad().toFloatArray(), 1e-5f, a.get(i).name());
    }

    @Test
    void warmupThenCosine() {
        LrSchedule s = new LrSchedule(1f, 0.1f, 10, 110);
        assertEquals(0.1f, s.at(0), 1e-6);
        assertEquals(1f, s.at(9), 1e-6);
        assertEquals(0.55f, s.at(60), 1e-5);
        assertEquals(0.1f, s.at(110), 1e-6);
        assertTrue(s.at(30) > s.at(31));
    }

    @Test
    void clippingScalesToTheMaximumNorm() {
        Tensor p = Tensor.of(new float[]{0, 0}, 2).requiresGrad(true);
        p.setGrad(Tensor.of(new float[]{3f, 4f}, 2));
        List<Parameter> ps = List.of(new Parameter("p", p, true));
        assertEquals(5.0, GradClip.clip(ps, 1.0), 1e-9);
        assertEquals(1.0, GradClip.globalNorm(ps), 1e-5);
        assertEquals(1.0, GradClip.clip(ps, 2.0), 1e-5, "below the limit nothing changes");
    }
}
