package org.tessella.optim;

import org.tessella.autograd.Ops;
import org.tessella.backend.Backend;
import org.tessella.backend.Backends;
import org.tessella.nn.Module;
import org.tessella.nn.Parameter;
import org.tessella.tensor.DType;
import org.tessella.tensor.Device;
import org.tessella.tensor.Shape;
import org.tessella.tensor.ShapeException;
import org.tessella.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * AdamW with PyTorch's semantics: bias-corrected moments and decoupled weight decay ({@code p -= lr * wd * p}),
 * applied only to parameters whose {@link Parameter#decay()} is set (two parameter groups: decayed matrices and
 * kernels; undecayed biases, norms and embeddings). One fused backend kernel per parameter.
 *
 * <p>The moments live on each parameter's device, made there when the optimizer is built ({@link #to} moves them
 * later).
 *
 * <p>Gradient accumulation: call backward on k micro-batches, each loss scaled by 1/k, then {@link #step} once;
 * gradients add up in the parameters' buffers until {@link #zeroGrad}.
 */
public final class AdamW {
    private final List<Parameter> params;
    private final Tensor[] m, v;
    private float lr;
    private final float beta1, beta2, eps, weightDecay;
    private long step;

    public AdamW(List<Parameter> params, float lr, float beta1, float beta2, float eps, float weightDecay) {
        this.params = List.copyOf(params);
        this.lr = lr;
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
        this.m = new Tensor[params.size()];
        this.v = new Tensor[params.size()];
        for (int i = 0; i < params.size(); i++) {
            Tensor p = params.get(i).tensor();
            Backend be = Backends.of(p.device());
            m[i] = be.persistent(DType.F32, p.shape());
            v[i] = be.persistent(DType.F32, p.shape());
        }
    }

    /**
     * Moves the moments to {@code device} in place (after {@code Module.to} moved the parameters, for an optimizer
     * built before that). Returns this optimizer.
     */
    public AdamW to(Device device) {
        for (int i = 0; i < m.length; i++) {
            Module.moveTo(m[i], device);
            Module.moveTo(v[i], device);
        }
        return this;
    }

    /** PyTorch's defaults: betas (0.9, 0.999), eps 1e-8. */
    public AdamW(List<Parameter> params, float lr, float weightDecay) {
        this(params, lr, 0.9f, 0.999f, 1e-8f, weightDecay);
    }

    public void setLearningRate(float lr) { this.lr = lr; }

    public float learningRate() { return lr; }

    public long stepCount() { return step; }

    /** One update of every parameter that has a gradient. */
    public void step() {
        step++;
        float c1 = (float) (1 - Math.pow(beta1, step)), c2 = (float) (1 - Math.pow(beta2, step));
        // one backend call for all tensors with a gradient (the CPU runs them in one parallel pass); parameters
        // spread over devices are updated one by one
        List<Tensor> ps = new ArrayList<>(params.size()), gs = new ArrayList<>(params.size()),
                ms = new ArrayList<>(params.size()), vs = new ArrayList<>(params.size());
        float[] decay = new float[params.size()];
        boolean oneDevice = true;
        for (int i = 0; i < params.size(); i++) {
            Parameter p = params.get(i);
            Tensor g = p.tensor().grad();
            if (g == null) continue;
            if (!gs.isEmpty() && !g.device().equals(gs.get(0).device())) oneDevice = false;
            decay[ps.size()] = p.decay() ? weightDecay : 0f;
            ps.add(p.tensor());
            gs.add(g);
            ms.add(m[i]);
            vs.add(v[i]);
        }
        if (gs.isEmpty()) return;
        if (oneDevice) {
            Backends.of(gs.get(0).device()).adamw(ps, gs, ms, vs, lr, beta1, beta2, eps, Arrays.copyOf(decay, ps.size()), c1, c2);
            return;
        }
        for (int i = 0; i < ps.size(); i++)
            Backends.of(gs.get(i).device()).adamw(ps.get(i), gs.get(i), ms.get(i), vs.get(i), lr, beta1, beta2, eps,
                    decay[i], c1, c2);
    }

    /** Zeroes every parameter's gradient buffer (kept allocated, so steady-state steps allocate nothing). */
    public void zeroGrad() {
        for (Parameter p : params) {
            Tensor g = p.tensor().grad();
            if (g != null) Backends.of(g.device()).fill(g, 0f);
        }
    }

    /** Moments as tensors named {@code optim.exp_avg.<param>} and {@code optim.exp_avg_sq.<param>} (live, not copies). */
    public Map<String, Tensor> stateDict() {
        LinkedHashMap<String, Tensor> s = new LinkedHashMap<>();
        for (int i = 0; i < params.size(); i++) {
            s.put("optim.exp_avg." + params.get(i).name(), m[i]);
            s.put("optim.exp_avg_sq." + params.get(i).name(), v[i]);
        }
        return s;
    }

    /** Restores moments saved by {@link #stateDict} and the step count. */
    public void loadStateDict(Map<String, Tensor> state, long stepCount) {
        for (int i = 0; i < params.size(); i++) {
            String name = params.get(i).name();
            load(state, "optim.exp_avg." + name, m[i]);
            load(state, "optim.exp_avg_sq." + name, v[i]);
        }
        this.step = stepCount;
    }

    private static void load(Map<String, Tensor> state, String key, Tensor dst) {
        Tensor src = state.get(key);
        if (src == null) throw new IllegalArgumentException("optimizer state lacks " + key + "; the checkpoint was saved by another model or without its optimizer");
        if (!java.util.Arrays.equals(src.shape(), dst.shape()))
            throw new ShapeException("optimizer state " + key + " has shape " + Shape.str(src.shape()) + ", expected " + Shape.str(dst.shape()));
        Ops.copyInto(src, dst);
    }
}
