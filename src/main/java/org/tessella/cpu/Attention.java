package org.tessella.cpu;

import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.tessella.tensor.Tensor;

/**
 * Fused scaled-dot-product attention and rotary embeddings on contiguous tensors.
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

    private static final ThreadLocal<float[][]> SCRATCH = ThreadLocal.withInitial(() -> new float[1][0]);

    /** This thread's scratch array of at least n floats (grown, never shrunk; contents undefined). */
    private static float[] scratch(int n) {
        float[][] h = SCRATCH.get();
        if (h[0].length < n) h[0] = new float[Math.max(n, h[0].length + h[0].length / 2)];
        return h[0];
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
                int p = u / blocks, t0 = (u % blocks) * QUERY_BLOCK, t1 = Math.min(tq, t0 + QUERY_BLOCK), rows = t1 - t0;
                int kmax = visible(causal, t1 - 1, tq, sk), oi = oo + (p * tq + t0) * dv;
                if (kmax == 0) {
                    Arrays.fill(oa, oi, oi + rows * dv, 0f);
                    Arrays.fill(la, lo + p * tq + t0, lo + p * tq + t1, Float.NEGATIVE_INFINITY);
                    continue;
                }
                float[] pr = scratch(rows * kmax + rows);
                int rs = rows * kmax;                                         // 1 / sum of each row, after P
                // scores S = scale * Q K^T for the block's queries and every key one of them sees
                Gemm.gemm(1, rows, kmax, dim, qa, qo + (p * tq + t0) * dim, 0, false, ka, ko + p * sk * dim, 0, true,
                        pr, 0, scale, 0f);
                for (int r = 0; r < rows; r++) {
                    int t = t0 + r, n = visible(causal, t, tq, sk), at = r * kmax, row = p * tq + t;
                    if (n == 0) {
                        Arrays.fill(pr, at, at + kmax, 0f);
                        la[lo + row] = Float.NEGATIVE_INFINITY;
                        continue;
                    }
                    float m = RowReduce.max(pr, at, n);
                    float sum = RowReduce.expSum(pr, at, m, pr, at, n);
                    Arrays.fill(pr, at + n, at + kmax, 0f);              // keys this query does not see
                    pr[rs + r] = 1f / sum;
                    la[lo + row] = m + FastMath.log(sum);
                }
                // O = P V, then each row divided by its sum
                Gemm.gemm(1, rows, dv, kmax, pr, 0, 0, false, va, vo + p * sk * dv, 0, false, oa, oi, 1f, 0f);
                for (int r = 0; r < rows; r++) scaleRow(oa, oi + r * dv, pr[rs + r], dv);
            }
        });
    }

    static void attentionBackward(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, Tensor gOut, boolean causal,
                                  float scale, Tensor gq, Tensor gk, Tensor gv) {
        int bh = q.shape(0) * q.shape(1), tq = q.shape(2), dim = q.shape(3), sk = k.shape(2), dv = v.shape(3);
        float[] qa = q.floats(), ka = k.floats(), va = v.floats(), oa = out.floats(), la = lse.floats(), ga = gOut.floats();
        float[] gqa = gq.floats(), gka = gk.floats(), gva = gv.floats();
        int qo = q.offset(), ko = k.offset(), vo = v.offset(), oo = out.offset(), lo = lse.offset(), go = gOut.offset();
        int gqo = gq.offset(), gko = gk.offset(), gvo = gv.offset();
        WorkerPool.global().parallelFor(bh, 1, (s, e) -> {
            for (int p = s; p < e; p++) {
                int kmax = visible(causal, tq - 1, tq, sk);
                int qb = qo + p * tq * dim, gb = go + p * tq * dv, kb = ko + p * sk * dim, vb = vo + p * sk * dv;
                int gqb = gqo + p * tq * dim, gkb = gko + p * sk * dim, gvb = gvo + p * sk * dv;
                Arrays.fill(gka, gkb + kmax * dim, gkb + sk * dim, 0f);
                Arrays.fill(gva, gvb + kmax * dv, gvb + sk * dv, 0f);
                if (kmax == 0) {
                    Arrays.fill(gqa, gqb, gqb + tq * dim, 0f);
                    continue;
                }
                int size = tq * kmax;
                float[] buf = scratch(3 * size);
                int pr = 0, dp = size, ds = 2 * size;                    // probabilities, dP, dS * scale
                Gemm.gemm(1, tq, kmax, dim, qa, qb, 0, false, ka, kb, 0, true, buf, pr, scale, 0f);
                Gemm.gemm(1, tq, kmax, dv, ga, gb, 0, false, va, vb, 0, true, buf, dp, 1f, 0f); // dP = gOut V^T
                for (int t = 0; t < tq; t++) {
                    int n = visible(causal, t, tq, sk), row = p * tq + t, at = t * kmax;
                    if (n > 0) RowReduce.expSum(buf, pr + at, la[lo + row], buf, pr + at, n); // exp(s - lse)
                    Arrays.fill(buf, pr + at + n, pr + at + kmax, 0f);
                    float delta = RowReduce.dot(ga, go + row * dv, oa, oo + row * dv, dv);
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
        });
    }

    /**
     * Rotary embedding on interleaved pairs of x [N, T, H, D] with cos, sin [T, D/2] (any strides):
     * {@code (x0, x1) -> (x0 c - x1 s, x0 s + x1 c)}, by the negative angle when inverse. out must not alias x.
     */
    static void rope(Tensor x, Tensor cos, Tensor sin, boolean inverse, Tensor out) {
        int tq = x.shape(1), heads = x.shape(2), dim = x.shape(3), half = dim / 2;
        int rows = x.numel() / Math.max(1, dim);
        float[] xa = x.floats(), oa = out.floats(), ca = cos.floats(), sa = sin.floats();
        int xo = x.offset(), oo = out.offset(), co = cos.offset(), so = sin.offset();
        int cs0 = cos.stride(0), cs1 = cos.stride(1), ss0 = sin.stride(0), ss1 = sin.stride(1);
        WorkerPool.global().parallelFor(rows, Math.max(1, 8192 / Math.max(1, dim)), (s, e) -> {
            for (int r = s; r < e; r++) {
                int t = (r / heads) % tq, xi = xo + r * dim, oi = oo + r * dim;
                for (int i = 0; i < half; i++) {
                    float c = ca[co + t * cs0 + i * cs1], sn = sa[so + t * ss0 + i * ss1];
                    if (inverse) sn = -sn;
                    float x0 = xa[xi + 2 * i], x1 = xa[xi + 2 * i + 1];
                    oa[oi + 2 * i] = x0 * c - x1 * sn;
                    oa[oi + 2 * i + 1] = x0 * sn + x1 * c;
                }
            }
        });
    }
}
