package org.tessella.diffusion;

import org.tessella.autograd.Functional;
import org.tessella.autograd.Ops;
import org.tessella.nn.Init;
import org.tessella.nn.Linear;
import org.tessella.nn.Module;
import org.tessella.tensor.Tensor;

/**
 * One adaLN-Zero DiT block. {@code adaLN_modulation} (Linear D -> 6D on SiLU(c), zero-initialised) gives shift, scale
 * and gate for each sub-layer; {@code x += gate1 * attention(x)}, {@code x += gate2 * mlp(x)}, where each branch is
 * {@code f(LN(x) * (1 + scale) + shift)} with LayerNorm without affine (eps 1e-6), bidirectional attention with biases
 * ({@code attn.qkv}, {@code attn.proj}) and a tanh-GELU MLP ({@code mlp.fc1}, {@code mlp.fc2}). The branches are
 * exposed apart from the gated residual add because Learning-to-Cache caches exactly them.
 */
public final class DitBlock extends Module {
    public static final float LN_EPS = 1e-6f;

    public final int width, heads;
    public final Linear modulation, qkv, proj, fc1, fc2;

    /** Shift, scale and gate of both sub-layers, each [B, 1, D] (broadcast over tokens). */
    public record Modulation(Tensor shift1, Tensor scale1, Tensor gate1, Tensor shift2, Tensor scale2, Tensor gate2) {}

    public DitBlock(int width, int heads, int mlpRatio, Init init) {
        this.width = width;
        this.heads = heads;
        modulation = child("adaLN_modulation", new Linear(width, 6 * width, true, init));
        qkv = child("attn.qkv", new Linear(width, 3 * width, true, init));
        proj = child("attn.proj", new Linear(width, width, true, init));
        fc1 = child("mlp.fc1", new Linear(width, mlpRatio * width, true, init));
        fc2 = child("mlp.fc2", new Linear(mlpRatio * width, width, true, init));
        Dit.zero(modulation.weight);
        Dit.zero(modulation.bias);
    }

    /** The six modulation vectors from SiLU(c) [B, D]. */
    public Modulation modulate(Tensor siluC) {
        int b = siluC.shape(0), d = width;
        Tensor m = Ops.reshape(modulation.forward(siluC), b, 1, 6 * d);
        return new Modulation(Ops.slice(m, 2, 0, d), Ops.slice(m, 2, d, 2 * d), Ops.slice(m, 2, 2 * d, 3 * d),
                Ops.slice(m, 2, 3 * d, 4 * d), Ops.slice(m, 2, 4 * d, 5 * d), Ops.slice(m, 2, 5 * d, 6 * d));
    }

    static Tensor modulateNorm(Tensor x, Tensor shift, Tensor scale) {
        return Ops.add(Ops.mul(Functional.layerNorm(x, null, null, LN_EPS), Ops.addScalar(scale, 1f)), shift);
    }

    /** The attention branch before its gate, for x [B, T, D]. */
    public Tensor attentionBranch(Tensor x, Modulation m) {
        int b = x.shape(0), t = x.shape(1), hd = width / heads;
        Tensor h = qkv.forward(modulateNorm(x, m.shift1(), m.scale1()));
        Tensor q = Ops.permute(Ops.reshape(Ops.slice(h, 2, 0, width), b, t, heads, hd), 0, 2, 1, 3);
        Tensor k = Ops.permute(Ops.reshape(Ops.slice(h, 2, width, 2 * width), b, t, heads, hd), 0, 2, 1, 3);
        Tensor v = Ops.permute(Ops.reshape(Ops.slice(h, 2, 2 * width, 3 * width), b, t, heads, hd), 0, 2, 1, 3);
        Tensor o = Functional.attention(q, k, v, false);
        return proj.forward(Ops.reshape(Ops.permute(o, 0, 2, 1, 3), b, t, width));
    }

    /** The MLP branch before its gate. */
    public Tensor mlpBranch(Tensor x, Modulation m) {
        return fc2.forward(Ops.geluTanh(fc1.forward(modulateNorm(x, m.shift2(), m.scale2()))));
    }

    /** x + gate1 * attention, then + gate2 * mlp. */
    public Tensor forward(Tensor x, Modulation m) {
        x = Ops.add(x, Ops.mul(m.gate1(), attentionBranch(x, m)));
        return Ops.add(x, Ops.mul(m.gate2(), mlpBranch(x, m)));
    }

    /**
     * The same with each branch chosen by {@code policy} (sub-layers {@code 2 index} and {@code 2 index + 1}): the
     * gates and the residual adds are always done, only the branch may come from elsewhere.
     */
    public Tensor forward(Tensor x, Modulation m, int index, SubLayerPolicy policy) {
        Tensor xa = x;
        x = Ops.add(x, Ops.mul(m.gate1(), policy.branch(2 * index, () -> attentionBranch(xa, m))));
        Tensor xm = x;
        return Ops.add(x, Ops.mul(m.gate2(), policy.branch(2 * index + 1, () -> mlpBranch(xm, m))));
    }
}
