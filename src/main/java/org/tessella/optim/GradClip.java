package org.tessella.optim;

import org.tessella.backend.Backends;
import org.tessella.nn.Parameter;
import org.tessella.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/** Global-norm gradient clipping, as torch.nn.utils.clip_grad_norm_. */
public final class GradClip {
    private GradClip() {}

    /**
     * The global L2 norm of all gradients (double accumulation, fixed order). Gradients on one device are summed in one
     * backend call, so a GPU waits once per step rather than once per parameter.
     */
    public static double globalNorm(List<Parameter> params) {
        List<Tensor> grads = gradients(params);
        if (grads.isEmpty()) return 0;
        boolean oneDevice = grads.stream().allMatch(g -> g.device().equals(grads.get(0).device()));
        double sq = 0;
        if (oneDevice) sq = Backends.of(grads.get(0).device()).sumOfSquares(grads);
        else for (Tensor g : grads) sq += Backends.of(g.device()).sumOfSquares(g);
        return Math.sqrt(sq);
    }

    /** Scales all gradients so their global norm is at most {@code maxNorm}; returns the norm before clipping. */
    public static double clip(List<Parameter> params, double maxNorm) {
        double norm = globalNorm(params);
        if (norm > maxNorm) {
            float scale = (float) (maxNorm / (norm + 1e-6));
            List<Tensor> grads = gradients(params);
            boolean oneDevice = grads.stream().allMatch(g -> g.device().equals(grads.get(0).device()));
            if (oneDevice) Backends.of(grads.get(0).device()).scale(grads, scale);
            else for (Tensor g : grads) Backends.of(g.device()).affine(g, scale, 0f, g);
        }
        return norm;
    }

    /** The gradients that exist, in parameter order. */
    private static List<Tensor> gradients(List<Parameter> params) {
        List<Tensor> grads = new ArrayList<>(params.size());
        for (Parameter p : params) if (p.tensor().grad() != null) grads.add(p.tensor().grad());
        return grads;
    }
}
