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
        List<Tensor> grads = new ArrayList<>(params.size());
        boolean oneDevice = true;
        for (Parameter p : params) {
            Tensor g = p.tensor().grad();
            if (g == null) continue;
            if (!grads.isEmpty() && !g.device().equals(grads.get(0).device())) oneDevice = false;
            grads.add(g);
        }
        if (grads.isEmpty()) return 0;
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
            java.util.Map<org.tessella.tensor.Device, List<Tensor>> byDevice = new java.util.LinkedHashMap<>();
            for (Parameter p : params) {
                Tensor g = p.tensor().grad();
                if (g != null) byDevice.computeIfAbsent(g.device(), d -> new ArrayList<>()).add(g);
            }
            for (var e : byDevice.entrySet()) Backends.of(e.getKey()).scale(e.getValue(), scale);
        }
        return norm;
    }
}
