package org.tessella.autograd;

import org.tessella.backend.BinaryOp;
import org.tessella.backend.FlopCounter;
import org.tessella.tensor.DType;
import org.tessella.tensor.Shape;
import org.tessella.tensor.ShapeException;
import org.tessella.tensor.Tensor;

import static org.tessella.autograd.Ops.accumulate;
import static org.tessella.autograd.Ops.be;
import static org.tessella.autograd.Ops.contiguous;
import static org.tessella.autograd.Ops.empty;
import static org.tessella.autograd.Ops.requireFloat;

/**
 * Differentiable neural-network ops. The fused ones (softmax, cross-entropy, norms, convolution, attention, rotary
 * embedding) are backend primitives with their own backward rule; the rest (mse, l1, l2-normalise, dropout) are
 * composed from {@link Ops}, so their gradients come for free.
 */
public final class Functional {
    private Functional() {}

    // ---- softmax and losses --------------------------------------------------------------------------------------

    /** Softmax over the last axis. */
    public static Tensor softmax(Tensor x) {
        requireFloat("softmax", x);
        Tensor xc = contiguous(x);
        Tensor out = empty(x, x.shape());
        be(x).softmax(xc, out);
        if (!Tape.needsGrad(x)) return out;
        return Tape.record(out, g -> {
            Tensor gx = empty(x, x.shape());
            be(x).softmaxBackward(out, contiguous(g), gx);
            accumulate(xc, gx);
        });
    }

    /** Log-softmax over the last axis. */
    public static Tensor logSoftmax(Tensor x) {
        requireFloat("logSoftmax", x);
        Tensor xc = contiguous(x);
        Tensor out = empty(x, x.shape());
        be(x).logSoftmax(xc, out);
        if (!Tape.needsGrad(x)) return out;
        return Tape.record(out, g -> {
            Tensor gx = empty(x, x.shape());
            be(x).logSoftmaxBackward(out, contiguous(g), gx);
            accumulate(xc, gx);
        });
    }

    /**
     * Mean cross-entropy of logits [..., C] against I32 targets [...] (natural log), skipping targets equal to
     * {@code ignoreIndex}. Fused: the softmax gradient is computed in the forward pass and scaled in the backward.
     * When every target is ignored the loss is 0 with a zero gradient.
     */
    public static Tensor crossEntropy(Tensor logits, Tensor targets, int ignoreIndex) {
        requireFloat("crossEntropy", logits);
        int c = logits.shape(-1);
        int rows = logits.numel() / Math.max(1, c);
        if (targets.dtype() != DType.I32 || targets.numel() != rows)
            throw new ShapeException("crossEntropy: targets " + targets.dtype() + " " + Shape.str(targets.shape())
                    + " do not match logits " + Shape.str(logits.shape()) + " (want I32 with " + rows + " elements)");
        Tensor x = contiguous(logits).reshape(rows, c);
        Tensor t = Ops.contiguousInts(targets).reshape(rows);
        Tensor losses = empty(logits, rows);
        boolean grad = Tape.needsGrad(logits);
        Tensor dlogits = grad ? empty(logits, rows, c) : null;
        int count = be(logits).crossEntropy(x, t, ignoreIndex, losses, dlogits);
        float scale = count == 0 ? 0f : 1f / count;
        Tensor total;
        try (var ignored = Tape.noGrad()) {
            total = Ops.mulScalar(Ops.sum(losses), scale);
        }
        if (!grad) return total;
        Tensor src = logits;
        return Tape.record(total, g -> {
            Tensor gl = Ops.mul(dlogits, Ops.mulScalar(g, scale));
            accumulate(src, gl.reshape(src.shape()));
        });
    }

    public static Tensor crossEntropy(Tensor logits, Tensor targets) { return crossEntropy(logits, targets, -100); }

    /** Mean squared error. */
    public static Tensor mse(Tensor a, Tensor b) { return Ops.mean(Ops.square(Ops.sub(a, b))); }

    /** Mean absolute error. */
    public static Tensor l1(Tensor a, Tensor b) { return Ops.mean(Ops.abs(Ops.sub(a, b))); }

    // ---- normalisation -------------------------------------------------------------------------------------------

    private static void checkParam(String op, Tensor p, int size) {
        if (p != null && (p.rank() != 1 || p.shape(0) != size))
            throw new ShapeException(op + ": parameter " + Shape.str(p.shape()) + " does not match size " + size);
    }

    /** LayerNorm over the last axis; weight and bias [D] may be null (no affine). */
    public static Tensor layerNorm(Tensor x, Tensor weight, Tensor bias, float eps) {
        requireFloat("layerNorm", x);
        int d = x.shape(-1), r = x.numel() / Math.max(1, d);
        checkParam("layerNorm", weight, d);
        checkParam("layerNorm", bias, d);
        Tensor xc = contiguous(x);
        Tensor x2 = xc.reshape(r, d);
        Tensor y = empty(x, x.shape()), mean = empty(x, r), rstd = empty(x, r);
        be(x).layerNorm(x2, weight, bias, eps, y.reshape(r, d), mean, rstd);
        if (!Tape.needsGrad(x, weight, bias)) return y;
        return Tape.record(y, g -> {
            Tensor gx = empty(x, r, d);
            Tensor gw = weight != null && weight.requiresGrad() ? empty(x, d) : null;
            Tensor gb = bias != null && bias.requiresGrad() ? empty(x, d) : null;
            be(x).layerNormBackward(x2, weight, mean, rstd, contiguous(g).reshape(r, d), gx, gw, gb);
            accumulate(xc, gx.reshape(x.shape()));
            if (gw != null) accumulate(weight, gw);
            if (gb != null) accumulate(bias, gb);
        });
    }

    /** RMSNorm over the last axis: {@code x * rsqrt(mean(x^2) + eps) * weight}; weight may be null. */
    public static Tensor rmsNorm(Tensor x, Tensor weight, float eps) {
        requireFloat("rmsNorm", x);
        int d = x.shape(-1), r = x.numel() / Math.max(1, d);
        checkParam("rmsNorm", weight, d);
        Tensor xc = contiguous(x);
        Tensor x2 = xc.reshape(r, d);
        Tensor y = empty(x, x.shape()), rstd = empty(x, r);
        be(x).rmsNorm(x2, weight, eps, y.reshape(r, d), rstd);
        if (!Tape.needsGrad(x, weight)) return y;
        return Tape.record(y, g -> {
            Tensor gx = empty(x, r, d);
            Tensor gw = weight != null && weight.requiresGrad() ? empty(x, d) : null;
            be(x).rmsNormBackward(x2, weight, rstd, contiguous(g).reshape(r, d), gx, gw);
            accumulate(xc, gx.reshape(x.shape()));
            if (gw != null) accumulate(weight, gw);
        });
    }

    /** GroupNorm of x [N, C, *] in {@code groups} groups; weight and bias [C] may be null. */
    public static Tensor groupNorm(Tensor x, int groups, Tensor weight, Tensor bias, float eps) {
        return groupNorm(x, groups, weight, bias, eps, false);
    }

    /**
     * {@code silu(groupNorm(x))}: one fused op where the backend has it ({@link
     * org.tessella.backend.Backend#fusesGroupNormSilu}), which keeps only x and the statistics for the backward pass
     * (the composition also keeps the normalised values, a tensor the size of x); the two ops otherwise.
     */
    public static Tensor groupNormSilu(Tensor x, int groups, Tensor weight, Tensor bias, float eps) {
        if (!be(x).fusesGroupNormSilu()) return Ops.silu(groupNorm(x, groups, weight, bias, eps));
        return groupNorm(x, groups, weight, bias, eps, true);
    }

    private static Tensor groupNorm(Tensor x, int groups, Tensor weight, Tensor bias, float eps, boolean silu) {
        String op = silu ? "groupNormSilu" : "groupNorm";
        requireFloat(op, x);
        if (x.rank() < 2 || x.shape(1) % groups != 0)
            throw new ShapeException(op + ": " + groups + " groups do not divide the channels of " + Shape.str(x.shape()));
        int n = x.shape(0), c = x.shape(1);
        checkParam(op, weight, c);
        checkParam(op, bias, c);
        Tensor xc = contiguous(x);
        Tensor y = empty(x, x.shape()), mean = empty(x, n, groups), rstd = empty(x, n, groups);
        if (silu) be(x).groupNormSilu(xc, groups, weight, bias, eps, y, mean, rstd);
        else be(x).groupNorm(xc, groups, weight, bias, eps, y, mean, rstd);
        if (!Tape.needsGrad(x, weight, bias)) return y;
        return Tape.record(y, g -> {
            Tensor gx = empty(x, x.shape());
            Tensor gw = weight != null && weight.requiresGrad() ? empty(x, c) : null;
            Tensor gb = bias != null && bias.requiresGrad() ? empty(x, c) : null;
            if (silu) be(x).groupNormSiluBackward(xc, groups, weight, bias, mean, rstd, contiguous(g), gx, gw, gb);
            else be(x).groupNormBackward(xc, groups, weight, mean, rstd, contiguous(g), gx, gw, gb);
            accumulate(xc, gx);
            if (gw != null) accumulate(weight, gw);
            if (gb != null) accumulate(bias, gb);
        });
    }

    /**
     * SwiGLU's gate {@code silu(a) * b} (a and b of one shape): one pass forward and one backward where the backend
     * fuses it ({@link org.tessella.backend.Backend#fusesSwiglu}), else the composition of silu and mul.
     */
    public static Tensor swiglu(Tensor a, Tensor b) {
        requireFloat("swiglu", a);
        if (!java.util.Arrays.equals(a.shape(), b.shape()))
            throw new ShapeException("swiglu: gate " + Shape.str(a.shape()) + " and value " + Shape.str(b.shape()) + " differ in shape");
        if (!be(a).fusesSwiglu()) return Ops.mul(Ops.silu(a), b);
        Tensor ac = contiguous(a), bc = contiguous(b), out = empty(a, a.shape());
        be(a).swiglu(ac, bc, out);
        if (!Tape.needsGrad(a, b)) return out;
        return Tape.record(out, g -> {
            Tensor ga = empty(a, a.shape()), gb = empty(a, a.shape());
            be(a).swigluBackward(ac, bc, contiguous(g), ga, gb);
            accumulate(ac, ga);
            accumulate(bc, gb);
        });
    }

    /** {@code x / max(||x||, eps)} along an axis (PyTorch's F.normalize), composed from primitives. */
    public static Tensor l2Normalize(Tensor x, int axis, float eps) {
        Tensor norm = Ops.sqrt(Ops.sum(Ops.square(x), true, axis));
        return Ops.div(x, Ops.clampMin(norm, eps));
    }

    // ---- lookup, images ------------------------------------------------------------------------------------------

    /** Rows of table [V, D] picked by I32 indices [...] (output [..., D]); the backward scatter-adds. */
    public static Tensor embedding(Tensor table, Tensor idx) {
        requireFloat("embedding", table);
        if (table.rank() != 2 || idx.dtype() != DType.I32)
            throw new ShapeException("embedding: wants table [V, D] and I32 indices, got " + Shape.str(table.shape()) + " and " + idx.dtype() + " " + Shape.str(idx.shape()));
        int d = table.shape(1), n = idx.numel();
        Tensor ic = Ops.contiguousInts(idx).reshape(n);
        Tensor tc = contiguous(table);
        int[] outShape = java.util.Arrays.copyOf(idx.shape(), idx.rank() + 1);
        outShape[idx.rank()] = d;
        Tensor out = empty(table, outShape);
        be(table).embedding(tc, ic, out.reshape(n, d));
        if (!Tape.needsGrad(table)) return out;
        return Tape.record(out, g -> {
            Tensor gt = Ops.zerosLike(table);
            be(table).embeddingBackward(contiguous(g).reshape(n, d), ic, gt);
            accumulate(tc, gt);
        });
    }

    private static int outSize(int in, int k, int stride, int pad) { return (in + 2 * pad - k) / stride + 1; }

    /** 2-D convolution: x [N, C, H, W], w [O, C, kh, kw], optional bias [O]. */
    public static Tensor conv2d(Tensor x, Tensor w, Tensor bias, int stride, int padding) {
        requireFloat("conv2d", x);
        requireFloat("conv2d", w);
        if (x.rank() != 4 || w.rank() != 4 || x.shape(1) != w.shape(1))
            throw new ShapeException("conv2d: input " + Shape.str(x.shape()) + " and weight " + Shape.str(w.shape()) + " do not fit (want [N, C, H, W] and [O, C, kh, kw])");
        checkParam("conv2d", bias, w.shape(0));
        int ho = outSize(x.shape(2), w.shape(2), stride, padding), wo = outSize(x.shape(3), w.shape(3), stride, padding);
        if (ho <= 0 || wo <= 0)
            throw new ShapeException("conv2d: input " + Shape.str(x.shape()) + " is smaller than kernel " + Shape.str(w.shape()));
        Tensor xc = contiguous(x), wc = contiguous(w);
        Tensor y = empty(x, x.shape(0), w.shape(0), ho, wo);
        long flops = 2L * x.shape(0) * w.shape(0) * ho * wo * w.shape(1) * w.shape(2) * w.shape(3);
        FlopCounter.add(flops);
        be(x).conv2d(xc, wc, bias, stride, padding, y);
        if (!Tape.needsGrad(x, w, bias)) return y;
        return Tape.record(y, g -> {
            Tensor gc = contiguous(g);
            if (x.requiresGrad()) {
                Tensor gx = empty(x, x.shape());
                be(x).conv2dBackwardInput(gc, wc, stride, padding, gx);
                FlopCounter.add(flops);
                accumulate(xc, gx);
            }
            if (w.requiresGrad() || (bias != null && bias.requiresGrad())) {
                Tensor gw = empty(w, w.shape());
                Tensor gb = bias != null ? empty(w, bias.shape()) : null;
                be(x).conv2dBackwardWeight(gc, xc, stride, padding, gw, gb);
                FlopCounter.add(flops);
                accumulate(wc, gw);
                if (gb != null) accumulate(bias, gb);
            }
        });
    }

    /** Nearest-neighbour upsampling of [N, C, H, W] by an integer factor. */
    public static Tensor upsampleNearest(Tensor x, int factor) {
        requireFloat("upsampleNearest", x);
        if (x.rank() != 4) throw new ShapeException("upsampleNearest: wants [N, C, H, W], got " + Shape.str(x.shape()));
        Tensor xc = contiguous(x);
        Tensor y = empty(x, x.shape(0), x.shape(1), x.shape(2) * factor, x.shape(3) * factor);
        be(x).upsampleNearest(xc, factor, y);
        if (!Tape.needsGrad(x)) return y;
        return Tape.record(y, g -> {
            Tensor gx = empty(x, x.shape());
            be(x).upsampleNearestBackward(contiguous(g), factor, gx);
            accumulate(xc, gx);
        });
    }

    /** Average pooling with a square window and no padding. */
    public static Tensor avgPool2d(Tensor x, int kernel, int stride) {
        requireFloat("avgPool2d", x);
        if (x.rank() != 4) throw new ShapeException("avgPool2d: wants [N, C, H, W], got " + Shape.str(x.shape()));
        int ho = outSize(x.shape(2), kernel, stride, 0), wo = outSize(x.shape(3), kernel, stride, 0);
        Tensor xc = contiguous(x);
        Tensor y = empty(x, x.shape(0), x.shape(1), ho, wo);
        be(x).avgPool2d(xc, kernel, stride, y);
        if (!Tape.needsGrad(x)) return y;
        return Tape.record(y, g -> {
            Tensor gx = empty(x, x.shape());
            be(x).avgPool2dBackward(contiguous(g), kernel, stride, gx);
            accumulate(xc, gx);
        });
    }

    // ---- regularisation ------------------------------------------------------------------------------------------

    /**
     * Inverted dropout: zeroes each element with probability p and scales the rest by 1 / (1 - p). The mask comes
     * from (seed, offset + i), so it is the same on any thread count; the identity when not training or p = 0.
     */
    public static Tensor dropout(Tensor x, float p, boolean training, long seed, long offset) {
        if (!training || p == 0f) return x;
        if (p < 0f || p >= 1f) throw new IllegalArgumentException("dropout: p must be in [0, 1), got " + p);
        Tensor u = empty(x, x.shape());
        be(x).randomUniform(u, seed, offset);
        Tensor keep = empty(x, x.shape());
        be(x).binary(BinaryOp.GE, u, Ops.fullLike(u, p), keep);
        be(x).affine(keep, 1f / (1f - p), 0f, keep);
        return Ops.mul(x, keep);
    }

    // ---- attention -----------------------------------------------------------------------------------------------

    /**
     * Fused scaled-dot-product attention: q [B, H, T, D], k [B, H, S, D], v [B, H, S, Dv] -> [B, H, T, Dv], scale
     * 1/sqrt(D). When causal, query t sees keys up to t + (S - T) (so a query block after a KV cache is causal too).
     */
    public static Tensor attention(Tensor q, Tensor k, Tensor v, boolean causal) {
        requireFloat("attention", q);
        if (q.rank() != 4 || k.rank() != 4 || v.rank() != 4 || q.shape(0) != k.shape(0) || q.shape(1) != k.shape(1)
                || q.shape(3) != k.shape(3) || k.shape(2) != v.shape(2) || v.shape(0) != q.shape(0) || v.shape(1) != q.shape(1))
            throw new ShapeException("attention: q " + Shape.str(q.shape()) + ", k " + Shape.str(k.shape()) + ", v " + Shape.str(v.shape())
                    + " do not fit (want [B, H, T, D], [B, H, S, D], [B, H, S, Dv])");
        if (causal && k.shape(2) < q.shape(2))
            throw new ShapeException("attention: causal with fewer keys (" + k.shape(2) + ") than queries (" + q.shape(2) + ")");
        int b = q.shape(0), h = q.shape(1), t = q.shape(2), dv = v.shape(3);
        float scale = (float) (1.0 / Math.sqrt(q.shape(3)));
        Tensor qc = contiguous(q), kc = contiguous(k), vc = contiguous(v);
        Tensor out = empty(q, b, h, t, dv), lse = empty(q, b, h, t);
        long flops = 2L * b * h * t * k.shape(2) * (q.shape(3) + dv) / (causal ? 2 : 1);
        FlopCounter.add(flops);
        be(q).attention(qc, kc, vc, causal, scale, out, lse);
        if (!Tape.needsGrad(q, k, v)) return out;
        return Tape.record(out, g -> {
            Tensor gq = empty(q, qc.shape()), gk = empty(q, kc.shape()), gv = empty(q, vc.shape());
            be(q).attentionBackward(qc, kc, vc, out, lse, contiguous(g), causal, scale, gq, gk, gv);
            FlopCounter.add(2 * flops);
            accumulate(qc, gq);
            accumulate(kc, gk);
            accumulate(vc, gv);
        });
    }

    /**
     * Self-attention straight from a packed projection: qkv [B, T, 3, H, D] holds each position's q, k and v (the
     * reshaped output of one [D, 3D] linear layer); q and k get RoPE (cos, sin [T, D/2]), then scaled dot-product
     * attention, causal or not; the result is [B, T, H, D], the layout the output projection reads. Where the backend
     * fuses it ({@link org.tessella.backend.Backend#fusesQkvAttention}) no heads-first copy is made; elsewhere it is that composition.
     */
    public static Tensor qkvAttention(Tensor qkv, Tensor cos, Tensor sin, boolean causal) {
        requireFloat("qkvAttention", qkv);
        if (qkv.rank() != 5 || qkv.shape(2) != 3 || qkv.shape(4) % 2 != 0 || cos.rank() != 2 || cos.shape(0) != qkv.shape(1)
                || cos.shape(1) * 2 != qkv.shape(4) || !java.util.Arrays.equals(cos.shape(), sin.shape()))
            throw new ShapeException("qkvAttention: qkv " + Shape.str(qkv.shape()) + " with tables " + Shape.str(cos.shape())
                    + ", " + Shape.str(sin.shape()) + " (want qkv [B, T, 3, H, D], tables [T, D/2])");
        int b = qkv.shape(0), t = qkv.shape(1), h = qkv.shape(3), d = qkv.shape(4);
        if (!be(qkv).fusesQkvAttention()) {
            Tensor q = headsFirst(qkv, 0), k = headsFirst(qkv, 1), v = headsFirst(qkv, 2);
            q = Ops.reshape(rope(Ops.reshape(q, b * h, t, 1, d), cos, sin), b, h, t, d);
            k = Ops.reshape(rope(Ops.reshape(k, b * h, t, 1, d), cos, sin), b, h, t, d);
            return Ops.contiguous(Ops.permute(attention(q, k, v, causal), 0, 2, 1, 3));
        }
        float scale = (float) (1.0 / Math.sqrt(d));
        Tensor qc = contiguous(qkv);
        Tensor out = empty(qkv, b, t, h, d), lse = empty(qkv, b, h, t);
        long flops = 2L * b * h * t * t * 2 * d / (causal ? 2 : 1);
        FlopCounter.add(flops);
        be(qkv).qkvAttention(qc, cos, sin, causal, scale, out, lse);
        if (!Tape.needsGrad(qkv)) return out;
        return Tape.record(out, g -> {
            Tensor gq = empty(qkv, qc.shape());
            be(qkv).qkvAttentionBackward(qc, cos, sin, out, lse, contiguous(g), causal, scale, gq);
            FlopCounter.add(2 * flops);
            accumulate(qc, gq);
        });
    }

    /** Part {@code which} (q, k or v) of qkv [B, T, 3, H, D] as a contiguous [B, H, T, D], differentiably. */
    private static Tensor headsFirst(Tensor qkv, int which) {
        Tensor part = Ops.slice(qkv, 2, which, which + 1);                         // [B, T, 1, H, D]
        return Ops.reshape(Ops.contiguous(Ops.permute(part, 0, 2, 3, 1, 4)), qkv.shape(0), qkv.shape(3), qkv.shape(1),
                qkv.shape(4));
    }

    /**
     * Rotary position embedding on interleaved pairs of x [N, T, H, D] with tables cos, sin [T, D/2] (see
     * {@link #ropeTables}). The backward rotates the gradient back.
     */
    public static Tensor rope(Tensor x, Tensor cos, Tensor sin) {
        requireFloat("rope", x);
        if (x.rank() != 4 || x.shape(3) % 2 != 0 || cos.rank() != 2 || cos.shape(0) != x.shape(1) || cos.shape(1) * 2 != x.shape(3)
                || !java.util.Arrays.equals(cos.shape(), sin.shape()))
            throw new ShapeException("rope: x " + Shape.str(x.shape()) + " with tables " + Shape.str(cos.shape()) + ", " + Shape.str(sin.shape())
                    + " (want x [N, T, H, D], tables [T, D/2])");
        Tensor xc = contiguous(x);
        Tensor out = empty(x, x.shape());
        be(x).rope(xc, cos, sin, false, out);
        if (!Tape.needsGrad(x)) return out;
        return Tape.record(out, g -> {
            Tensor gx = empty(x, x.shape());
            be(x).rope(contiguous(g), cos, sin, true, gx);
            accumulate(xc, gx);
        });
    }

    /** cos and sin tables [positions, dim/2] for angle {@code pos * theta^(-2i/dim)} (LlamaGen's 1-D RoPE). */
    public static Tensor[] ropeTables(int positions, int dim, float theta) {
        float[] c = new float[positions * dim / 2], s = new float[positions * dim / 2];
        for (int p = 0; p < positions; p++)
            for (int i = 0; i < dim / 2; i++) {
                double freq = 1.0 / StrictMath.pow(theta, (2.0 * i) / dim);
                double angle = p * freq;
                c[p * dim / 2 + i] = (float) StrictMath.cos(angle);
                s[p * dim / 2 + i] = (float) StrictMath.sin(angle);
            }
        return new Tensor[]{Tensor.of(c, positions, dim / 2), Tensor.of(s, positions, dim / 2)};
    }
}
