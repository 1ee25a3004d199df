package org.tessella.nn;

import org.tessella.autograd.Ops;
import org.tessella.tensor.Tensor;

/**
 * A LlamaGen pre-norm block: {@code h = x + attention(attention_norm(x))},
 * {@code out = h + feed_forward(ffn_norm(h))}, RMSNorm, causal attention with RoPE, SwiGLU, no biases. Parameter names
 * follow LlamaGen's state_dict ({@code attention.wqkv.weight}, {@code feed_forward.w1.weight}, ...).
 */
public final class TransformerBlock extends Module {
    public final RMSNorm attentionNorm, ffnNorm;
    public final CausalSelfAttention attention;
    public final SwiGLU feedForward;

    public TransformerBlock(int dim, int heads, int hidden, float normEps, Init init) {
        attentionNorm = child("attention_norm", new RMSNorm(dim, normEps, init));
        attention = child("attention", new CausalSelfAttention(dim, heads, init));
        ffnNorm = child("ffn_norm", new RMSNorm(dim, normEps, init));
        feedForward = child("feed_forward", new SwiGLU(dim, hidden, init));
    }

    public Tensor forward(Tensor x, Tensor cos, Tensor sin) {
        Tensor h = Ops.add(x, attention.forward(attentionNorm.forward(x), cos, sin, true));
        return Ops.add(h, feedForward.forward(ffnNorm.forward(h)));
    }

    /** The same block for positions {@code start ..} with a KV cache (see {@link CausalSelfAttention#forwardCached}). */
    public Tensor forwardCached(Tensor x, Tensor cos, Tensor sin, Tensor cacheK, Tensor cacheV, int start) {
        Tensor h = Ops.add(x, attention.forwardCached(attentionNorm.forward(x), cos, sin, cacheK, cacheV, start));
        return Ops.add(h, feedForward.forward(ffnNorm.forward(h)));
    }
}
