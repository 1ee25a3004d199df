package org.tessella.autograd;

import org.tessella.tensor.Tensor;

import java.util.Arrays;
import java.util.function.DoubleBinaryOperator;
import java.util.function.DoubleUnaryOperator;

/**
 * Independent double-precision reference implementations (plain loops over {@code double[]}), written from the
 * mathematical definitions and not from the kernels, so {@link GradCheck} can differentiate them by central differences
 * with a tiny step and get a clean reference gradient.
 */
final class Ref {
    private Ref() {}

    /** A dense row-major double tensor. */
    record D(double[] v, int[] shape) {
        D {
            if (Ref.numel(shape) != v.length)
                throw new IllegalArgumentException(v.length + " values for shape " + Arrays.toString(shape));
        }

        static D zeros(int... shape) { return new D(new double[Ref.numel(shape)], shape.clone()); }

        static D of(Tensor t) {
            float[] f = t.toFloatArray();
            double[] d = new double[f.length];
            for (int i = 0; i < f.length; i++) d[i] = f[i];
            return new D(d, t.shape().clone());
        }

        int numel() { return v.length; }

        int rank() { return shape.length; }

        int dim(int axis) { return shape[axis < 0 ? axis + shape.length : axis]; }

        double at(int... idx) { return v[flat(shape, idx)]; }

        D copy() { return new D(v.clone(), shape.clone()); }
    }

    // ---- index helpers -------------------------------------------------------------------------------------------

    static int numel(int[] shape) {
        int n = 1;
        for (int d : shape) n *= d;
        return n;
    }

    static int[] strides(int[] shape) {
        int[] s = new int[shape.length];
        int acc = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            s[i] = acc;
            acc *= shape[i];
        }
        return s;
    }

    static int flat(int[] shape, int[] idx) {
        int o = 0;
        for (int i = 0; i < shape.length; i++) o = o * shape[i] + idx[i];
        return o;
    }

    static int[] unravel(int[] shape, int f) {
        int[] idx = new int[shape.length];
        for (int i = shape.length - 1; i >= 0; i--) {
            idx[i] = f % shape[i];
            f /= shape[i];
        }
        return idx;
    }

    static int[] broadcastShape(int[] a, int[] b) {
        int r = Math.max(a.length, b.length);
        int[] out = new int[r];
        for (int i = 0; i < r; i++) {
            int da = i < r - a.length ? 1 : a[i - (r - a.length)];
            int db = i < r - b.length ? 1 : b[i - (r - b.length)];
            if (da != db && da != 1 && db != 1) throw new IllegalArgumentException("no broadcast");
            out[i] = da == 1 ? db : da;
        }
        return out;
    }

    /** Offset into a tensor of shape {@code in} of the output index {@code idx} (broadcast: size-1 dims read 0). */
    static int bOffset(int[] in, int[] idx) {
        int lead = idx.length - in.length, o = 0;
        for (int i = 0; i < in.length; i++) o = o * in[i] + (in[i] == 1 ? 0 : idx[i + lead]);
        return o;
    }

    // ---- elementwise ---------------------------------------------------------------------------------------------

    static D map(D a, DoubleUnaryOperator f) {
        double[] o = new double[a.numel()];
        for (int i = 0; i < o.length; i++) o[i] = f.applyAsDouble(a.v[i]);
        return new D(o, a.shape.clone());
    }

    static D zip(D a, D b, DoubleBinaryOperator f) {
        int[] s = broadcastShape(a.shape, b.shape);
        double[] o = new double[numel(s)];
        for (int i = 0; i < o.length; i++) {
            int[] idx = unravel(s, i);
            o[i] = f.applyAsDouble(a.v[bOffset(a.shape, idx)], b.v[bOffset(b.shape, idx)]);
        }
        return new D(o, s);
    }

    static D add(D a, D b) { return zip(a, b, Double::sum); }
    static D sub(D a, D b) { return zip(a, b, (x, y) -> x - y); }
    static D mul(D a, D b) { return zip(a, b, (x, y) -> x * y); }
    static D div(D a, D b) { return zip(a, b, (x, y) -> x / y); }
    static D scale(D a, double s) { return map(a, x -> x * s); }

    static D where(D c, D a, D b) {
        int[] s = broadcastShape(broadcastShape(c.shape, a.shape), b.shape);
        double[] o = new double[numel(s)];
        for (int i = 0; i < o.length; i++) {
            int[] idx = unravel(s, i);
            o[i] = c.v[bOffset(c.shape, idx)] != 0 ? a.v[bOffset(a.shape, idx)] : b.v[bOffset(b.shape, idx)];
        }
        return new D(o, s);
    }

    static double sigmoid(double x) { return 1 / (1 + Math.exp(-x)); }

    /** erf to full double precision for |x| < 4 (Taylor series), 1 - erfc asymptotics beyond. */
    static double erf(double x) {
        double ax = Math.abs(x);
        if (ax > 5) return Math.signum(x);
        double sum = 0, term = x;
        for (int n = 0; n < 200; n++) {
            double t = term / (2 * n + 1);
            sum += t;
            if (Math.abs(t) < 1e-18 * Math.abs(sum)) break;
            term = -term * x * x / (n + 1);
        }
        return 2 / Math.sqrt(Math.PI) * sum;
    }

    static double gelu(double x) { return 0.5 * x * (1 + erf(x / Math.sqrt(2))); }

    static double geluTanh(double x) {
        return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
    }

    // ---- reductions ----------------------------------------------------------------------------------------------

    static int ax(int axis, int rank) { return axis < 0 ? axis + rank : axis; }

    /** Sum (or max) over axes, all axes when none given. */
    static D reduce(D a, boolean max, boolean keepDims, int... axes) {
        boolean[] red = new boolean[a.rank()];
        if (axes.length == 0) Arrays.fill(red, true);
        for (int x : axes) red[ax(x, a.rank())] = true;
        int[] keep = a.shape.clone();
        for (int i = 0; i < keep.length; i++) if (red[i]) keep[i] = 1;
        double[] o = new double[numel(keep)];
        if (max) Arrays.fill(o, Double.NEGATIVE_INFINITY);
        for (int i = 0; i < a.numel(); i++) {
            int[] idx = unravel(a.shape, i);
            for (int d = 0; d < idx.length; d++) if (red[d]) idx[d] = 0;
            int f = flat(keep, idx);
            o[f] = max ? Math.max(o[f], a.v[i]) : o[f] + a.v[i];
        }
        if (keepDims) return new D(o, keep);
        int n = 0;
        for (boolean r : red) if (!r) n++;
        int[] s = new int[n];
        for (int i = 0, j = 0; i < keep.length; i++) if (!red[i]) s[j++] = a.shape[i];
        return new D(o, s);
    }

    static D sum(D a, boolean keepDims, int... axes) { return reduce(a, false, keepDims, axes); }

    static D mean(D a, boolean keepDims, int... axes) {
        D s = sum(a, keepDims, axes);
        return scale(s, (double) s.numel() / a.numel());
    }

    static D var(D a, int correction, boolean keepDims, int... axes) {
        D m = mean(a, true, axes);
        D c = sub(a, m);
        D s = sum(mul(c, c), keepDims, axes);
        int n = a.numel() / m.numel();
        return scale(s, 1.0 / Math.max(1, n - correction));
    }

    // ---- views ---------------------------------------------------------------------------------------------------

    static D reshape(D a, int... shape) {
        int[] s = shape.clone();
        int unknown = -1, known = 1;
        for (int i = 0; i < s.length; i++) if (s[i] == -1) unknown = i; else known *= s[i];
        if (unknown >= 0) s[unknown] = a.numel() / known;
        return new D(a.v.clone(), s);
    }

    static D permute(D a, int... axes) {
        int[] s = new int[axes.length];
        for (int i = 0; i < axes.length; i++) s[i] = a.shape[ax(axes[i], a.rank())];
        double[] o = new double[a.numel()];
        int[] src = new int[axes.length];
        for (int i = 0; i < o.length; i++) {
            int[] idx = unravel(s, i);
            for (int d = 0; d < axes.length; d++) src[ax(axes[d], a.rank())] = idx[d];
            o[i] = a.v[flat(a.shape, src)];
        }
        return new D(o, s);
    }

    static D transpose(D a, int i, int j) {
        int[] axes = new int[a.rank()];
        for (int d = 0; d < axes.length; d++) axes[d] = d;
        i = ax(i, a.rank());
        j = ax(j, a.rank());
        axes[i] = j;
        axes[j] = i;
        return permute(a, axes);
    }

    static D expand(D a, int... shape) {
        double[] o = new double[numel(shape)];
        for (int i = 0; i < o.length; i++) o[i] = a.v[bOffset(a.shape, unravel(shape, i))];
        return new D(o, shape.clone());
    }

    static D slice(D a, int axis, int start, int end) {
        int x = ax(axis, a.rank());
        int[] s = a.shape.clone();
        s[x] = end - start;
        double[] o = new double[numel(s)];
        for (int i = 0; i < o.length; i++) {
            int[] idx = unravel(s, i);
            idx[x] += start;
            o[i] = a.v[flat(a.shape, idx)];
        }
        return new D(o, s);
    }

    static D concat(int axis, D... xs) {
        int x = ax(axis, xs[0].rank());
        int[] s = xs[0].shape.clone();
        s[x] = 0;
        for (D d : xs) s[x] += d.shape[x];
        double[] o = new double[numel(s)];
        for (int i = 0; i < o.length; i++) {
            int[] idx = unravel(s, i);
            int k = 0;
            while (idx[x] >= xs[k].shape[x]) idx[x] -= xs[k++].shape[x];
            o[i] = xs[k].v[flat(xs[k].shape, idx)];
        }
        return new D(o, s);
    }

    /** out[..i..] = x[.. idx[..i..] ..] along axis. */
    static D gather(D x, int axis, int[] idx, int[] idxShape) {
        int a = ax(axis, x.rank());
        double[] o = new double[numel(idxShape)];
        for (int i = 0; i < o.length; i++) {
            int[] id = unravel(idxShape, i);
            id[a] = idx[i];
            o[i] = x.v[flat(x.shape, id)];
        }
        return new D(o, idxShape.clone());
    }

    // ---- matmul --------------------------------------------------------------------------------------------------

    static D matmul(D a, D b) {
        int m = a.dim(-2), k = a.dim(-1), n = b.dim(-1);
        if (b.dim(-2) != k) throw new IllegalArgumentException("inner dims");
        int[] ab = Arrays.copyOf(a.shape, a.rank() - 2), bb = Arrays.copyOf(b.shape, b.rank() - 2);
        int[] batch = broadcastShape(ab, bb);
        int[] s = Arrays.copyOf(batch, batch.length + 2);
        s[batch.length] = m;
        s[batch.length + 1] = n;
        double[] o = new double[numel(s)];
        int nb = numel(batch);
        for (int bi = 0; bi < nb; bi++) {
            int[] idx = unravel(batch, bi);
            int ao = bOffset(ab, idx) * m * k, bo = bOffset(bb, idx) * k * n;
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++) {
                    double acc = 0;
                    for (int p = 0; p < k; p++) acc += a.v[ao + i * k + p] * b.v[bo + p * n + j];
                    o[(bi * m + i) * n + j] = acc;
                }
        }
        return new D(o, s);
    }

    // ---- row ops -------------------------------------------------------------------------------------------------

    static D softmax(D x) {
        int c = x.dim(-1), rows = x.numel() / c;
        double[] o = new double[x.numel()];
        for (int r = 0; r < rows; r++) {
            double mx = Double.NEGATIVE_INFINITY, s = 0;
            for (int j = 0; j < c; j++) mx = Math.max(mx, x.v[r * c + j]);
            for (int j = 0; j < c; j++) s += Math.exp(x.v[r * c + j] - mx);
            for (int j = 0; j < c; j++) o[r * c + j] = Math.exp(x.v[r * c + j] - mx) / s;
        }
        return new D(o, x.shape.clone());
    }

    static D logSoftmax(D x) {
        int c = x.dim(-1), rows = x.numel() / c;
        double[] o = new double[x.numel()];
        for (int r = 0; r < rows; r++) {
            double lse = logSumExp(x.v, r * c, c);
            for (int j = 0; j < c; j++) o[r * c + j] = x.v[r * c + j] - lse;
        }
        return new D(o, x.shape.clone());
    }

    static double logSumExp(double[] v, int off, int n) {
        double mx = Double.NEGATIVE_INFINITY, s = 0;
        for (int j = 0; j < n; j++) mx = Math.max(mx, v[off + j]);
        for (int j = 0; j < n; j++) s += Math.exp(v[off + j] - mx);
        return mx + Math.log(s);
    }

    /** Mean cross-entropy over rows whose target is not ignoreIndex (0 when all are ignored). */
    static D crossEntropy(D logits, int[] targets, int ignoreIndex) {
        int c = logits.dim(-1), rows = logits.numel() / c, count = 0;
        double total = 0;
        for (int r = 0; r < rows; r++) {
            if (targets[r] == ignoreIndex) continue;
            total += logSumExp(logits.v, r * c, c) - logits.v[r * c + targets[r]];
            count++;
        }
        return new D(new double[]{count == 0 ? 0 : total / count}, new int[0]);
    }

    // ---- normalisation -------------------------------------------------------------------------------------------

    static D layerNorm(D x, D w, D b, double eps) {
        int d = x.dim(-1), rows = x.numel() / d;
        double[] o = new double[x.numel()];
        for (int r = 0; r < rows; r++) {
            double m = 0, v = 0;
            for (int j = 0; j < d; j++) m += x.v[r * d + j];
            m /= d;
            for (int j = 0; j < d; j++) v += (x.v[r * d + j] - m) * (x.v[r * d + j] - m);
            v /= d;
            double rs = 1 / Math.sqrt(v + eps);
            for (int j = 0; j < d; j++) {
                double y = (x.v[r * d + j] - m) * rs;
                if (w != null) y *= w.v[j];
                if (b != null) y += b.v[j];
                o[r * d + j] = y;
            }
        }
        return new D(o, x.shape.clone());
    }

    static D rmsNorm(D x, D w, double eps) {
        int d = x.dim(-1), rows = x.numel() / d;
        double[] o = new double[x.numel()];
        for (int r = 0; r < rows; r++) {
            double ms = 0;
            for (int j = 0; j < d; j++) ms += x.v[r * d + j] * x.v[r * d + j];
            double rs = 1 / Math.sqrt(ms / d + eps);
            for (int j = 0; j < d; j++) o[r * d + j] = x.v[r * d + j] * rs * (w == null ? 1 : w.v[j]);
        }
        return new D(o, x.shape.clone());
    }

    static D groupNorm(D x, int groups, D w, D b, double eps) {
        int n = x.dim(0), c = x.dim(1), sp = x.numel() / (n * c), cg = c / groups, len = cg * sp;
        double[] o = new double[x.numel()];
        for (int i = 0; i < n; i++)
            for (int g = 0; g < groups; g++) {
                int base = (i * c + g * cg) * sp;
                double m = 0, v = 0;
                for (int j = 0; j < len; j++) m += x.v[base + j];
                m /= len;
                for (int j = 0; j < len; j++) v += (x.v[base + j] - m) * (x.v[base + j] - m);
                v /= len;
                double rs = 1 / Math.sqrt(v + eps);
                for (int j = 0; j < len; j++) {
                    int ch = g * cg + j / sp;
                    double y = (x.v[base + j] - m) * rs;
                    if (w != null) y *= w.v[ch];
                    if (b != null) y += b.v[ch];
                    o[base + j] = y;
                }
            }
        return new D(o, x.shape.clone());
    }

    static D l2Normalize(D x, int axis, double eps) {
        D norm = map(sum(mul(x, x), true, axis), Math::sqrt);
        return div(x, map(norm, v -> Math.max(v, eps)));
    }

    // ---- lookup and images ---------------------------------------------------------------------------------------

    static D embedding(D table, int[] idx, int[] idxShape) {
        int d = table.dim(1);
        int[] s = Arrays.copyOf(idxShape, idxShape.length + 1);
        s[idxShape.length] = d;
        double[] o = new double[numel(s)];
        for (int i = 0; i < idx.length; i++) System.arraycopy(table.v, idx[i] * d, o, i * d, d);
        return new D(o, s);
    }

    static D conv2d(D x, D w, D bias, int stride, int pad) {
        int n = x.dim(0), c = x.dim(1), h = x.dim(2), wd = x.dim(3), oc = w.dim(0), kh = w.dim(2), kw = w.dim(3);
        int ho = (h + 2 * pad - kh) / stride + 1, wo = (wd + 2 * pad - kw) / stride + 1;
        double[] o = new double[n * oc * ho * wo];
        for (int i = 0; i < n; i++)
            for (int f = 0; f < oc; f++)
                for (int oy = 0; oy < ho; oy++)
                    for (int ox = 0; ox < wo; ox++) {
                        double acc = bias == null ? 0 : bias.v[f];
                        for (int ch = 0; ch < c; ch++)
                            for (int a = 0; a < kh; a++)
                                for (int b = 0; b < kw; b++) {
                                    int iy = oy * stride - pad + a, ix = ox * stride - pad + b;
                                    if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                                    acc += x.v[((i * c + ch) * h + iy) * wd + ix] * w.v[((f * c + ch) * kh + a) * kw + b];
                                }
                        o[((i * oc + f) * ho + oy) * wo + ox] = acc;
                    }
        return new D(o, new int[]{n, oc, ho, wo});
    }

    static D upsampleNearest(D x, int f) {
        int n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
        int[] s = {n, c, h * f, w * f};
        double[] o = new double[numel(s)];
        for (int i = 0; i < o.length; i++) {
            int[] id = unravel(s, i);
            o[i] = x.at(id[0], id[1], id[2] / f, id[3] / f);
        }
        return new D(o, s);
    }

    static D avgPool2d(D x, int k, int stride) {
        int n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
        int ho = (h - k) / stride + 1, wo = (w - k) / stride + 1;
        int[] s = {n, c, ho, wo};
        double[] o = new double[numel(s)];
        for (int i = 0; i < o.length; i++) {
            int[] id = unravel(s, i);
            double acc = 0;
            for (int a = 0; a < k; a++)
                for (int b = 0; b < k; b++) acc += x.at(id[0], id[1], id[2] * stride + a, id[3] * stride + b);
            o[i] = acc / (k * k);
        }
        return new D(o, s);
    }

    // ---- attention -----------------------------------------------------------------------------------------------

    static D attention(D q, D k, D v, boolean causal) {
        int b = q.dim(0), h = q.dim(1), t = q.dim(2), d = q.dim(3), s = k.dim(2), dv = v.dim(3);
        double scale = 1 / Math.sqrt(d);
        double[] o = new double[b * h * t * dv];
        double[] sc = new double[s];
        for (int bi = 0; bi < b; bi++)
            for (int hi = 0; hi < h; hi++)
                for (int ti = 0; ti < t; ti++) {
                    int limit = causal ? ti + (s - t) : s - 1;
                    double mx = Double.NEGATIVE_INFINITY;
                    for (int si = 0; si <= limit; si++) {
                        double acc = 0;
                        for (int j = 0; j < d; j++) acc += q.at(bi, hi, ti, j) * k.at(bi, hi, si, j);
                        sc[si] = acc * scale;
                        mx = Math.max(mx, sc[si]);
                    }
                    double z = 0;
                    for (int si = 0; si <= limit; si++) z += Math.exp(sc[si] - mx);
                    for (int j = 0; j < dv; j++) {
                        double acc = 0;
                        for (int si = 0; si <= limit; si++) acc += Math.exp(sc[si] - mx) / z * v.at(bi, hi, si, j);
                        o[((bi * h + hi) * t + ti) * dv + j] = acc;
                    }
                }
        return new D(o, new int[]{b, h, t, dv});
    }

    /** Rotary embedding on interleaved pairs of x [N, T, H, D] with angle tables [T, D/2]. */
    static D rope(D x, double[] cos, double[] sin) {
        int n = x.dim(0), t = x.dim(1), h = x.dim(2), d = x.dim(3), half = d / 2;
        double[] o = new double[x.numel()];
        for (int ni = 0; ni < n; ni++)
            for (int ti = 0; ti < t; ti++)
                for (int hi = 0; hi < h; hi++)
                    for (int i = 0; i < half; i++) {
                        int base = ((ni * t + ti) * h + hi) * d + 2 * i;
                        double c = cos[ti * half + i], s = sin[ti * half + i];
                        double x0 = x.v[base], x1 = x.v[base + 1];
                        o[base] = x0 * c - x1 * s;
                        o[base + 1] = x0 * s + x1 * c;
                    }
        return new D(o, x.shape.clone());
    }
}
