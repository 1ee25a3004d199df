package org.tessella.nn;

import org.tessella.autograd.Ops;
import org.tessella.backend.Backends;
import org.tessella.tensor.Device;
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
 *
 * <p>Devices: a module is built on the CPU (so a seed gives the same weights everywhere) and moved as a whole with
 * {@link #to}, which moves its parameters and buffers in place. Its entry points take inputs on any device and bring
 * them to the module's with {@link #onDevice} (the identity when they are there already), so a host batch is uploaded
 * once per call and everything inside runs where the weights are.
 */
public abstract class Module {
    private final LinkedHashMap<String, Tensor> params = new LinkedHashMap<>();
    private final LinkedHashMap<String, Tensor> buffers = new LinkedHashMap<>();
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

    /**
     * Registers a tensor the module computes with but does not train or save (PyTorch's non-persistent buffer, e.g.
     * RoPE tables): it moves with the module in {@link #to}.
     */
    protected Tensor buffer(String name, Tensor t) {
        if (buffers.containsKey(name)) throw new IllegalArgumentException("module " + getClass().getSimpleName() + ": buffer '" + name + "' registered twice");
        buffers.put(name, t);
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
            Ops.copyInto(src, dst);
        }
    }

    /** Where the module's weights live: the device of its first parameter or buffer (the CPU when it has none). */
    public Device device() {
        Tensor t = firstTensor();
        return t == null ? Device.CPU : t.device();
    }

    private Tensor firstTensor() {
        if (!params.isEmpty()) return params.values().iterator().next();
        if (!buffers.isEmpty()) return buffers.values().iterator().next();
        for (Module m : children.values()) {
            Tensor t = m.firstTensor();
            if (t != null) return t;
        }
        return null;
    }

    /**
     * Moves every parameter (with its gradient buffer) and buffer of this module and its children to {@code device},
     * in place: layers keep their references, so the same model object then computes there. Build optimizers after
     * moving (or move theirs too, {@code AdamW.to}). Returns this module.
     */
    public Module to(Device device) {
        for (Tensor t : params.values()) {
            Tensor g = t.grad();
            moveTo(t, device);
            if (g != null && !g.device().equals(device)) t.setGrad(Ops.persistentCopy(g, device));
        }
        for (Tensor t : buffers.values()) moveTo(t, device);
        for (Module m : children.values()) m.to(device);
        return this;
    }

    /** Moves one tensor to device in place (it keeps its identity, so whoever holds it sees the move). */
    public static void moveTo(Tensor t, Device device) {
        if (!t.device().equals(device)) t.setData(Ops.persistentCopy(t, device));
    }

    /** x on this module's device: x itself when it is already there, else a copy (for one step inside a workspace). */
    protected Tensor onDevice(Tensor x) { return x == null ? null : Ops.to(x, device()); }

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
