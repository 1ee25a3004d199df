package org.tessella.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import org.tessella.backend.BinaryOp;
import org.tessella.backend.UnaryOp;
import org.tessella.tensor.DType;
import org.tessella.tensor.Tensor;

import java.util.Arrays;

/**
 * Elementwise kernels: fill, strided copy, unary functions and their derivatives, broadcasting binary ops, and the
 * fused AdamW update. Every element is computed independently, so splitting by output is trivially deterministic;
 * each op's vector body and scalar tail run the same IEEE operations (transcendentals from {@link FastMath}).
 */
final class Elementwise {
    private Elementwise() {}

    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    private static final int GRAIN = 1 << 14;
    private static final float INV_SQRT2 = 0.70710678118654752f;
    private static final float INV_SQRT_2PI = 0.39894228040143268f;
    private static final float GELU_C = 0.79788456080286536f; // sqrt(2 / pi)
    private static final float GELU_K = 0.044715f;

    /** The body of a loop over the flat range [start, end) of contiguous operands. */
    private interface Flat {
        void run(int start, int end);
    }

    private static void flat(int n, Flat body) {
        WorkerPool.global().parallelFor(n, GRAIN, body::run);
    }

    /** A contiguous version of t with the given shape (t itself when it already is one). */
    private static Tensor dense(Tensor t, int[] shape) {
        if (t.isContiguous() && Arrays.equals(t.shape(), shape)) return t;
        Tensor c = Tensor.empty(t.dtype(), shape);
        copy(t.expand(shape), c);
        return c;
    }

    // ---- fill and copy -------------------------------------------------------------------------------------------

    static void fill(Tensor out, float value) {
        if (out.dtype() == DType.I32) {
            int[] o = out.ints();
            int base = out.offset();
            if (out.isContiguous()) Arrays.fill(o, base, base + out.numel(), (int) value);
            else copy(Tensor.ofInts(new int[]{(int) value}).expand(out.shape()), out);
            return;
        }
        if (out.isContiguous()) {
            float[] o = out.floats();
            int base = out.offset();
            flat(out.numel(), (s, e) -> Arrays.fill(o, base + s, base + e, value));
        } else {
            copy(Tensor.of(new float[]{value}).expand(out.shape()), out);
        }
    }

    static void copy(Tensor src, Tensor dst) {
        Strided it = Strided.of(dst.shape(), dst, src);
        int n = it.inner, ds = it.innerStride(0), ss = it.innerStride(1);
        boolean srcF = src.dtype() == DType.F32, dstF = dst.dtype() == DType.F32;
        WorkerPool.global().parallelFor(it.rows, Math.max(1, GRAIN / Math.max(1, n)), (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int d = it.rowOffset(0, r), s = it.rowOffset(1, r);
                if (srcF && dstF) copyRow(src.floats(), s, ss, dst.floats(), d, ds, n);
                else if (!srcF && !dstF) {
                    int[] a = src.ints(), b = dst.ints();
                    if (ss == 1 && ds == 1) System.arraycopy(a, s, b, d, n);
                    else for (int i = 0; i < n; i++) b[d + i * ds] = a[s + i * ss];
                } else if (srcF) {
                    float[] a = src.floats();
                    int[] b = dst.ints();
                    for (int i = 0; i < n; i++) b[d + i * ds] = (int) a[s + i * ss];
                } else {
                    int[] a = src.ints();
                    float[] b = dst.floats();
                    for (int i = 0; i < n; i++) b[d + i * ds] = a[s + i * ss];
                }
            }
        });
    }

    private static void copyRow(float[] a, int s, int ss, float[] b, int d, int ds, int n) {
        if (ss == 1 && ds == 1) System.arraycopy(a, s, b, d, n);
        else if (ss == 0 && ds == 1) Arrays.fill(b, d, d + n, a[s]);
        else for (int i = 0; i < n; i++) b[d + i * ds] = a[s + i * ss];
    }

    // ---- unary ---------------------------------------------------------------------------------------------------

    static void unary(UnaryOp op, Tensor x, Tensor out) {
        Tensor xd = dense(x, out.shape());
        float[] a = xd.floats(), o = out.floats();
        int ao = xd.offset(), oo = out.offset();
        flat(out.numel(), (s, e) -> unaryRange(op, a, ao, o, oo, s, e));
    }

    private static void unaryRange(UnaryOp op, float[] a, int ao, float[] o, int oo, int s, int e) {
        int i = s;
        int upper = s + S.loopBound(e - s);
        for (; i < upper; i += L) {
            FloatVector v = FloatVector.fromArray(S, a, ao + i);
            FloatVector r = switch (op) {
                case NEG -> v.neg();
                case EXP -> FastMath.exp(v);
                case LOG -> FastMath.log(v);
                case SQRT -> v.sqrt();
                case RSQRT -> v.broadcast(1f).div(v.sqrt());
                case ABS -> v.abs();
                case SQUARE -> v.mul(v);
                case RECIPROCAL -> v.broadcast(1f).div(v);
                case SIGN -> signVec(v);
                case TANH -> FastMath.tanh(v);
                case SIGMOID -> FastMath.sigmoid(v);
                case RELU -> v.max(0f);
                case SILU -> v.mul(FastMath.sigmoid(v));
                case GELU -> v.mul(0.5f).mul(FastMath.erf(v.mul(INV_SQRT2)).add(1f));
                case GELU_TANH -> v.mul(0.5f).mul(FastMath.tanh(v.mul(v).mul(v).fma(v.broadcast(GELU_K), v).mul(GELU_C)).add(1f));
            };
            r.intoArray(o, oo + i);
        }
        for (; i < e; i++) o[oo + i] = unaryScalar(op, a[ao + i]);
    }

    private static FloatVector signVec(FloatVector v) {
        FloatVector zero = v.broadcast(0f);
        return zero.blend(1f, v.compare(VectorOperators.GT, 0f)).blend(-1f, v.compare(VectorOperators.LT, 0f))
                .blend(v, v.test(VectorOperators.IS_NAN));
    }

    /** The scalar twin of each vector case above: the same operations in the same order. */
    static float unaryScalar(UnaryOp op, float v) {
        return switch (op) {
            case NEG -> -v;
            case EXP -> FastMath.exp(v);
            case LOG -> FastMath.log(v);
            case SQRT -> (float) Math.sqrt(v);
            case RSQRT -> 1f / (float) Math.sqrt(v);
            case ABS -> Math.abs(v);
            case SQUARE -> v * v;
            case RECIPROCAL -> 1f / v;
            case SIGN -> v > 0f ? 1f : v < 0f ? -1f : v == v ? 0f : v;
            case TANH -> FastMath.tanh(v);
            case SIGMOID -> FastMath.sigmoid(v);
            case RELU -> v != v ? v : Math.max(v, 0f);
            case SILU -> v * FastMath.sigmoid(v);
            case GELU -> v * 0.5f * (FastMath.erf(v * INV_SQRT2) + 1f);
            case GELU_TANH -> v * 0.5f * (FastMath.tanh(Math.fma(v * v * v, GELU_K, v) * GELU_C) + 1f);
        };
    }

    static void unaryBackward(UnaryOp op, Tensor x, Tensor y, Tensor gy, Tensor gx) {
        int[] shape = gx.shape();
        Tensor xd = dense(x, shape), yd = y == null ? null : dense(y, shape), gd = dense(gy, shape);
        float[] a = xd.floats(), yy = yd == null ? null : yd.floats(), g = gd.floats(), o = gx.floats();
        int ao = xd.offset(), yo = yd == null ? 0 : yd.offset(), go = gd.offset(), oo = gx.offset();
        flat(gx.numel(), (s, e) -> {
            int i = s;
            int upper = s + S.loopBound(e - s);
            for (; i < upper; i += L) {
                FloatVector v = FloatVector.fromArray(S, a, ao + i);
                FloatVector gv = FloatVector.fromArray(S, g, go + i);
                FloatVector d = switch (op) {
                    case RELU -> gv.blend(0f, v.compare(VectorOperators.LE, 0f));
                    case SILU -> {
                        FloatVector sg = FastMath.sigmoid(v);
                        yield gv.mul(sg.mul(v.mul(v.broadcast(1f).sub(sg)).add(1f)));
                    }
                    case SQUARE -> gv.mul(v.add(v));
                    case EXP -> gv.mul(FloatVector.fromArray(S, yy, yo + i));
                    case TANH -> {
                        FloatVector t = FloatVector.fromArray(S, yy, yo + i);
                        yield gv.mul(v.broadcast(1f).sub(t.mul(t)));
                    }
                    case SIGMOID -> {
                        FloatVector t = FloatVector.fromArray(S, yy, yo + i);
                        yield gv.mul(t.mul(v.broadcast(1f).sub(t)));
                    }
                    case GELU_TANH -> {
                        FloatVector u = v.mul(v).mul(v).fma(v.broadcast(GELU_K), v).mul(GELU_C);
                        FloatVector t = FastMath.tanh(u);
                        FloatVector du = v.mul(v).mul(3f * GELU_K).add(1f).mul(GELU_C);
                        FloatVector one = v.broadcast(1f);
                        yield gv.mul(t.add(1f).mul(0.5f).add(v.mul(0.5f).mul(one.sub(t.mul(t))).mul(du)));
                    }
                    default -> null;
                };
                if (d == null) break; // no vector form: the scalar loop below does the rest
                d.intoArray(o, oo + i);
            }
            for (; i < e; i++) {
                float yv = yy == null ? 0f : yy[yo + i];
                o[oo + i] = unaryDerivative(op, a[ao + i], yv, g[go + i]);
            }
        });
    }

    /** gy * op'(x), scalar; matches the vector cases above operation for operation. */
    static float unaryDerivative(UnaryOp op, float v, float y, float gv) {
        return switch (op) {
            case NEG -> -gv;
            case EXP -> gv * y;
            case LOG -> gv / v;
            case SQRT -> gv * 0.5f / y;
            case RSQRT -> gv * (-0.5f * y * y * y);
            case ABS -> v > 0f ? gv : v < 0f ? -gv : 0f;
            case SQUARE -> gv * (v + v);
            case RECIPROCAL -> -gv * y * y;
            case SIGN -> 0f;
            case TANH -> gv * (1f - y * y);
            case SIGMOID -> gv * (y * (1f - y));
            case RELU -> v <= 0f ? 0f : gv;
            case SILU -> {
                float sg = FastMath.sigmoid(v);
                yield gv * (sg * (v * (1f - sg) + 1f));
            }
            case GELU -> {
                float cdf = 0.5f * (FastMath.erf(v * INV_SQRT2) + 1f);
                float pdf = FastMath.exp(-0.5f * v * v) * INV_SQRT_2PI;
                yield gv * (cdf + v * pdf);
            }
            case GELU_TANH -> {
                float u = Math.fma(v * v * v, GELU_K, v) * GELU_C;
                float t = FastMath.tanh(u);
                float du = (v * v * (3f * GELU_K) + 1f) * GELU_C;
                yield gv * ((t + 1f) * 0.5f + v * 0.5f * (1f - t * t) * du);
            }
        };
    }

    // ---- binary --------------------------------------------------------------------------------------------------

    static void binary(BinaryOp op, Tensor a, Tensor b, Tensor out) {
        if (out.numel() == 0) return; // else an all-contiguous empty shape merges to one row of 0, and binaryRow reads a[ao]
        Strided it = Strided.of(out.shape(), out, a, b);
        int n = it.inner, sa = it.innerStride(1), sb = it.innerStride(2);
        float[] fa = a.floats(), fb = b.floats(), fo = out.floats();
        boolean vectorisable = (sa == 1 || sa == 0) && (sb == 1 || sb == 0) && it.innerStride(0) == 1 && arithmetic(op);
        int blocks = it.rows == 1 ? Math.max(1, n / GRAIN) : 1; // split a long single row too
        WorkerPool.global().parallelFor(it.rows * blocks, Math.max(1, GRAIN / Math.max(1, n)), (t0, t1) -> {
            for (int t = t0; t < t1; t++) {
                int r = t / blocks, blk = t % blocks;
                int s = (int) ((long) n * blk / blocks), e = (int) ((long) n * (blk + 1) / blocks);
                int oo = it.rowOffset(0, r), ao = it.rowOffset(1, r), bo = it.rowOffset(2, r);
                if (vectorisable) binaryRow(op, fa, ao, sa, fb, bo, sb, fo, oo, s, e);
                else for (int i = s; i < e; i++)
                    fo[oo + i * it.innerStride(0)] = binaryScalar(op, fa[ao + i * sa], fb[bo + i * sb]);
            }
        });
    }

    private static boolean arithmetic(BinaryOp op) {
        return switch (op) {
            case ADD, SUB, MUL, DIV, MAX, MIN -> true;
            default -> false;
        };
    }

    private static void binaryRow(BinaryOp op, float[] a, int ao, int sa, float[] b, int bo, int sb,
                                  float[] o, int oo, int s, int e) {
        FloatVector ca = FloatVector.broadcast(S, a[ao]), cb = FloatVector.broadcast(S, b[bo]);
        int i = s;
        int upper = s + S.loopBound(e - s);
        for (; i < upper; i += L) {
            FloatVector va = sa == 0 ? ca : FloatVector.fromArray(S, a, ao + i);
            FloatVector vb = sb == 0 ? cb : FloatVector.fromArray(S, b, bo + i);
            FloatVector r = switch (op) {
                case ADD -> va.add(vb);
                case SUB -> va.sub(vb);
                case MUL -> va.mul(vb);
                case DIV -> va.div(vb);
                case MAX -> va.max(vb);
                case MIN -> va.min(vb);
                default -> throw new AssertionError(op);
            };
            r.intoArray(o, oo + i);
        }
        for (; i < e; i++) o[oo + i] = binaryScalar(op, a[ao + i * sa], b[bo + i * sb]);
    }

    static float binaryScalar(BinaryOp op, float x, float y) {
        return switch (op) {
            case ADD -> x + y;
            case SUB -> x - y;
            case MUL -> x * y;
            case DIV -> x / y;
            // lanewise MAX/MIN propagate NaN like Math.max/min
            case MAX -> Math.max(x, y);
            case MIN -> Math.min(x, y);
            case POW -> (float) StrictMath.pow(x, y);
            case GT -> x > y ? 1f : 0f;
            case GE -> x >= y ? 1f : 0f;
            case LT -> x < y ? 1f : 0f;
            case LE -> x <= y ? 1f : 0f;
            case EQ -> x == y ? 1f : 0f;
            case NE -> x != y ? 1f : 0f;
        };
    }

    // ---- scalar-parameter ops ------------------------------------------------------------------------------------

    static void affine(Tensor x, float scale, float shift, Tensor out) {
        Tensor xd = dense(x, out.shape());
        float[] a = xd.floats(), o = out.floats();
        int ao = xd.offset(), oo = out.offset();
        flat(out.numel(), (s, e) -> {
            int i = s;
            int upper = s + S.loopBound(e - s);
            FloatVector vs = FloatVector.broadcast(S, scale), vt = FloatVector.broadcast(S, shift);
            for (; i < upper; i += L) FloatVector.fromArray(S, a, ao + i).fma(vs, vt).intoArray(o, oo + i);
            for (; i < e; i++) o[oo + i] = Math.fma(a[ao + i], scale, shift);
        });
    }

    static void powScalar(Tensor x, float exponent, Tensor out) {
        Tensor xd = dense(x, out.shape());
        float[] a = xd.floats(), o = out.floats();
        int ao = xd.offset(), oo = out.offset();
        flat(out.numel(), (s, e) -> {
            for (int i = s; i < e; i++) {
                float v = a[ao + i];
                o[oo + i] = exponent == 2f ? v * v : exponent == 1f ? v : exponent == 0.5f ? (float) Math.sqrt(v)
                        : (float) StrictMath.pow(v, exponent);
            }
        });
    }

    static void clamp(Tensor x, float lo, float hi, Tensor out) {
        Tensor xd = dense(x, out.shape());
        float[] a = xd.floats(), o = out.floats();
        int ao = xd.offset(), oo = out.offset();
        flat(out.numel(), (s, e) -> {
            int i = s;
            int upper = s + S.loopBound(e - s);
            for (; i < upper; i += L) FloatVector.fromArray(S, a, ao + i).max(lo).min(hi).intoArray(o, oo + i);
            for (; i < e; i++) o[oo + i] = Math.min(Math.max(a[ao + i], lo), hi);
        });
    }

    static void where(Tensor cond, Tensor a, Tensor b, Tensor out) {
        int[] shape = out.shape();
        Tensor c = dense(cond, shape), ad = dense(a, shape), bd = dense(b, shape);
        float[] fc = c.floats(), fa = ad.floats(), fb = bd.floats(), fo = out.floats();
        int co = c.offset(), ao = ad.offset(), bo = bd.offset(), oo = out.offset();
        flat(out.numel(), (s, e) -> {
            int i = s;
            int upper = s + S.loopBound(e - s);
            for (; i < upper; i += L) {
                VectorMask<Float> m = FloatVector.fromArray(S, fc, co + i).compare(VectorOperators.NE, 0f);
                FloatVector.fromArray(S, fb, bo + i).blend(FloatVector.fromArray(S, fa, ao + i), m).intoArray(fo, oo + i);
            }
            for (; i < e; i++) fo[oo + i] = fc[co + i] != 0f ? fa[ao + i] : fb[bo + i];
        });
    }

    // ---- AdamW ---------------------------------------------------------------------------------------------------

    static void adamw(Tensor param, Tensor grad, Tensor m, Tensor v, float lr, float beta1, float beta2, float eps,
                      float weightDecay, float c1, float c2) {
        float[] p = param.floats(), g = grad.floats(), fm = m.floats(), fv = v.floats();
        int po = param.offset(), go = grad.offset(), mo = m.offset(), vo = v.offset();
        float decay = 1f - lr * weightDecay, step = lr / c1, invC2 = 1f / c2;
        float ob1 = 1f - beta1, ob2 = 1f - beta2;
        flat(param.numel(), (s, e) -> {
            int i = s;
            int upper = s + S.loopBound(e - s);
            for (; i < upper; i += L) {
                FloatVector gv = FloatVector.fromArray(S, g, go + i);
                FloatVector mv = FloatVector.fromArray(S, fm, mo + i).mul(beta1).add(gv.mul(ob1));
                FloatVector vv = FloatVector.fromArray(S, fv, vo + i).mul(beta2).add(gv.mul(gv).mul(ob2));
                mv.intoArray(fm, mo + i);
                vv.intoArray(fv, vo + i);
                FloatVector denom = vv.mul(invC2).sqrt().add(eps);
                FloatVector pv = FloatVector.fromArray(S, p, po + i).mul(decay);
                pv.sub(mv.mul(step).div(denom)).intoArray(p, po + i);
            }
            for (; i < e; i++) {
                float gi = g[go + i];
                float mi = fm[mo + i] * beta1 + gi * ob1;
                float vi = fv[vo + i] * beta2 + gi * gi * ob2;
                fm[mo + i] = mi;
                fv[vo + i] = vi;
                float denom = (float) Math.sqrt(vi * invC2) + eps;
                p[po + i] = p[po + i] * decay - mi * step / denom;
            }
        });
    }
}
