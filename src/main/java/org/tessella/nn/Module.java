package org.tessella.nn;

import org.tessella.backend.Backends;
import org.tessella.tensor.Shape;
import org.tessella.tensor.ShapeException;
import org.tessella.tensor.Tensor;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * A layer or model: named parameters and named child modules, addressed in PyTorch {@code state_dict} style
 * ({@code "blocks.0.attention.wqkv.weight"}), plus a training flag. Subclasses register what they own in their
 * constructor and define their own {@code forward}.
 */
public abstract class Module {
    private final LinkedHashMap<String, Tensor> params = new LinkedHashMap<>();
    private final LinkedHashMap<String, Boolean> decay = new LinkedHashMap<>();
    private final LinkedHashMap<String, Module> children = new LinkedHashMap<>();
    private boolean training = true;

    /** Registers a trainable tensor (made persistent and gradient-requiring). */
    protected Tensor parameter(String name, Tensor t, boolean weightDecay) {
        if (params.containsKey(name) || children.containsKey(name))
            throw new IllegalArgumentException("module " + getClass().getSimpleName() + ": name '" + name + "' registered twice");
        t.requiresGrad(true);
        params.put(name, t);
        decay.put(name, weightDecay);
        return t;
    }

    protected <M extends Module> M child(String name, M module) {
        if (params.containsKey(name) || children.containsKey(name))
            throw new IllegalArgumentException("module " + getClass().getSimpleName() + ": name '" + name + "' registered twice");
        children.put(name, module);
        return module;
    }

    /** All parameters, depth first, in registration order, with dotted names. */
    public List<Parameter> parameters() {
        List<Parameter> out = new ArrayList<>();
        collect("", out);
        return out;
    }

    private void collect(String prefix, List<Parameter> out) {
        for (var e : params.entrySet()) out.add(new Parameter(prefix + e.getKey(), e.getValue(), decay.get(e.getKey())));
        for (var e : children.entrySet()) e.getValue().collect(prefix + e.getKey() + ".", out);
    }

    /** Name to tensor, PyTorch style; the tensors are the live parameters (not copies). */
    public Map<String, Tensor> stateDict() {
        LinkedHashMap<String, Tensor> m = new LinkedHashMap<>();
        for (Parameter p : parameters()) m.put(p.name(), p.tensor());
        return m;
    }

    public long parameterCount() {
        long n = 0;
        for (Parameter p : parameters()) n += p.tensor().numel();
        return n;
    }

    /**
     * Copies values into the parameters. Strict: every parameter must be present and no other key (except those
     * starting with one of {@code ignoredPrefixes}) may be; shapes must match exactly. Errors name the keys.
     */
    public void loadStateDict(Map<String, Tensor> state, String... ignoredPrefixes) {
        Map<String, Tensor> own = stateDict();
        Set<String> missing = new TreeSet<>(own.keySet());
        missing.removeAll(state.keySet());
        Set<String> unexpected = new TreeSet<>();
        outer:
        for (String k : state.keySet()) {
            if (own.containsKey(k)) continue;
            for (String p : ignoredPrefixes) if (k.startsWith(p)) continue outer;
            unexpected.add(k);
        }
        if (!missing.isEmpty() || !unexpected.isEmpty())
            throw new IllegalArgumentException(getClass().getSimpleName() + ": state does not match the model"
                    + (missing.isEmpty() ? "" : "; missing " + missing) + (unexpected.isEmpty() ? "" : "; unexpected " + unexpected));
        for (var e : own.entrySet()) {
            Tensor src = state.get(e.getKey()), dst = e.getValue();
            if (!java.util.Arrays.equals(src.shape(), dst.shape()))
                throw new ShapeException(getClass().getSimpleName() + ": parameter " + e.getKey() + " has shape "
                        + Shape.str(dst.shape()) + " but the state holds " + Shape.str(src.shape()));
            Backends.of(dst.device()).copy(src, dst);
        }
    }

    public boolean training() { return training; }

    /** Sets training mode here and in every child (dropout and similar layers read it). */
    public Module train(boolean on) {
        training = on;
        for (Module m : children.values()) m.train(on);
        return this;
    }

    public Module eval() { return train(false); }

    /** Clears every parameter's gradient buffer to zero (kept allocated). */
    public void zeroGrad() {
        for (Parameter p : parameters()) {
            Tensor g = p.tensor().grad();
            if (g != null) Backends.of(g.device()).fill(g, 0f);
        }
    }
}
