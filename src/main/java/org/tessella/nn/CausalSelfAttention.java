package org.tessella.nn;

import org.tessella.autograd.Functional;
import org.tessella.autograd.Ops;
import org.tessella.tensor.ShapeException;
import org.tessella.tensor.Tensor;

/**
 * LlamaGen-style multi-head self-attention without biases: one fused q/k/v projection ({@code wqkv}, rows q then k
 * then v), rotary embeddings on q and k, fused causal attention ({@link Functional#qkvAttention}: read straight from
 * the projection where the backend fuses it), output projection {@code wo}.
 */
public final class CausalSelfAttention extends Module {
    public final Linear wqkv, wo;
    public final int dim, heads, headDim;

    public CausalSelfAttention(int dim, int heads, Init init) {
        if (dim % heads != 0) throw new IllegalArgumentException("attention: " + heads + " heads do not divide width " + dim);
        this.dim = dim;
        this.heads = heads;
        this.headDim = dim / heads;
        wqkv = child("wqkv", new Linear(dim, 3 * dim, false, init));
        wo = child("wo", new Linear(dim, dim, false, init));
    }

    /** x [B, T, D]; cos, sin [T, headDim/2] from {@link Functional#ropeTables}. */
    public Tensor forward(Tensor x, Tensor cos, Tensor sin, boolean causal) {
        if (x.rank() != 3 || x.shape(2) != dim)
            throw new ShapeException("attention: input " + org.tessella.tensor.Shape.str(x.shape()) + " is not [B, T, " + dim + "]");
        int b = x.shape(0), t = x.shape(1);
        Tensor qkv = Ops.reshape(wqkv.forward(x), b, t, 3, heads, headDim); // a view
        return wo.forward(Ops.reshape(Functional.qkvAttention(qkv, cos, sin, causal), b, t, dim));
    }

    /**
     * Incremental decoding: x [B, T, D] holds positions {@code start .. start+T-1}; their keys and values are written
     * into the caches [B, heads, maxLen, headDim] and the queries attend causally to everything cached so far.
     * cos, sin are the rows of the RoPE tables for those positions. Run under no-grad.
     */
    public Tensor forwardCached(Tensor x, Tensor cos, Tensor sin, Tensor cacheK, Tensor cacheV, int start) {
        int b = x.shape(0), t = x.shape(1);
        if (start + t > cacheK.shape(2))
            throw new IllegalArgumentException("attention: KV cache of " + cacheK.shape(2) + " positions is full (" + (start + t) + " needed)");
        Tensor qkv = wqkv.forward(x);
        Tensor q = Functional.rope(Ops.reshape(Ops.slice(qkv, 2, 0, dim), b, t, heads, headDim), cos, sin);
        Tensor k = Functional.rope(Ops.reshape(Ops.slice(qkv, 2, dim, 2 * dim), b, t, heads, headDim), cos, sin);
        Tensor v = Ops.reshape(Ops.slice(qkv, 2, 2 * dim, 3 * dim), b, t, heads, headDim);
        var be = org.tessella.backend.Backends.of(x.device());
        be.copy(k.permute(0, 2, 1, 3), cacheK.slice(2, start, start + t));
        be.copy(v.permute(0, 2, 1, 3), cacheV.slice(2, start, start + t));
        Tensor o = Functional.attention(Ops.permute(q, 0, 2, 1, 3), cacheK.slice(2, 0, start + t),
                cacheV.slice(2, 0, start + t), true);
        return wo.forward(Ops.reshape(Ops.permute(o, 0, 2, 1, 3), b, t, dim));
    }
}
