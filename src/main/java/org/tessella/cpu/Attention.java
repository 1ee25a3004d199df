package org.tessella.cpu;

import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.tessella.tensor.Tensor;

/**
 * Fused scaled-dot-product attention and rotary embeddings on contiguous tensors.
 *
 * <p>Attention never holds more than one row of scores per query: the keys of one (batch, head) are transposed into a
 * per-thread scratch [D, S] so that a query's scores are D fused multiply-adds down contiguous key columns (each score
 * summed over d in order, whatever the vector width), then max, exp and sum go through {@link RowReduce}. The forward
 * pass saves the row log-sum-exp; the backward pass recomputes the probabilities from it (flash-attention style) and
 * splits work only over (batch, head) pairs, so the key and value gradients, which sum over queries, get their terms
 * in query order whatever the thread count.
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

    /** {@code dst[d * n + j] = src[so + j * dim + d]} for j < n, d < dim: rows [n, dim] to columns [dim, n]. */
    private static void transpose(float[] src, int so, int n, int dim, float[] dst, int dOff) {
        for (int j = 0; j < n; j++)
            for (int d = 0; d < dim; d++) dst[dOff + d * n + j] = src[so + j * dim + d];
    }

    /**
     * {@code out[j] = scale * sum_d a[ai + d] * cols[cOff + d * stride + j]} for j < n, each summed over d in order
     * with fma (the same for a vector lane and a scalar tail).
     */
    private static void rowTimesCols(float[] a, int ai, int dim, float[] cols, int cOff, int stride, int n,
                                     float scale, float[] out, int oOff) {
        Arrays.fill(out, oOff, oOff + n, 0f);
        int bound = S.loopBound(n);
        for (int d = 0; d < dim; d++) {
            float ad = a[ai + d];
            FloatVector av = FloatVector.broadcast(S, ad);
            int c = cOff + d * stride, j = 0;
            for (; j < bound; j += L)
                FloatVector.fromArray(S, cols, c + j).fma(av, FloatVector.fromArray(S, out, oOff + j)).intoArray(out, oOff + j);
            for (; j < n; j++) out[oOff + j] = Math.fma(cols[c + j], ad, out[oOff + j]);
        }
        if (scale != 1f) {
            int j = 0;
            for (; j < bound; j += L) FloatVector.fromArray(S, out, oOff + j).mul(scale).intoArray(out, oOff + j);
            for (; j < n; j++) out[oOff + j] *= scale;
        }
    }

    /** {@code y[yi + i] = fma(x[xi + i], a, y[yi + i])}. */
    private static void axpy(float a, float[] x, int xi, float[] y, int yi, int n) {
        FloatVector av = FloatVector.broadcast(S, a);
        int i = 0;
        for (; i < S.loopBound(n); i += L)
            FloatVector.fromArray(S, x, xi + i).fma(av, FloatVector.fromArray(S, y, yi + i)).intoArray(y, yi + i);
        for (; i < n; i++) y[yi + i] = Math.fma(x[xi + i], a, y[yi + i]);
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
                int kmax = visible(causal, t1 - 1, tq, sk);
                float[] buf = scratch(dim * kmax + sk);
                int sc = dim * kmax;                                   // scores row after the transposed keys
                transpose(ka, ko + p * sk * dim, kmax, dim, buf, 0);
                for (int t = t0; t < t1; t++) {
                    int n = visible(causal, t, tq, sk), row = p * tq + t, oi = oo + row * dv;
                    Arrays.fill(oa, oi, oi + dv, 0f);
                    if (n == 0) {
                        la[lo + row] = Float.NEGATIVE_INFINITY;
                        continue;
                    }
                    rowTimesCols(qa, qo + row * dim, dim, buf, 0, kmax, n, scale, buf, sc);
                    float m = RowReduce.max(buf, sc, n);
                    float sum = RowReduce.expSum(buf, sc, m, buf, sc, n);
                    for (int j = 0; j < n; j++) axpy(buf[sc + j], va, vo + (p * sk + j) * dv, oa, oi, dv);
                    scaleRow(oa, oi, 1f / sum, dv);
                    la[lo + row] = m + FastMath.log(sum);
                }
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
                float[] buf = scratch((dim + dv) * kmax + 2 * sk);
                int vt = dim * kmax, pr = vt + dv * kmax, ds = pr + sk;      // K^T, V^T, probabilities, dscores
                transpose(ka, ko + p * sk * dim, kmax, dim, buf, 0);
                transpose(va, vo + p * sk * dv, kmax, dv, buf, vt);
                int gkb = gko + p * sk * dim, gvb = gvo + p * sk * dv;
                Arrays.fill(gka, gkb, gkb + sk * dim, 0f);
                Arrays.fill(gva, gvb, gvb + sk * dv, 0f);
                for (int t = 0; t < tq; t++) {
                    int n = visible(causal, t, tq, sk), row = p * tq + t, qi = qo + row * dim, gi = go + row * dv;
                    int gqi = gqo + row * dim;
                    Arrays.fill(gqa, gqi, gqi + dim, 0f);
                    if (n == 0) continue;
                    rowTimesCols(qa, qi, dim, buf, 0, kmax, n, scale, buf, pr);
                    RowReduce.expSum(buf, pr, la[lo + row], buf, pr, n);         // probabilities exp(s - lse)
                    rowTimesCols(ga, gi, dv, buf, vt, kmax, n, 1f, buf, ds);   // dP = gOut . v_j
                    float delta = RowReduce.dot(ga, gi, oa, oo + row * dv, dv);
                    for (int j = 0; j < n; j++) {
                        float pj = buf[pr + j], dsj = pj * (buf[ds + j] - delta);
                        axpy(pj, ga, gi, gva, gvb + j * dv, dv);
                        axpy(dsj * scale, qa, qi, gka, gkb + j * dim, dim);
                        axpy(dsj, ka, ko + (p * sk + j) * dim, gqa, gqi, dim);
                    }
                    scaleRow(gqa, gqi, scale, dim);
                }
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
