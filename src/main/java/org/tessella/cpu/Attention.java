package org.tessella.cpu;

import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;
import org.tessella.tensor.Tensor;

/**
 * Fused scaled-dot-product attention and rotary embeddings on contiguous tensors, and the two fused in one op that
 * reads q, k and v straight from the attention's packed projection ({@link #qkvAttention}).
 *
 * <p>Attention works on one (batch, head) pair at a time, a block of queries in the forward pass, and writes its
 * products as {@link Gemm} calls on that pair's rows (run on the calling worker): scores {@code S = scale Q K^T} for
 * the keys the block sees, softmax row by row through {@link RowReduce} (keys a causal query does not see are zero
 * probabilities), then {@code O = P V} and each row divided by its sum. The forward pass saves the row log-sum-exp;
 * the backward pass recomputes the probabilities from it (flash-attention style): {@code dP = dO V^T},
 * {@code dS = P (dP - rowsum(dO O))}, {@code dV = P^T dO}, {@code dK = (scale dS)^T Q} and
 * {@code dQ = scale (dS K)}. Work is split only over pairs (and query blocks forward), and every product is Gemm's
 * fma chain in order of its inner index, so the key and value gradients get their terms in query order whatever the
 * thread count or vector width.
 */
final class Attention {
    private Attention() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    /** Queries per forward task. */
    private static final int QUERY_BLOCK = 32;

    private static final ThreadLocal<float[][]> SCRATCH = ThreadLocal.withInitial(() -> new float[2][0]);

    /** This thread's scratch array {@code slot} of at least n floats (grown, never shrunk; contents undefined). */
    private static float[] scratch(int slot, int n) {
        float[][] h = SCRATCH.get();
        if (h[slot].length < n) h[slot] = new float[Math.max(n, h[slot].length + h[slot].length / 2)];
        return h[slot];
    }

    /** Keys visible to query t: s < limit. */
    private static int visible(boolean causal, int t, int tq, int sk) {
        return causal ? Math.max(0, Math.min(sk, t + sk - tq + 1)) : sk;
    }

    private static void scaleRow(float[] y, int yi, float s, int n) {
        int i = 0;
        for (; i < S.loopBound(n); i += L) FloatVector.fromArray(S, y, yi + i).mul(s).intoArray(y, yi + i);
        for (; i < n; i++) y[yi + i] *= s;
    }

    static void attention(Tensor q, Tensor k, Tensor v, boolean causal, float scale, Tensor out, Tensor lse) {
        int bh = q.shape(0) * q.shape(1), tq = q.shape(2), dim = q.shape(3), sk = k.shape(2), dv = v.shape(3);
        float[] qa = q.floats(), ka = k.floats(), va = v.floats(), oa = out.floats(), la = lse.floats();
        int qo = q.offset(), ko = k.offset(), vo = v.offset(), oo = out.offset(), lo = lse.offset();
        int blocks = (tq + QUERY_BLOCK - 1) / QUERY_BLOCK;
        WorkerPool.global().parallelFor(bh * blocks, 1, (s, e) -> {
            for (int u = s; u < e; u++) {
                int p = u / blocks, t0 = (u % blocks) * QUERY_BLOCK, t1 = Math.min(tq, t0 + QUERY_BLOCK);
                forwardBlock(qa, qo + p * tq * dim, ka, ko + p * sk * dim, va, vo + p * sk * dv, oa, oo + p * tq * dv,
                        la, lo + p * tq, t0, t1, tq, sk, dim, dv, causal, scale);
            }
        });
    }

    /**
     * Queries [t0, t1) of one (batch, head) pair: q's rows at qb (dim apart), k's at kb, v's at vb (dv apart), the
     * output rows at ob (dv apart) and the log-sum-exp at lb, all indexed from the pair's query or key 0.
     */
    private static void forwardBlock(float[] qa, int qb, float[] ka, int kb, float[] va, int vb, float[] oa, int ob,
                                     float[] la, int lb, int t0, int t1, int tq, int sk, int dim, int dv, boolean causal,
                                     float scale) {
        int rows = t1 - t0, kmax = visible(causal, t1 - 1, tq, sk), oi = ob + t0 * dv;
        if (kmax == 0) {
            Arrays.fill(oa, oi, oi + rows * dv, 0f);
            Arrays.fill(la, lb + t0, lb + t1, Float.NEGATIVE_INFINITY);
            return;
        }
        float[] pr = scratch(0, rows * kmax + rows);
        int rs = rows * kmax;                                         // 1 / sum of each row, after P
        // scores S = scale * Q K^T for the block's queries and every key one of them sees
        Gemm.gemm(1, rows, kmax, dim, qa, qb + t0 * dim, 0, false, ka, kb, 0, true, pr, 0, scale, 0f);
        for (int r = 0; r < rows; r++) {
            int t = t0 + r, n = visible(causal, t, tq, sk), at = r * kmax;
            if (n == 0) {
                Arrays.fill(pr, at, at + kmax, 0f);
                la[lb + t] = Float.NEGATIVE_INFINITY;
                continue;
            }
            float m = RowReduce.max(pr, at, n);
            float sum = RowReduce.expSum(pr, at, m, pr, at, n);
            Arrays.fill(pr, at + n, at + kmax, 0f);              // keys this query does not see
            pr[rs + r] = 1f / sum;
            la[lb + t] = m + FastMath.log(sum);
        }
        // O = P V, then each row divided by its sum
        Gemm.gemm(1, rows, dv, kmax, pr, 0, 0, false, va, vb, 0, false, oa, oi, 1f, 0f);
        for (int r = 0; r < rows; r++) scaleRow(oa, oi + r * dv, pr[rs + r], dv);
    }

    static void attentionBackward(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, Tensor gOut, boolean causal,
                                  float scale, Tensor gq, Tensor gk, Tensor gv) {
        int bh = q.shape(0) * q.shape(1), tq = q.shape(2), dim = q.shape(3), sk = k.shape(2), dv = v.shape(3);
        float[] qa = q.floats(), ka = k.floats(), va = v.floats(), oa = out.floats(), la = lse.floats(), ga = gOut.floats();
        float[] gqa = gq.floats(), gka = gk.floats(), gva = gv.floats();
        int qo = q.offset(), ko = k.offset(), vo = v.offset(), oo = out.offset(), lo = lse.offset(), go = gOut.offset();
        int gqo = gq.offset(), gko = gk.offset(), gvo = gv.offset();
        WorkerPool.global().parallelFor(bh, 1, (s, e) -> {
            for (int p = s; p < e; p++)
                backwardPair(qa, qo + p * tq * dim, ka, ko + p * sk * dim, va, vo + p * sk * dv, oa, oo + p * tq * dv,
                        la, lo + p * tq, ga, go + p * tq * dv, gqa, gqo + p * tq * dim, gka, gko + p * sk * dim,
                        gva, gvo + p * sk * dv, tq, sk, dim, dv, causal, scale);
        });
    }

    /** The gradients of one (batch, head) pair; every operand's rows are contiguous from its base (as forwardBlock). */
    private static void backwardPair(float[] qa, int qb, float[] ka, int kb, float[] va, int vb, float[] oa, int ob,
                                     float[] la, int lb, float[] ga, int gb, float[] gqa, int gqb, float[] gka, int gkb,
                                     float[] gva, int gvb, int tq, int sk, int dim, int dv, boolean causal, float scale) {
        int kmax = visible(causal, tq - 1, tq, sk);
        Arrays.fill(gka, gkb + kmax * dim, gkb + sk * dim, 0f);
        Arrays.fill(gva, gvb + kmax * dv, gvb + sk * dv, 0f);
        if (kmax == 0) {
            Arrays.fill(gqa, gqb, gqb + tq * dim, 0f);
            return;
        }
        int size = tq * kmax;
        float[] buf = scratch(0, 3 * size);
        int pr = 0, dp = size, ds = 2 * size;                    // probabilities, dP, dS * scale
        Gemm.gemm(1, tq, kmax, dim, qa, qb, 0, false, ka, kb, 0, true, buf, pr, scale, 0f);
        Gemm.gemm(1, tq, kmax, dv, ga, gb, 0, false, va, vb, 0, true, buf, dp, 1f, 0f); // dP = gOut V^T
        for (int t = 0; t < tq; t++) {
            int n = visible(causal, t, tq, sk), at = t * kmax;
            if (n > 0) RowReduce.expSum(buf, pr + at, la[lb + t], buf, pr + at, n); // exp(s - lse)
            Arrays.fill(buf, pr + at + n, pr + at + kmax, 0f);
            float delta = RowReduce.dot(ga, gb + t * dv, oa, ob + t * dv, dv);
            for (int j = 0; j < n; j++) {
                float dsj = buf[pr + at + j] * (buf[dp + at + j] - delta);
                buf[dp + at + j] = dsj;                              // dS, in place of dP
                buf[ds + at + j] = dsj * scale;
            }
            Arrays.fill(buf, dp + at + n, dp + at + kmax, 0f);
            Arrays.fill(buf, ds + at + n, ds + at + kmax, 0f);
        }
        // dV = P^T gOut and dK = (scale dS)^T Q, each summed over queries in order; dQ = scale (dS K)
        Gemm.gemm(1, kmax, dv, tq, buf, pr, 0, true, ga, gb, 0, false, gva, gvb, 1f, 0f);
        Gemm.gemm(1, kmax, dim, tq, buf, ds, 0, true, qa, qb, 0, false, gka, gkb, 1f, 0f);
        Gemm.gemm(1, tq, dim, kmax, buf, dp, 0, false, ka, kb, 0, false, gqa, gqb, scale, 0f);
    }

    // ---- attention straight from the q/k/v projection ------------------------------------------------------------

    /**
     * {@link #attention} of q, k, v read from qkv [B, T, 3, H, D] (a position's q, k and v side by side, as the fused
     * projection makes them), RoPE applied to q and k as they are read (cos, sin [T, D/2]), causal or not, out
     * [B, T, H, D] (the layout the output projection reads), lse [B, H, T]. A unit is one (batch, head) pair: its q, k
     * and v rows are gathered (and rotated) into the thread's scratch, where the pair runs exactly what
     * {@link #attention} runs on the heads-first copies, so the bits are those of the composition of copies,
     * {@link #rope} and {@link #attention} (four fewer passes over memory in the forward pass, eight in the backward).
     */
    static void qkvAttention(Tensor qkv, Tensor cos, Tensor sin, boolean causal, float scale, Tensor out, Tensor lse) {
        int b = qkv.shape(0), t = qkv.shape(1), heads = qkv.shape(3), dim = qkv.shape(4), td = t * dim;
        float[] oa = out.floats(), la = lse.floats();
        int oo = out.offset(), lo = lse.offset();
        Rotation rot = Rotation.of(cos, sin, false, t, dim);
        WorkerPool.global().parallelFor(b * heads, 1, (s, e) -> {
            float[] w = scratch(1, 4 * td); // q, k, v, o of the pair, rows dim apart
            for (int p = s; p < e; p++) {
                int n = p / heads, h = p % heads;
                gather(qkv, n, h, 0, rot, w, 0);
                gather(qkv, n, h, 1, rot, w, td);
                gather(qkv, n, h, 2, null, w, 2 * td);
                for (int t0 = 0; t0 < t; t0 += QUERY_BLOCK)
                    forwardBlock(w, 0, w, td, w, 2 * td, w, 3 * td, la, lo + p * t, t0, Math.min(t, t0 + QUERY_BLOCK),
                            t, t, dim, dim, causal, scale);
                for (int i = 0; i < t; i++) System.arraycopy(w, 3 * td + i * dim, oa, oo + ((n * t + i) * heads + h) * dim, dim);
            }
        });
    }

    /**
     * The gradient of {@link #qkvAttention} with respect to qkv, written whole into gQkv [B, T, 3, H, D] (every element
     * belongs to one pair): the pair's q, k (rotated), v, out and gOut rows gathered, {@link #backwardPair} run on them,
     * the q and k gradients rotated back as they are stored.
     */
    static void qkvAttentionBackward(Tensor qkv, Tensor cos, Tensor sin, Tensor out, Tensor lse, Tensor gOut,
                                     boolean causal, float scale, Tensor gQkv) {
        int b = qkv.shape(0), t = qkv.shape(1), heads = qkv.shape(3), dim = qkv.shape(4), td = t * dim;
        float[] oa = out.floats(), la = lse.floats(), ga = gOut.floats();
        int oo = out.offset(), lo = lse.offset(), go = gOut.offset();
        Rotation rot = Rotation.of(cos, sin, false, t, dim), back = Rotation.of(cos, sin, true, t, dim);
        WorkerPool.global().parallelFor(b * heads, 1, (s, e) -> {
            float[] w = scratch(1, 8 * td); // q, k, v, o, gOut, then the gradients of q, k, v
            for (int p = s; p < e; p++) {
                int n = p / heads, h = p % heads;
                gather(qkv, n, h, 0, rot, w, 0);
                gather(qkv, n, h, 1, rot, w, td);
                gather(qkv, n, h, 2, null, w, 2 * td);
                for (int i = 0; i < t; i++) {
                    int row = ((n * t + i) * heads + h) * dim;
                    System.arraycopy(oa, oo + row, w, 3 * td + i * dim, dim);
                    System.arraycopy(ga, go + row, w, 4 * td + i * dim, dim);
                }
                backwardPair(w, 0, w, td, w, 2 * td, w, 3 * td, la, lo + p * t, w, 4 * td, w, 5 * td, w, 6 * td,
                        w, 7 * td, t, t, dim, dim, causal, scale);
                scatter(w, 5 * td, back, gQkv, n, h, 0);
                scatter(w, 6 * td, back, gQkv, n, h, 1);
                scatter(w, 7 * td, null, gQkv, n, h, 2);
            }
        });
    }

    /**
     * Rows of part {@code which} (0 q, 1 k, 2 v) of head h of batch n in qkv [B, T, 3, H, D] into w from wo, rows
     * dim apart, rotated by {@link #rotate} when rot is given.
     */
    private static void gather(Tensor qkv, int n, int h, int which, Rotation rot, float[] w, int wo) {
        int t = qkv.shape(1), heads = qkv.shape(3), dim = qkv.shape(4);
        float[] xa = qkv.floats();
        for (int i = 0; i < t; i++) {
            int src = qkv.offset() + (((n * t + i) * 3 + which) * heads + h) * dim;
            if (rot == null) System.arraycopy(xa, src, w, wo + i * dim, dim);
            else rotate(xa, src, rot, i, w, wo + i * dim);
        }
    }

    /** The inverse of gather into gQkv: w's rows (rotated by rot, the inverse rotation, when given) into part which. */
    private static void scatter(float[] w, int wo, Rotation rot, Tensor gQkv, int n, int h, int which) {
        int t = gQkv.shape(1), heads = gQkv.shape(3), dim = gQkv.shape(4);
        float[] ga = gQkv.floats();
        for (int i = 0; i < t; i++) {
            int dst = gQkv.offset() + (((n * t + i) * 3 + which) * heads + h) * dim;
            if (rot == null) System.arraycopy(w, wo + i * dim, ga, dst, dim);
            else rotate(w, wo + i * dim, rot, i, ga, dst);
        }
    }

    /**
     * RoPE's tables laid out for whole vectors: row t of {@code cos2} holds each pair's cosine twice, of {@code sin2}
     * its sine as (-s, s), negated for the inverse rotation; dim floats a row.
     */
    private record Rotation(float[] cos2, float[] sin2, int dim) {
        static Rotation of(Tensor cos, Tensor sin, boolean inverse, int t, int dim) {
            float[] c2 = new float[t * dim], s2 = new float[t * dim], ca = cos.floats(), sa = sin.floats();
            for (int p = 0; p < t; p++)
                for (int i = 0; i < dim / 2; i++) {
                    float c = ca[cos.offset() + p * cos.stride(0) + i * cos.stride(1)];
                    float sn = sa[sin.offset() + p * sin.stride(0) + i * sin.stride(1)];
                    if (inverse) sn = -sn;
                    c2[p * dim + 2 * i] = c;
                    c2[p * dim + 2 * i + 1] = c;
                    s2[p * dim + 2 * i] = -sn;
                    s2[p * dim + 2 * i + 1] = sn;
                }
            return new Rotation(c2, s2, dim);
        }
    }

    /** Lane i takes lane i ^ 1: each pair swapped. */
    private static final VectorShuffle<Float> SWAP_PAIRS = VectorShuffle.fromOp(S, i -> i ^ 1);

    /**
     * One row of dim floats at position t rotated pairwise, x[xi..] into o[oi..]: {@code (x0, x1) -> (x0 c - x1 s,
     * x0 s + x1 c)}, computed as {@code x * cos2 + swap(x) * sin2} on whole vectors (a - b is a + (-b) exactly, and
     * the two products are rounded before the one addition, so vector and scalar tail round alike). The one rotation
     * of the backend: {@link #rope} runs it on every row of its tensor.
     */
    private static void rotate(float[] xa, int xi, Rotation rot, int t, float[] oa, int oi) {
        float[] c2 = rot.cos2(), s2 = rot.sin2();
        int dim = rot.dim(), ti = t * dim, j = 0;
        for (; j <= dim - L; j += L) {
            FloatVector x = FloatVector.fromArray(S, xa, xi + j);
            x.mul(FloatVector.fromArray(S, c2, ti + j))
                    .add(x.rearrange(SWAP_PAIRS).mul(FloatVector.fromArray(S, s2, ti + j)))
                    .intoArray(oa, oi + j);
        }
        for (; j < dim; j += 2) {
            float x0 = xa[xi + j], x1 = xa[xi + j + 1];
            oa[oi + j] = x0 * c2[ti + j] + x1 * s2[ti + j];
            oa[oi + j + 1] = x1 * c2[ti + j + 1] + x0 * s2[ti + j + 1];
        }
    }

    /**
     * Rotary embedding on interleaved pairs of x [N, T, H, D] with cos, sin [T, D/2] (any strides):
     * {@code (x0, x1) -> (x0 c - x1 s, x0 s + x1 c)}, by the negative angle when inverse. out must not alias x.
     */
    static void rope(Tensor x, Tensor cos, Tensor sin, boolean inverse, Tensor out) {
        int tq = x.shape(1), heads = x.shape(2), dim = x.shape(3);
        int rows = x.numel() / Math.max(1, dim);
        float[] xa = x.floats(), oa = out.floats();
        int xo = x.offset(), oo = out.offset();
        Rotation rot = Rotation.of(cos, sin, inverse, tq, dim);
        WorkerPool.global().parallelFor(rows, Math.max(1, 8192 / Math.max(1, dim)), (s, e) -> {
            for (int r = s; r < e; r++) rotate(xa, xo + r * dim, rot, (r / heads) % tq, oa, oo + r * dim);
        });
    }
}
