package org.tessella.diffusion;

import org.tessella.autograd.Ops;
import org.tessella.backend.Backends;
import org.tessella.tensor.DType;
import org.tessella.tensor.Tensor;

/**
 * Learning-to-Cache's cache: each sub-layer's branch output (before its gate) from the last full step, kept per batch
 * row (with guidance, the conditional and null halves are separate rows) in persistent tensors that outlive the step's
 * workspace. Policies that read it: record everything (a full step), reuse where a schedule says so (a cache step),
 * L2C's training mix {@code w f + (1 - w) cached}, and the dropping baseline (a skipped branch adds nothing).
 */
public final class LayerCache {
    private final Tensor[] saved;

    public LayerCache(int subLayers) { saved = new Tensor[subLayers]; }

    /** The cached branch of sub-layer j (after a recording pass). */
    public Tensor saved(int j) {
        if (saved[j] == null) throw new IllegalStateException("layer cache: sub-layer " + j + " has not been recorded yet");
        return saved[j];
    }

    private void keep(int j, Tensor y) {
        if (saved[j] == null || !java.util.Arrays.equals(saved[j].shape(), y.shape()))
            saved[j] = Backends.of(y.device()).persistent(DType.F32, y.shape());
        Backends.of(y.device()).copy(y, saved[j]);
    }

    /** Computes every branch and keeps a copy of each. */
    public SubLayerPolicy recordAll() {
        return (j, compute) -> {
            Tensor y = compute.get();
            keep(j, y);
            return y;
        };
    }

    /** Computes the branches with {@code compute[j]}, reuses the cached ones elsewhere (their work is skipped). */
    public SubLayerPolicy reuse(boolean[] compute) {
        if (compute.length != saved.length)
            throw new IllegalArgumentException("layer cache: a mask of " + compute.length + " sub-layers for a DiT of " + saved.length);
        return (j, f) -> compute[j] ? f.get() : saved(j);
    }

    /**
     * The dropping baseline: computes the branches with {@code compute[j]} and replaces the others by zero, so a
     * skipped sub-layer adds nothing to the residual stream (what "dropping instead of caching" means in L2C's
     * comparison). The cache only supplies the branch's shape.
     */
    public SubLayerPolicy drop(boolean[] compute) {
        if (compute.length != saved.length)
            throw new IllegalArgumentException("layer cache: a mask of " + compute.length + " sub-layers for a DiT of " + saved.length);
        return (j, f) -> compute[j] ? f.get() : Ops.zerosLike(saved(j));
    }

    /** {@code w_j f_j + (1 - w_j) cached_j} with weights [subLayers] (differentiable in w). */
    public SubLayerPolicy interpolate(Tensor weights) {
        if (weights.numel() != saved.length)
            throw new IllegalArgumentException("layer cache: " + weights.numel() + " router weights for " + saved.length + " sub-layers");
        return (j, f) -> {
            Tensor w = Ops.slice(Ops.reshape(weights, saved.length), 0, j, j + 1);
            return Ops.add(Ops.mul(f.get(), w), Ops.mul(saved(j), Ops.addScalar(Ops.neg(w), 1f)));
        };
    }
}
