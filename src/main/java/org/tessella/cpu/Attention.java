package org.tessella.cpu;

import org.tessella.tensor.Tensor;

/** Fused scaled-dot-product attention and rotary embeddings (placeholder until written). */
final class Attention {
    private Attention() {}

    static void attention(Tensor q, Tensor k, Tensor v, boolean causal, float scale, Tensor out, Tensor lse) { throw new UnsupportedOperationException("Attention not written yet"); }
    static void attentionBackward(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, Tensor gOut, boolean causal, float scale, Tensor gq, Tensor gk, Tensor gv) { throw new UnsupportedOperationException("Attention not written yet"); }
    static void rope(Tensor x, Tensor cos, Tensor sin, boolean inverse, Tensor out) { throw new UnsupportedOperationException("Attention not written yet"); }
}
