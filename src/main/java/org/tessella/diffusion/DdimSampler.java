package org.tessella.diffusion;

import org.tessella.autograd.Ops;
import org.tessella.autograd.Tape;
import org.tessella.tensor.Device;
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
        return sample(position -> model, labels, nullLabel, cfg, seed, 0, channels, size, Device.CPU);
    }

    /** What a cache step does with the sub-layers its schedule skips. */
    public enum Skipped {
        /** Learning-to-Cache: reuse the branch output of the last full step. */
        REUSE,
        /** The dropping baseline: the branch adds nothing. */
        DROP
    }

    /**
     * Samples with a learned layer-caching schedule: even positions are full steps that refresh the cache, odd ones
     * cache steps that compute only the sub-layers the schedule keeps at {@code theta} and reuse the rest (their work
     * is skipped). With {@code schedule} null every step is full.
     */
    public float[] sample(Dit model, int[] labels, float cfg, long seed, CacheSchedule schedule, float theta) {
        return sample(model, labels, cfg, seed, schedule, theta, Skipped.REUSE, labels.length);
    }

    /**
     * The same in batches of at most {@code batch} images (memory grows with the batch). Image r starts from the noise
     * at offset r of the seed's stream whatever batch it falls in, and no row reads another, so the samples do not
     * depend on {@code batch}.
     */
    public float[] sample(Dit model, int[] labels, float cfg, long seed, CacheSchedule schedule, float theta, Skipped skipped, int batch) {
        if (batch < 1) throw new IllegalArgumentException("ddim: batch must be at least 1, got " + batch);
        DitConfig mc = model.config;
        boolean[][] masks = null;
        if (schedule != null) {
            schedule.checkFits(timesteps.length, mc.depth());
            masks = new boolean[timesteps.length / 2][];
            for (int i = 0; i < masks.length; i++) masks[i] = schedule.compute(i, theta);
        }
        int n = labels.length, image = mc.channels() * mc.imageSize() * mc.imageSize();
        float[] out = new float[n * image];
        // one cache for all batches: each batch's first step is full and overwrites it, and its buffers are reused
        StepModel models = stepModels(model, masks, skipped);
        for (int r0 = 0; r0 < n; r0 += batch) {
            int[] part = java.util.Arrays.copyOfRange(labels, r0, Math.min(n, r0 + batch));
            float[] x = sample(models, part, model.nullClass(), cfg, seed, r0, mc.channels(), mc.imageSize(), model.device());
            System.arraycopy(x, 0, out, r0 * image, x.length);
        }
        return out;
    }

    /** Full steps record every branch; cache steps apply their mask. */
    private static StepModel stepModels(Dit model, boolean[][] masks, Skipped skipped) {
        if (masks == null) return position -> model::forward;
        LayerCache cache = new LayerCache(model.config.subLayers());
        return position -> {
            boolean cacheStep = position % 2 == 1 && position / 2 < masks.length;
            SubLayerPolicy p = !cacheStep ? cache.recordAll()
                    : skipped == Skipped.REUSE ? cache.reuse(masks[position / 2]) : cache.drop(masks[position / 2]);
            return (x, t, y) -> model.forward(x, t, y, p);
        };
    }

    /** The noise model to use at sampling position i (0 = the noisiest step). */
    @FunctionalInterface
    interface StepModel {
        NoiseModel at(int position);
    }

    /**
     * Samples images firstRow, firstRow + 1, ... of the seed's noise stream. The noise is drawn on the host (the same
     * bits on every device); each step uploads x to {@code device}, where the models compute, and reads it back.
     */
    float[] sample(StepModel models, int[] labels, int nullLabel, float cfg, long seed, long firstRow, int channels, int size, Device device) {
        int n = labels.length;
        float[] x = Ops.randn(seed, firstRow * channels * size * size, n, channels, size, size).toFloatArray();
        Workspace ws = new Workspace();
        try (var ignored = Tape.noGrad()) {
            for (int i = 0; i < timesteps.length; i++) {
                int t = timesteps[i], prev = i + 1 < timesteps.length ? timesteps[i + 1] : -1;
                try (Workspace w = ws.open()) {
                    Tensor xt = Ops.to(Tensor.of(x, n, channels, size, size), device);
                    Tensor eps = guidedEps(models.at(i), xt, t, labels, nullLabel, cfg);
                    x = diffusion.ddimStep(xt, eps, t, prev).toFloatArray();
                }
            }
        }
        return x;
    }
}
