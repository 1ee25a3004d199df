package org.tessella.nn;

import org.tessella.autograd.Functional;
import org.tessella.tensor.Tensor;

/**
 * Inverted dropout, active only in training mode. Its masks come from (seed, counter): the counter advances by one
 * block per call, and {@link #counter()} / {@link #setCounter} let a checkpoint resume the same stream.
 */
public final class Dropout extends Module {
    public final float p;
    private final long seed;
    private long counter;

    public Dropout(float p, long seed) {
        if (p < 0f || p >= 1f) throw new IllegalArgumentException("Dropout: p must be in [0, 1), got " + p);
        this.p = p;
        this.seed = seed;
    }

    public Tensor forward(Tensor x) {
        if (!training() || p == 0f) return x;
        long offset = (counter++) << 32;
        return Functional.dropout(x, p, true, seed, offset);
    }

    public long counter() { return counter; }

    public void setCounter(long c) { counter = c; }
}
