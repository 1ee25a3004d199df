package org.tessella.nn;

import org.tessella.backend.Backend;
import org.tessella.backend.Backends;
import org.tessella.tensor.DType;
import org.tessella.tensor.Device;
import org.tessella.tensor.Tensor;

/**
 * Parameter initialisers with PyTorch's default distributions, drawn from a counter-based stream: each call takes the
 * next disjoint range of counters, so a model built in the same order from the same seed gets the same bits.
 */
public final class Init {
    private final long seed;
    private long counter;
    private final Device device;

    public Init(long seed) { this(seed, Device.CPU); }

    public Init(long seed, Device device) {
        this.seed = seed;
        this.device = device;
    }

    private Backend be() { return Backends.of(device); }

    private long take(int n) {
        long at = counter;
        counter += n;
        return at;
    }

    /** U(lo, hi). */
    public Tensor uniform(float lo, float hi, int... shape) {
        Tensor t = be().persistent(DType.F32, shape);
        be().randomUniform(t, seed, take(t.numel()));
        be().affine(t, hi - lo, lo, t);
        return t;
    }

    /** N(mean, std^2). */
    public Tensor normal(float mean, float std, int... shape) {
        Tensor t = be().persistent(DType.F32, shape);
        be().randomNormal(t, seed, take(t.numel()), mean, std);
        return t;
    }

    public Tensor constant(float value, int... shape) {
        Tensor t = be().persistent(DType.F32, shape);
        if (value != 0f) be().fill(t, value);
        return t;
    }

    /** PyTorch's Linear/Conv default (kaiming_uniform with a = sqrt(5)): U(-1/sqrt(fanIn), 1/sqrt(fanIn)). */
    public Tensor fanInUniform(int fanIn, int... shape) {
        float bound = (float) (1.0 / Math.sqrt(fanIn));
        return uniform(-bound, bound, shape);
    }

    public Device device() { return device; }
}
