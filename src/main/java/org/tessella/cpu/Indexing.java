package org.tessella.cpu;

import org.tessella.tensor.Tensor;

/** Embedding lookup, gather and their scatter-add backward passes (placeholder until written). */
final class Indexing {
    private Indexing() {}

    static void embedding(Tensor table, Tensor idx, Tensor out) { throw new UnsupportedOperationException("Indexing not written yet"); }
    static void embeddingBackward(Tensor g, Tensor idx, Tensor gTable) { throw new UnsupportedOperationException("Indexing not written yet"); }
    static void gather(Tensor x, int axis, Tensor idx, Tensor out) { throw new UnsupportedOperationException("Indexing not written yet"); }
    static void scatterAdd(Tensor g, int axis, Tensor idx, Tensor gx) { throw new UnsupportedOperationException("Indexing not written yet"); }
}
