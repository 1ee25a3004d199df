package org.tessella.diffusion;

import org.tessella.autograd.Ops;
import org.tessella.autograd.Tape;
import org.tessella.tensor.Tensor;
import org.tessella.tensor.Workspace;

/**
 * DDIM sampling (eta 0) over DiT's respaced timesteps, with classifier-free guidance on all channels: the conditional
 * and null-label halves run as one batch, {@code eps = eps_u + s (eps_c - eps_u)}; at scale 1 only the conditional half
 * runs. Starting noise is {@code randn(seed, 0, [n, C, H, W])}.
 */
public final class DdimSampler {
    private final GaussianDiffusion diffusion = new GaussianDiffusion();
    private final int[] timesteps;

    public DdimSampler(int steps) { this.timesteps = GaussianDiffusion.respaced(steps); }

    /** The sampling timesteps, descending. */
    public int[] timesteps() { return timesteps.clone(); }

    /** Guided noise estimate for x at one timestep. */
    public static Tensor guidedEps(NoiseModel model, Tensor x, int t, int[] labels, int nullLabel, float cfg) {
        int n = labels.length;
        if (cfg == 1f) {
            float[] ts = new float[n];
            java.util.Arrays.fill(ts, t);
            return model.eps(x, ts, Tensor.ofInts(labels.clone(), n));
        }
        int[] both = new int[2 * n];
        for (int i = 0; i < n; i++) {
            both[i] = labels[i];
            both[n + i] = nullLabel;
        }
        float[] ts = new float[2 * n];
        java.util.Arrays.fill(ts, t);
        Tensor eps = model.eps(Ops.concat(0, x, x), ts, Tensor.ofInts(both, 2 * n));
        Tensor cond = Ops.slice(eps, 0, 0, n), uncond = Ops.slice(eps, 0, n, 2 * n);
        return Ops.add(uncond, Ops.mulScalar(Ops.sub(cond, uncond), cfg));
    }

    /** Samples [n, C, H, W] for the labels (one image each), deterministic for a seed. */
    public float[] sample(NoiseModel model, int[] labels, int nullLabel, float cfg, long seed, int channels, int size) {
        int n = labels.length;
        float[] x = Ops.randn(seed, 0, n, channels, size, size).toFloatArray();
        Workspace ws = new Workspace();
        try (var ignored = Tape.noGrad()) {
            for (int i = 0; i < timesteps.length; i++) {
                int t = timesteps[i], prev = i + 1 < timesteps.length ? timesteps[i + 1] : -1;
                try (Workspace w = ws.open()) {
                    Tensor xt = Tensor.of(x, n, channels, size, size);
                    Tensor eps = guidedEps(model, xt, t, labels, nullLabel, cfg);
                    x = diffusion.ddimStep(xt, eps, t, prev).toFloatArray();
                }
            }
        }
        return x;
    }
}
