package org.tessella.nn;

import org.tessella.autograd.Functional;
import org.tessella.tensor.Tensor;

/** A lookup table of {@code count} vectors of width {@code dim}, initialised N(0, 1) as in PyTorch. */
public final class Embedding extends Module {
    public final Tensor weight;

    public Embedding(int count, int dim, Init init) {
        this(count, dim, init, 1f);
    }

    /** With a given init standard deviation (LlamaGen uses 0.02). */
    public Embedding(int count, int dim, Init init, float std) {
        this.weight = parameter("weight", init.normal(0f, std, count, dim), false);
    }

    /** indices: I32 of any shape; output adds a last axis of width dim. */
    public Tensor forward(Tensor indices) { return Functional.embedding(weight, indices); }
}
