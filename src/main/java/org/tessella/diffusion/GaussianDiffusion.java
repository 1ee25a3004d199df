package org.tessella.diffusion;

import java.util.ArrayList;
import java.util.List;
import org.tessella.autograd.Ops;
import org.tessella.tensor.Tensor;

/**
 * DDPM's forward process with DiT's linear beta schedule (1e-4 to 0.02 over {@link #STEPS} steps), the epsilon
 * objective's noising, and DDIM (eta 0) updates over respaced timesteps. The schedule is computed in double and kept
 * as double: every coefficient handed to the float kernels is rounded once.
 */
public final class GaussianDiffusion {
    public static final int STEPS = 1000;
    public static final double BETA_START = 1e-4, BETA_END = 0.02;

    private final double[] alphaBar = new double[STEPS];

    public GaussianDiffusion() {
        double prod = 1;
        for (int t = 0; t < STEPS; t++) {
            double beta = BETA_START + (BETA_END - BETA_START) * t / (STEPS - 1);
            prod *= 1 - beta;
            alphaBar[t] = prod;
        }
    }

    /** The cumulative product of (1 - beta) up to and including step t; 1 for t = -1 (the clean image). */
    public double alphaBar(int t) {
        if (t == -1) return 1;
        if (t < 0 || t >= STEPS) throw new IllegalArgumentException("diffusion: timestep " + t + " outside [0, " + STEPS + ")");
        return alphaBar[t];
    }

    /** x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps, per batch row with its own timestep (t.length = B). */
    public Tensor noised(Tensor x0, Tensor eps, int[] t) {
        int b = x0.shape(0);
        if (t.length != b) throw new IllegalArgumentException("diffusion: " + t.length + " timesteps for a batch of " + b);
        float[] a = new float[b], s = new float[b];
        for (int i = 0; i < b; i++) {
            a[i] = (float) Math.sqrt(alphaBar(t[i]));
            s[i] = (float) Math.sqrt(1 - alphaBar(t[i]));
        }
        int[] col = new int[x0.rank()];
        java.util.Arrays.fill(col, 1);
        col[0] = b;
        return Ops.add(Ops.mul(x0, Ops.to(Tensor.of(a, col), x0.device())), Ops.mul(eps, Ops.to(Tensor.of(s, col), x0.device())));
    }

    /**
     * One DDIM step (eta 0) from timestep t to tPrev (-1 for the end): predict x0 from the noise estimate, then
     * {@code x_prev = sqrt(abar_prev) x0 + sqrt(1 - abar_prev) eps}. Every row of x shares t.
     */
    public Tensor ddimStep(Tensor x, Tensor eps, int t, int tPrev) {
        double at = alphaBar(t), ap = alphaBar(tPrev);
        // x_prev = c1 * x + c2 * eps with c1 = sqrt(ap / at), c2 = sqrt(1 - ap) - sqrt(ap (1 - at) / at)
        float c1 = (float) Math.sqrt(ap / at), c2 = (float) (Math.sqrt(1 - ap) - Math.sqrt(ap * (1 - at) / at));
        return Ops.add(Ops.mulScalar(x, c1), Ops.mulScalar(eps, c2));
    }

    /**
     * DiT's "ddimN" respacing: the timesteps {@code 0, s, 2s, ...} below {@link #STEPS} for the stride s that gives
     * exactly N of them, in descending order (the sampling order). N of 10, 16, 20, 25, 40, 50 all have one.
     */
    public static int[] respaced(int n) {
        for (int stride = 1; stride < STEPS; stride++) {
            if ((STEPS + stride - 1) / stride != n) continue;
            List<Integer> ts = new ArrayList<>();
            for (int t = 0; t < STEPS; t += stride) ts.add(t);
            int[] out = new int[ts.size()];
            for (int i = 0; i < out.length; i++) out[i] = ts.get(out.length - 1 - i);
            return out;
        }
        throw new IllegalArgumentException("diffusion: no stride gives exactly " + n + " of the " + STEPS
                + " timesteps (DiT's ddimN respacing); try 10, 16, 20, 25, 40 or 50");
    }
}
