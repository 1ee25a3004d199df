package org.tessella.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.tessella.tensor.Tensor;

/**
 * LayerNorm, RMSNorm and GroupNorm, forward and backward, on contiguous tensors. Rows (or groups) are independent and
 * split over the worker pool; their statistics go through {@link RowReduce}. The weight and bias gradients are sums
 * over rows: they are split by column instead, each column summing its rows in order, so every result is the same
 * whatever the thread count or vector width. GroupNorm also comes fused with the SiLU after it (VQGAN's norm and
 * nonlinearity): the activation is applied, and in the backward pass its gradient taken, on each channel's row while
 * the row is in cache, so the normalised values are neither stored nor read back. Lane-wise formulas are written identically in vector bodies and scalar
 * tails (same operations, same fma) so a column's value never depends on whether it fell in a tail.
 */
final class Norms {
    private Norms() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();

    private static int grain(int d) { return Math.max(1, 8192 / Math.max(1, d)); }

    private static float[] arr(Tensor t) { return t == null ? null : t.floats(); }

    private static int off(Tensor t) { return t == null ? 0 : t.offset(); }

    /**
     * The affine output over one row segment: {@code y[i] = (x[i] - mean) * rstd * w[wi + i] + b[bi + i]}, where w
     * and b may be null.
     */
    private static void affine(float[] x, int xi, float mean, float rstd, float[] w, int wi, float[] b, int bi,
                               float[] y, int yi, int n) {
        int i = 0;
        for (; i < S.loopBound(n); i += L) {
            FloatVector h = FloatVector.fromArray(S, x, xi + i).sub(mean).mul(rstd);
            if (w != null && b != null) h = h.fma(FloatVector.fromArray(S, w, wi + i), FloatVector.fromArray(S, b, bi + i));
            else if (w != null) h = h.mul(FloatVector.fromArray(S, w, wi + i));
            else if (b != null) h = h.add(FloatVector.fromArray(S, b, bi + i));
            h.intoArray(y, yi + i);
        }
        for (; i < n; i++) {
            float h = (x[xi + i] - mean) * rstd;
            if (w != null && b != null) h = Math.fma(h, w[wi + i], b[bi + i]);
            else if (w != null) h = h * w[wi + i];
            else if (b != null) h = h + b[bi + i];
            y[yi + i] = h;
        }
    }

    /** {@code y[i] = (x[i] - mean) * rstd * w + b} with per-channel scalars (GroupNorm); hasW / hasB as in affine. */
    private static void affineConst(float[] x, int xi, float mean, float rstd, boolean hasW, float w, boolean hasB,
                                    float b, float[] y, int yi, int n) {
        int i = 0;
        for (; i < S.loopBound(n); i += L) {
            FloatVector h = FloatVector.fromArray(S, x, xi + i).sub(mean).mul(rstd);
            if (hasW && hasB) h = h.fma(w, b);
            else if (hasW) h = h.mul(w);
            else if (hasB) h = h.add(b);
            h.intoArray(y, yi + i);
        }
        for (; i < n; i++) {
            float h = (x[xi + i] - mean) * rstd;
            if (hasW && hasB) h = Math.fma(h, w, b);
            else if (hasW) h = h * w;
            else if (hasB) h = h + b;
            y[yi + i] = h;
        }
    }

    /** {@code out[i] = g[i] * w[i]}, or a copy of g when w is null. */
    private static void mulInto(float[] g, int gi, float[] w, int wi, float[] out, int oi, int n) {
        if (w == null) { System.arraycopy(g, gi, out, oi, n); return; }
        int i = 0;
        for (; i < S.loopBound(n); i += L)
            FloatVector.fromArray(S, g, gi + i).mul(FloatVector.fromArray(S, w, wi + i)).intoArray(out, oi + i);
        for (; i < n; i++) out[oi + i] = g[gi + i] * w[wi + i];
    }

    /**
     * The normalisation backward over one row in place: gx holds dxhat = gy * w on entry and
     * {@code rstd * (dxhat - a - (x - mean) * rstd * b)} on exit.
     */
    private static void normBackwardRow(float[] x, int xi, float mean, float rstd, float a, float b,
                                        float[] gx, int oi, int n) {
        int i = 0;
        for (; i < S.loopBound(n); i += L) {
            FloatVector h = FloatVector.fromArray(S, x, xi + i).sub(mean).mul(rstd);
            FloatVector.fromArray(S, gx, oi + i).sub(a).sub(h.mul(b)).mul(rstd).intoArray(gx, oi + i);
        }
        for (; i < n; i++) {
            float h = (x[xi + i] - mean) * rstd;
            gx[oi + i] = ((gx[oi + i] - a) - h * b) * rstd;
        }
    }

    // ---- LayerNorm -----------------------------------------------------------------------------------------------

    static void layerNorm(Tensor x, Tensor weight, Tensor bias, float eps, Tensor y, Tensor mean, Tensor rstd) {
        int d = x.shape(-1), rows = d == 0 ? 0 : x.numel() / d;
        float[] xa = x.floats(), ya = y.floats(), ma = mean.floats(), ra = rstd.floats(), wa = arr(weight), ba = arr(bias);
        int xo = x.offset(), yo = y.offset(), mo = mean.offset(), ro = rstd.offset(), wo = off(weight), bo = off(bias);
        WorkerPool.global().parallelFor(rows, grain(d), (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int xi = xo + r * d;
                float mu = RowReduce.sum(xa, xi, d) / d;
                float rs = 1f / (float) Math.sqrt(RowReduce.sumSquaredDiff(xa, xi, mu, d) / d + eps);
                ma[mo + r] = mu;
                ra[ro + r] = rs;
                affine(xa, xi, mu, rs, wa, wo, ba, bo, ya, yo + r * d, d);
            }
        });
    }

    static void layerNormBackward(Tensor x, Tensor weight, Tensor mean, Tensor rstd, Tensor gy,
                                  Tensor gx, Tensor gWeight, Tensor gBias) {
        int d = x.shape(-1), rows = d == 0 ? 0 : x.numel() / d;
        float[] xa = x.floats(), ga = gy.floats(), oa = gx.floats(), ma = mean.floats(), ra = rstd.floats(), wa = arr(weight);
        int xo = x.offset(), go = gy.offset(), oo = gx.offset(), mo = mean.offset(), ro = rstd.offset(), wo = off(weight);
        WorkerPool.global().parallelFor(rows, grain(d), (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int xi = xo + r * d, oi = oo + r * d;
                float mu = ma[mo + r], rs = ra[ro + r];
                mulInto(ga, go + r * d, wa, wo, oa, oi, d);                            // dxhat
                float a = RowReduce.sum(oa, oi, d) / d;                                // mean(dxhat)
                float b = RowReduce.dotCentered(oa, oi, xa, xi, mu, d) * rs / d;       // mean(dxhat * xhat)
                normBackwardRow(xa, xi, mu, rs, a, b, oa, oi, d);
            }
        });
        paramGrads(xa, xo, ga, go, ma, mo, ra, ro, rows, d, arr(gWeight), off(gWeight), arr(gBias), off(gBias));
    }

    /**
     * gw[j] = sum over rows of gy * (x - mean[r]) * rstd[r] (or gy * x * rstd[r] when ma is null), gb[j] = sum of gy;
     * split by column, rows summed in order.
     */
    private static void paramGrads(float[] xa, int xo, float[] ga, int go, float[] ma, int mo, float[] ra, int ro,
                                   int rows, int d, float[] gw, int gwo, float[] gb, int gbo) {
        if (gw == null && gb == null) return;
        WorkerPool.global().parallelFor(d, 64, (c0, c1) -> {
            int n = c1 - c0;
            if (gw != null) java.util.Arrays.fill(gw, gwo + c0, gwo + c1, 0f);
            if (gb != null) java.util.Arrays.fill(gb, gbo + c0, gbo + c1, 0f);
            for (int r = 0; r < rows; r++) {
                float mu = ma == null ? 0f : ma[mo + r], rs = ra[ro + r];
                int xi = xo + r * d + c0, gi = go + r * d + c0;
                int i = 0;
                for (; i < S.loopBound(n); i += L) {
                    FloatVector g = FloatVector.fromArray(S, ga, gi + i);
                    if (gw != null) {
                        FloatVector h = FloatVector.fromArray(S, xa, xi + i).sub(mu).mul(rs);
                        g.fma(h, FloatVector.fromArray(S, gw, gwo + c0 + i)).intoArray(gw, gwo + c0 + i);
                    }
                    if (gb != null) g.add(FloatVector.fromArray(S, gb, gbo + c0 + i)).intoArray(gb, gbo + c0 + i);
                }
                for (; i < n; i++) {
                    float g = ga[gi + i];
                    if (gw != null) gw[gwo + c0 + i] = Math.fma(g, (xa[xi + i] - mu) * rs, gw[gwo + c0 + i]);
                    if (gb != null) gb[gbo + c0 + i] = g + gb[gbo + c0 + i];
                }
            }
        });
    }

    // ---- RMSNorm -------------------------------------------------------------------------------------------------

    static void rmsNorm(Tensor x, Tensor weight, float eps, Tensor y, Tensor rstd) {
        int d = x.shape(-1), rows = d == 0 ? 0 : x.numel() / d;
        float[] xa = x.floats(), ya = y.floats(), ra = rstd.floats(), wa = arr(weight);
        int xo = x.offset(), yo = y.offset(), ro = rstd.offset(), wo = off(weight);
        WorkerPool.global().parallelFor(rows, grain(d), (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int xi = xo + r * d;
                float rs = 1f / (float) Math.sqrt(RowReduce.sumSquares(xa, xi, d) / d + eps);
                ra[ro + r] = rs;
                affine(xa, xi, 0f, rs, wa, wo, null, 0, ya, yo + r * d, d);
            }
        });
    }

    /** gx = rstd * (dxhat - xhat * mean(dxhat * xhat)) with xhat = x * rstd, dxhat = gy * w. */
    static void rmsNormBackward(Tensor x, Tensor weight, Tensor rstd, Tensor gy, Tensor gx, Tensor gWeight) {
        int d = x.shape(-1), rows = d == 0 ? 0 : x.numel() / d;
        float[] xa = x.floats(), ga = gy.floats(), oa = gx.floats(), ra = rstd.floats(), wa = arr(weight);
        int xo = x.offset(), go = gy.offset(), oo = gx.offset(), ro = rstd.offset(), wo = off(weight);
        WorkerPool.global().parallelFor(rows, grain(d), (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int xi = xo + r * d, oi = oo + r * d;
                float rs = ra[ro + r];
                mulInto(ga, go + r * d, wa, wo, oa, oi, d);
                float b = RowReduce.dot(oa, oi, xa, xi, d) * rs / d;
                normBackwardRow(xa, xi, 0f, rs, 0f, b, oa, oi, d);
            }
        });
        paramGrads(xa, xo, ga, go, null, 0, ra, ro, rows, d, arr(gWeight), off(gWeight), null, 0);
    }

    // ---- GroupNorm -----------------------------------------------------------------------------------------------

    static void groupNorm(Tensor x, int groups, Tensor weight, Tensor bias, float eps, Tensor y, Tensor mean, Tensor rstd) {
        groupNorm(x, groups, weight, bias, eps, y, mean, rstd, false);
    }

    /** GroupNorm, then (silu) SiLU on each channel's row while it is in cache. */
    static void groupNorm(Tensor x, int groups, Tensor weight, Tensor bias, float eps, Tensor y, Tensor mean, Tensor rstd,
                          boolean silu) {
        int n = x.shape(0), c = x.shape(1), cpg = c / groups;
        int hw = n * c == 0 ? 0 : x.numel() / (n * c), m = cpg * hw;
        float[] xa = x.floats(), ya = y.floats(), ma = mean.floats(), ra = rstd.floats(), wa = arr(weight), ba = arr(bias);
        int xo = x.offset(), yo = y.offset(), mo = mean.offset(), ro = rstd.offset(), wo = off(weight), bo = off(bias);
        WorkerPool.global().parallelFor(n * groups, grain(m), (s, e) -> {
            for (int ng = s; ng < e; ng++) {
                int base = ng * m;
                float mu = RowReduce.sum(xa, xo + base, m) / m;
                float rs = 1f / (float) Math.sqrt(RowReduce.sumSquaredDiff(xa, xo + base, mu, m) / m + eps);
                ma[mo + ng] = mu;
                ra[ro + ng] = rs;
                int c0 = (ng % groups) * cpg;
                for (int j = 0; j < cpg; j++) {
                    int ch = c0 + j, o = base + j * hw;
                    affineConst(xa, xo + o, mu, rs, wa != null, wa == null ? 0f : wa[wo + ch],
                            ba != null, ba == null ? 0f : ba[bo + ch], ya, yo + o, hw);
                    if (silu) Elementwise.siluLoop(ya, yo + o, ya, yo + o, 0, hw);
                }
            }
        });
    }

    static void groupNormBackward(Tensor x, int groups, Tensor weight, Tensor mean, Tensor rstd, Tensor gy,
                                  Tensor gx, Tensor gWeight, Tensor gBias) {
        groupNormBackward(x, groups, weight, null, mean, rstd, gy, gx, gWeight, gBias, false);
    }

    /**
     * GroupNorm's backward, or (silu) that of SiLU after GroupNorm: each channel's row of the normalised values z is
     * then recomputed into gx (the forward's arithmetic), turned into {@code gz = gy * silu'(z)} in place, and the
     * rest runs on gz instead of gy: the same values as SiLU's backward followed by GroupNorm's.
     */
    static void groupNormBackward(Tensor x, int groups, Tensor weight, Tensor bias, Tensor mean, Tensor rstd, Tensor gy,
                                  Tensor gx, Tensor gWeight, Tensor gBias, boolean silu) {
        int n = x.shape(0), c = x.shape(1), cpg = c / groups;
        int hw = n * c == 0 ? 0 : x.numel() / (n * c), m = cpg * hw;
        float[] xa = x.floats(), ga = gy.floats(), oa = gx.floats(), ma = mean.floats(), ra = rstd.floats(), wa = arr(weight);
        int xo = x.offset(), go = gy.offset(), oo = gx.offset(), mo = mean.offset(), ro = rstd.offset(), wo = off(weight);
        float[] gw = arr(gWeight), gb = arr(gBias), ba = arr(bias);
        int gwo = off(gWeight), gbo = off(gBias), bo = off(bias);
        // each (image, channel)'s terms of the weight and bias gradients, taken while its rows are in cache; they are
        // then added over images in order below (the same values and order as a separate pass over gy and x)
        // (in the step's workspace when one is open: a steady-state step allocates no array)
        Tensor twT = gw == null ? null : Tensor.empty(org.tessella.tensor.DType.F32, n * c);
        Tensor tbT = gb == null ? null : Tensor.empty(org.tessella.tensor.DType.F32, n * c);
        float[] tw = twT == null ? null : twT.floats(), tb = tbT == null ? null : tbT.floats();
        int twO = twT == null ? 0 : twT.offset(), tbO = tbT == null ? 0 : tbT.offset();
        WorkerPool.global().parallelFor(n * groups, grain(m), (s, e) -> {
            for (int ng = s; ng < e; ng++) {
                int base = ng * m, c0 = (ng % groups) * cpg;
                float mu = ma[mo + ng], rs = ra[ro + ng];
                for (int j = 0; j < cpg; j++) {                                        // dxhat = gy * w[channel]
                    int o = base + j * hw, t = ng / groups * c + c0 + j, ch = c0 + j;
                    float[] g = ga;
                    int gi = go + o;
                    if (silu) { // gz = gy * silu'(z) into gx, z recomputed there first
                        affineConst(xa, xo + o, mu, rs, wa != null, wa == null ? 0f : wa[wo + ch],
                                ba != null, ba == null ? 0f : ba[bo + ch], oa, oo + o, hw);
                        Elementwise.siluGradLoop(oa, oo + o, ga, go + o, oa, oo + o, 0, hw);
                        g = oa;
                        gi = oo + o;
                    }
                    if (tw != null) tw[twO + t] = RowReduce.dotCentered(g, gi, xa, xo + o, mu, hw) * rs;
                    if (tb != null) tb[tbO + t] = RowReduce.sum(g, gi, hw);
                    if (wa == null) System.arraycopy(g, gi, oa, oo + o, hw);
                    else scaleRow(g, gi, wa[wo + ch], oa, oo + o, hw);
                }
                float a = RowReduce.sum(oa, oo + base, m) / m;
                float b = RowReduce.dotCentered(oa, oo + base, xa, xo + base, mu, m) * rs / m;
                normBackwardRow(xa, xo + base, mu, rs, a, b, oa, oo + base, m);
            }
        });
        if (gw == null && gb == null) return;
        for (int ch = 0; ch < c; ch++) {
            float sw = 0f, sb = 0f;
            for (int i = 0; i < n; i++) {
                if (tw != null) sw += tw[twO + i * c + ch];
                if (tb != null) sb += tb[tbO + i * c + ch];
            }
            if (gw != null) gw[gwo + ch] = sw;
            if (gb != null) gb[gbo + ch] = sb;
        }
    }

    private static void scaleRow(float[] a, int ai, float s, float[] out, int oi, int n) {
        int i = 0;
        for (; i < S.loopBound(n); i += L) FloatVector.fromArray(S, a, ai + i).mul(s).intoArray(out, oi + i);
        for (; i < n; i++) out[oi + i] = a[ai + i] * s;
    }
}
