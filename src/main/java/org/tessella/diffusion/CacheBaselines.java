package org.tessella.diffusion;

import org.tessella.autograd.Ops;
import org.tessella.tensor.Philox;
import org.tessella.tensor.Tensor;

/**
 * The hand-made caching schedules that Learning-to-Cache is compared with at the same number of skipped cache-step
 * sub-layers (papers/l2c.md, "what our version must measure", 4), and the measured per-step change that the greedy
 * one ranks by. Each is a mask written as router logits of +-5 (the routers' clamp), so it gives the same mask at every
 * theta in (0.007, 0.993). The count is spread over the cache steps as evenly as it goes, the earlier (noisier) steps
 * taking the remainder, since the late steps are where consecutive outputs differ most.
 */
public final class CacheBaselines {
    private CacheBaselines() {}

    private static final float KEEP = 5f, SKIP = -5f;

    /** A schedule that computes exactly where {@code compute[cacheStep][subLayer]} is true. */
    public static CacheSchedule ofMask(int steps, int depth, boolean[][] compute) {
        float[][] logits = new float[compute.length][];
        for (int i = 0; i < compute.length; i++) {
            logits[i] = new float[compute[i].length];
            for (int j = 0; j < compute[i].length; j++) logits[i][j] = compute[i][j] ? KEEP : SKIP;
        }
        return new CacheSchedule(steps, depth, logits);
    }

    private static boolean[][] allComputed(int steps, int depth, int count) {
        int total = steps / 2 * 2 * depth;
        if (count < 0 || count > total)
            throw new IllegalArgumentException("cache baselines: cannot skip " + count + " of " + total + " cache-step sub-layers");
        boolean[][] compute = new boolean[steps / 2][2 * depth];
        for (boolean[] row : compute) java.util.Arrays.fill(row, true);
        return compute;
    }

    /** Sub-layers skipped at cache step i when {@code count} are spread evenly (earlier steps take the remainder). */
    private static int share(int count, int cacheSteps, int i) { return count / cacheSteps + (i < count % cacheSteps ? 1 : 0); }

    /** Caches the deepest sub-layers of every cache step (the last block's MLP first). */
    public static CacheSchedule top(int steps, int depth, int count) {
        boolean[][] c = allComputed(steps, depth, count);
        for (int i = 0; i < c.length; i++)
            for (int k = 0; k < share(count, c.length, i); k++) c[i][2 * depth - 1 - k] = false;
        return ofMask(steps, depth, c);
    }

    /** Caches the shallowest sub-layers of every cache step (the first block's attention first). */
    public static CacheSchedule bottom(int steps, int depth, int count) {
        boolean[][] c = allComputed(steps, depth, count);
        for (int i = 0; i < c.length; i++)
            for (int k = 0; k < share(count, c.length, i); k++) c[i][k] = false;
        return ofMask(steps, depth, c);
    }

    /** Caches {@code count} (cache step, sub-layer) pairs drawn uniformly without replacement. */
    public static CacheSchedule random(int steps, int depth, int count, long seed) {
        boolean[][] c = allComputed(steps, depth, count);
        int width = 2 * depth, total = c.length * width;
        int[] order = new int[total];
        for (int k = 0; k < total; k++) order[k] = k;
        for (int k = 0; k < count; k++) { // partial Fisher-Yates: order[0..count) is a uniform sample
            int pick = k + Philox.below(seed, k, total - k);
            int tmp = order[k];
            order[k] = order[pick];
            order[pick] = tmp;
            c[order[k] / width][order[k] % width] = false;
        }
        return ofMask(steps, depth, c);
    }

    /** Caches the {@code count} pairs with the smallest {@code change} (ties: the earlier step, then the lower sub-layer). */
    public static CacheSchedule greedy(double[][] change, int steps, int depth, int count) {
        boolean[][] c = allComputed(steps, depth, count);
        int width = 2 * depth;
        if (change.length != c.length) throw new IllegalArgumentException("cache baselines: change has " + change.length + " rows for " + c.length + " cache steps");
        Integer[] order = new Integer[c.length * width];
        for (int k = 0; k < order.length; k++) order[k] = k;
        java.util.Arrays.sort(order, (a, b) -> {
            int byChange = Double.compare(change[a / width][a % width], change[b / width][b % width]);
            return byChange != 0 ? byChange : Integer.compare(a, b);
        });
        for (int k = 0; k < count; k++) c[order[k] / width][order[k] % width] = false;
        return ofMask(steps, depth, c);
    }

    /**
     * What caching each sub-layer would change, measured on full-model DDIM sampling of {@code labels}: at cache step
     * i (sampling position 2i + 1) and sub-layer j, the root mean square over images, tokens and channels of
     * {@code gate_j * (f_j - f_j(previous full step))}, i.e. the first-order perturbation of the residual stream that
     * reusing the cached branch would add. [steps / 2][2 depth]. Nothing is skipped while measuring.
     */
    public static double[][] change(Dit model, int steps, int[] labels, float cfg, long seed) {
        DdimSampler sampler = new DdimSampler(steps);
        int width = model.config.subLayers(), pairs = steps / 2;
        double[][] sum = new double[pairs][width];
        long[] count = new long[pairs];
        LayerCache cache = new LayerCache(width);
        SubLayerPolicy record = cache.recordAll();
        sampler.sample(position -> {
            boolean cacheStep = position % 2 == 1 && position / 2 < pairs;
            if (!cacheStep) return (x, t, y) -> model.forward(x, t, y, record);
            int i = position / 2;
            return (x, t, y) -> {
                Tensor c = model.conditioning(t, y);
                DitBlock.Modulation[] mods = new DitBlock.Modulation[model.blocks.length];
                for (int b = 0; b < mods.length; b++) mods[b] = model.blocks[b].modulate(c);
                Tensor eps = model.forward(x, t, y, (j, f) -> {
                    Tensor now = f.get();
                    Tensor gate = j % 2 == 0 ? mods[j / 2].gate1() : mods[j / 2].gate2();
                    float[] d = Ops.mul(gate, Ops.sub(now, cache.saved(j))).toFloatArray();
                    double s = 0;
                    for (float v : d) s += (double) v * v;
                    sum[i][j] += s;
                    if (j == 0) count[i] += d.length;
                    return now;
                });
                return eps;
            };
        }, labels, model.nullClass(), cfg, seed, 0, model.config.channels(), model.config.imageSize(), model.device());
        for (int i = 0; i < pairs; i++)
            for (int j = 0; j < width; j++) sum[i][j] = Math.sqrt(sum[i][j] / Math.max(1, count[i]));
        return sum;
    }
}
