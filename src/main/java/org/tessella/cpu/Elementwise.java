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
 *
 * <p>Shape of the code, and why: every vector loop is a small static method for one op ({@code expLoop},
 * {@code siluGradLoop}, ...); the op is picked by a {@code switch} once per call, outside any loop, and the body handed
 * to {@link WorkerPool#parallelFor} is a tiny lambda that only calls that method. A loop with a {@code switch} over
 * many ops inside it becomes one huge compilation unit once many ops have run (every case's profile is hot): C2 then
 * hits its inlining node budget, leaves FastMath's vector functions (or even the Vector API's own methods) out of
 * line, and every {@link FloatVector} crossing such a call is boxed on the heap, per iteration. One op per loop keeps
 * each unit small whatever else ran in the JVM. For the same reason no loop calls a helper that returns a vector,
 * except FastMath's functions (small enough to inline).
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

    /** Runs body over the flat range [0, n) of contiguous operands, split across the worker pool. */
    private static void flat(int n, WorkerPool.RangeBody body) {
        WorkerPool.global().parallelFor(n, GRAIN, body);
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
            Strided.Cursor cur = it.cursor(r0);
            for (int r = r0; r < r1; r++, cur.next()) {
                int d = cur.offset(0), s = cur.offset(1);
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
        flat(out.numel(), switch (op) { // one lambda per op: see the class comment
            case NEG -> (s, e) -> negLoop(a, ao, o, oo, s, e);
            case EXP -> (s, e) -> expLoop(a, ao, o, oo, s, e);
            case LOG -> (s, e) -> logLoop(a, ao, o, oo, s, e);
            case SQRT -> (s, e) -> sqrtLoop(a, ao, o, oo, s, e);
            case RSQRT -> (s, e) -> rsqrtLoop(a, ao, o, oo, s, e);
            case ABS -> (s, e) -> absLoop(a, ao, o, oo, s, e);
            case SQUARE -> (s, e) -> squareLoop(a, ao, o, oo, s, e);
            case RECIPROCAL -> (s, e) -> reciprocalLoop(a, ao, o, oo, s, e);
            case SIGN -> (s, e) -> signLoop(a, ao, o, oo, s, e);
            case TANH -> (s, e) -> tanhLoop(a, ao, o, oo, s, e);
            case SIGMOID -> (s, e) -> sigmoidLoop(a, ao, o, oo, s, e);
            case RELU -> (s, e) -> reluLoop(a, ao, o, oo, s, e);
            case SILU -> (s, e) -> siluLoop(a, ao, o, oo, s, e);
            case GELU -> (s, e) -> geluLoop(a, ao, o, oo, s, e);
            case GELU_TANH -> (s, e) -> geluTanhLoop(a, ao, o, oo, s, e);
        });
    }

    /*
     * The forward loops: o[oo + i] = f(a[ao + i]) for i in [s, e). Each vector body is followed by a scalar tail doing
     * the same IEEE operations in the same order (the scalar forms are those of unaryScalar).
     */

    private static void negLoop(float[] a, int ao, float[] o, int oo, int s, int e) {
        int i = s, upper = s + S.loopBound(e - s);
        for (; i < upper; i += L) FloatVector.fromArray(S, a, ao + i).neg().intoArray(o, oo + i);
        for (; i < e; i++) o[oo + i] = -a[ao + i];
    }

    private static void expLoop(float[] a, int ao, float[] o, int oo, int s, int e) {
        int i = s, upper = s + S.loopBound(e - s);
        for (; i < upper; i += L) FastMath.exp(FloatVector.fromArray(S, a, ao + i)).intoArray(o, oo + i);
        for (; i < e; i++) o[oo + i] = FastMath.exp(a[ao + i]);
    }

    private static void logLoop(float[] a, int ao, float[] o, int oo, int s, int e) {
        int i = s, upper = s + S.loopBound(e - s);
        for (; i < upper; i += L) FastMath.log(FloatVector.fromArray(S, a, ao + i)).intoArray(o, oo + i);
        for (; i < e; i++) o[oo + i] = FastMath.log(a[ao + i]);
    }

    private static void sqrtLoop(float[] a, int ao, float[] o, int oo, int s, int e) {
        int i = s, upper = s + S.loopBound(e - s);
        for (; i < upper; i += L) FloatVector.fromArray(S, a, ao + i).sqrt().intoArray(o, oo + i);
        for (; i < e; i++) o[oo + i] = (float) Math.sqrt(a[ao + i]);
    }

    private static void rsqrtLoop(float[] a, int ao, float[] o, int oo, int s, int e) {
        FloatVector one = FloatVector.broadcast(S, 1f);
        int i = s, upper = s + S.loopBound(e - s);
        for (; i < upper; i += L) one.div(FloatVector.fromArray(S, a, ao + i).sqrt()).intoArray(o, oo + i);
        for (; i < e; i++) o[oo + i] = 1f / (float) Math.sqrt(a[ao + i]);
    }

    private static void absLoop(float[] a, int ao, float[] o, int oo, int s, int e) {
        int i = s, upper = s + S.loopBound(e - s);
        for (; i < upper; i += L) FloatVector.fromArray(S, a, ao + i).abs().intoArray(o, oo + i);
        for (; i < e; i++) o[oo + i] = Math.abs(a[ao + i]);
    }

    private static void squareLoop(float[] a, int ao, float[] o, int oo, int s, int e) {
        int i = s, upper = s + S.loopBound(e - s);
        for (; i < upper; i += L) {
            FloatVector v = FloatVector.fromArray(S, a, ao + i);
            v.mul(v).intoArray(o, oo + i);
        }
        for (; i < e; i++) o[oo + i] = a[ao + i] * a[ao + i];
    }

    private static void reciprocalLoop(float[] a, int ao, float[] o, int oo, int s, int e) {
        FloatVector one = FloatVector.broadcast(S, 1f);
        int i = s, upper = s + S.loopBound(e - s);
        for (; i < upper; i += L) one.div(FloatVector.fromArray(S, a, ao + i)).intoArray(o, oo + i);
        for (; i < e; i++) o[oo + i] = 1f / a[ao + i];
    }

    private static void signLoop(float[] a, int ao, float[] o, int oo, int s, int e) {
        FloatVector zero = FloatVector.zero(S);
        int i = s, upper = s + S.loopBound(e - s);
        for (; i < upper; i += L) {
            FloatVector v = FloatVector.fromArray(S, a, ao + i);
            zero.blend(1f, v.compare(VectorOperators.GT, 0f)).blend(-1f, v.compare(VectorOperators.LT, 0f))
                    .blend(v, v.test(VectorOperators.IS_NAN)).intoArray(o, oo + i);
        }
        for (; i < e; i++) o[oo + i] = sign(a[ao + i]);
    }

    private static void tanhLoop(float[] a, int ao, float[] o, int oo, int s, int e) {
        int i = s, upper = s + S.loopBound(e - s);
        for (; i < upper; i += L) FastMath.tanh(FloatVector.fromArray(S, a, ao + i)).intoArray(o, oo + i);
        for (; i < e; i++) o[oo + i] = FastMath.tanh(a[ao + i]);
    }

    private static void sigmoidLoop(float[] a, int ao, float[] o, int oo, int s, int e) {
        int i = s, upper = s + S.loopBound(e - s);
        for (; i < upper; i += L) FastMath.sigmoid(FloatVector.fromArray(S, a, ao + i)).intoArray(o, oo + i);
        for (; i < e; i++) o[oo + i] = FastMath.sigmoid(a[ao + i]);
    }

    private static void reluLoop(float[] a, int ao, float[] o, int oo, int s, int e) {
        int i = s, upper = s + S.loopBound(e - s);
        for (; i < upper; i += L) FloatVector.fromArray(S, a, ao + i).max(0f).intoArray(o, oo + i);
        for (; i < e; i++) o[oo + i] = relu(a[ao + i]);
    }

    static void siluLoop(float[] a, int ao, float[] o, int oo, int s, int e) {
        int i = s, upper = s + S.loopBound(e - s);
        for (; i < upper; i += L) {
            FloatVector v = FloatVector.fromArray(S, a, ao + i);
            v.mul(FastMath.sigmoid(v)).intoArray(o, oo + i);
        }
        for (; i < e; i++) o[oo + i] = silu(a[ao + i]);
    }

    private static void geluLoop(float[] a, int ao, float[] o, int oo, int s, int e) {
        int i = s, upper = s + S.loopBound(e - s);
        for (; i < upper; i += L) {
            FloatVector v = FloatVector.fromArray(S, a, ao + i);
            v.mul(0.5f).mul(FastMath.erf(v.mul(INV_SQRT2)).add(1f)).intoArray(o, oo + i);
        }
        for (; i < e; i++) o[oo + i] = gelu(a[ao + i]);
    }

    private static void geluTanhLoop(float[] a, int ao, float[] o, int oo, int s, int e) {
        int i = s, upper = s + S.loopBound(e - s);
        for (; i < upper; i += L) {
            FloatVector v = FloatVector.fromArray(S, a, ao + i);
            FloatVector u = v.mul(v).mul(v).fma(v.broadcast(GELU_K), v).mul(GELU_C);
            v.mul(0.5f).mul(FastMath.tanh(u).add(1f)).intoArray(o, oo + i);
        }
        for (; i < e; i++) o[oo + i] = geluTanh(a[ao + i]);
    }

    /** The scalar twin of each forward loop above: the same operations in the same order. */
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
            case SIGN -> sign(v);
            case TANH -> FastMath.tanh(v);
            case SIGMOID -> FastMath.sigmoid(v);
            case RELU -> relu(v);
            case SILU -> silu(v);
            case GELU -> gelu(v);
            case GELU_TANH -> geluTanh(v);
        };
    }

    private static float sign(float v) { return v > 0f ? 1f : v < 0f ? -1f : v == v ? 0f : v; }

    /** Lanewise max(v, 0) propagates NaN; so does this. */
    private static float relu(float v) { return v != v ? v : Math.max(v, 0f); }

    private static float silu(float v) { return v * FastMath.sigmoid(v); }

    private static float gelu(float v) { return v * 0.5f * (FastMath.erf(v * INV_SQRT2) + 1f); }

    private static float geluTanh(float v) {
        return v * 0.5f * (FastMath.tanh(Math.fma(v * v * v, GELU_K, v) * GELU_C) + 1f);
    }

    static void unaryBackward(UnaryOp op, Tensor x, Tensor y, Tensor gy, Tensor gx) {
        int[] shape = gx.shape();
        Tensor xd = dense(x, shape), yd = y == null ? null : dense(y, shape), gd = dense(gy, shape);
        float[] a = xd.floats(), yy = yd == null ? null : yd.floats(), g = gd.floats(), o = gx.floats();
        int ao = xd.offset(), yo = yd == null ? 0 : yd.offset(), go = gd.offset(), oo = gx.offset();
        flat(gx.numel(), switch (op) { // one lambda per op: see the class comment
            case RELU -> (s, e) -> reluGradLoop(a, ao, g, go, o, oo, s, e);
            case SILU -> (s, e) -> siluGradLoop(a, ao, g, go, o, oo, s, e);
            case SQUARE -> (s, e) -> squareGradLoop(a, ao, g, go, o, oo, s, e);
            case EXP -> (s, e) -> expGradLoop(yy, yo, g, go, o, oo, s, e);
            case TANH -> (s, e) -> tanhGradLoop(yy, yo, g, go, o, oo, s, e);
            case SIGMOID -> (s, e) -> sigmoidGradLoop(yy, yo, g, go, o, oo, s, e);
            case GELU_TANH -> (s, e) -> geluTanhGradLoop(a, ao, g, go, o, oo, s, e);
            // no vector form: a scalar loop (a switch per element costs little without vectors to box)
            default -> (s, e) -> {
                for (int i = s; i < e; i++) o[oo + i] = unaryDerivative(op, a[ao + i], yy == null ? 0f : yy[yo + i], g[go + i]);
            };
        });
    }

    /*
     * The backward loops: o[oo + i] = g[go + i] * f'(x) for i in [s, e), from x (a) or from the forward output y,
     * whichever the derivative is written in. Scalar tails match unaryDerivative operation for operation.
     */

    private static void reluGradLoop(float[] a, int ao, float[] g, int go, float[] o, int oo, int s, int e) {
        int i = s, upper = s + S.loopBound(e - s);
        for (; i < upper; i += L) {
            VectorMask<Float> off = FloatVector.fromArray(S, a, ao + i).compare(VectorOperators.LE, 0f);
            FloatVector.fromArray(S, g, go + i).blend(0f, off).intoArray(o, oo + i);
        }
        for (; i < e; i++) o[oo + i] = a[ao + i] <= 0f ? 0f : g[go + i];
    }

    static void siluGradLoop(float[] a, int ao, float[] g, int go, float[] o, int oo, int s, int e) {
        FloatVector one = FloatVector.broadcast(S, 1f);
        int i = s, upper = s + S.loopBound(e - s);
        for (; i < upper; i += L) {
            FloatVector v = FloatVector.fromArray(S, a, ao + i), sg = FastMath.sigmoid(v);
            FloatVector.fromArray(S, g, go + i).mul(sg.mul(v.mul(one.sub(sg)).add(1f))).intoArray(o, oo + i);
        }
        for (; i < e; i++) o[oo + i] = siluGrad(a[ao + i], g[go + i]);
    }

    // ---- SwiGLU's gate: silu(a) * b in one pass ----------------------------------------------------------------

    /** out = silu(a) * b, all contiguous and of one shape: the composition's operations, so its bits. */
    static void swiglu(Tensor a, Tensor b, Tensor out) {
        float[] x = a.floats(), y = b.floats(), o = out.floats();
        int xo = a.offset(), yo = b.offset(), oo = out.offset();
        flat(out.numel(), (s, e) -> swigluLoop(x, xo, y, yo, o, oo, s, e));
    }

    private static void swigluLoop(float[] a, int ao, float[] b, int bo, float[] o, int oo, int s, int e) {
        int i = s, upper = s + S.loopBound(e - s);
        for (; i < upper; i += L) {
            FloatVector v = FloatVector.fromArray(S, a, ao + i);
            v.mul(FastMath.sigmoid(v)).mul(FloatVector.fromArray(S, b, bo + i)).intoArray(o, oo + i);
        }
        for (; i < e; i++) o[oo + i] = silu(a[ao + i]) * b[bo + i];
    }

    /**
     * The gradients of {@link #swiglu}: {@code ga = silu'(a) (g b)}, {@code gb = g silu(a)}, as the composition's
     * backward computes them (mul's, then silu's), in one pass over a, b and g.
     */
    static void swigluBackward(Tensor a, Tensor b, Tensor g, Tensor ga, Tensor gb) {
        float[] x = a.floats(), y = b.floats(), gg = g.floats(), gx = ga.floats(), gy = gb.floats();
        int xo = a.offset(), yo = b.offset(), go = g.offset(), gxo = ga.offset(), gyo = gb.offset();
        flat(g.numel(), (s, e) -> swigluGradLoop(x, xo, y, yo, gg, go, gx, gxo, gy, gyo, s, e));
    }

    private static void swigluGradLoop(float[] a, int ao, float[] b, int bo, float[] g, int go, float[] ga, int gao,
                                       float[] gb, int gbo, int s, int e) {
        FloatVector one = FloatVector.broadcast(S, 1f);
        int i = s, upper = s + S.loopBound(e - s);
        for (; i < upper; i += L) {
            FloatVector v = FloatVector.fromArray(S, a, ao + i), sg = FastMath.sigmoid(v);
            FloatVector gv = FloatVector.fromArray(S, g, go + i);
            gv.mul(FloatVector.fromArray(S, b, bo + i)).mul(sg.mul(v.mul(one.sub(sg)).add(1f))).intoArray(ga, gao + i);
            gv.mul(v.mul(sg)).intoArray(gb, gbo + i);
        }
        for (; i < e; i++) {
            float v = a[ao + i], gv = g[go + i];
            ga[gao + i] = siluGrad(v, gv * b[bo + i]);
            gb[gbo + i] = gv * silu(v);
        }
    }

    private static void squareGradLoop(float[] a, int ao, float[] g, int go, float[] o, int oo, int s, int e) {
        int i = s, upper = s + S.loopBound(e - s);
        for (; i < upper; i += L) {
            FloatVector v = FloatVector.fromArray(S, a, ao + i);
            FloatVector.fromArray(S, g, go + i).mul(v.add(v)).intoArray(o, oo + i);
        }
        for (; i < e; i++) o[oo + i] = g[go + i] * (a[ao + i] + a[ao + i]);
    }

    /** d exp = y. */
    private static void expGradLoop(float[] y, int yo, float[] g, int go, float[] o, int oo, int s, int e) {
        int i = s, upper = s + S.loopBound(e - s);
        for (; i < upper; i += L)
            FloatVector.fromArray(S, g, go + i).mul(FloatVector.fromArray(S, y, yo + i)).intoArray(o, oo + i);
        for (; i < e; i++) o[oo + i] = g[go + i] * y[yo + i];
    }

    /** d tanh = 1 - y^2. */
    private static void tanhGradLoop(float[] y, int yo, float[] g, int go, float[] o, int oo, int s, int e) {
        FloatVector one = FloatVector.broadcast(S, 1f);
        int i = s, upper = s + S.loopBound(e - s);
        for (; i < upper; i += L) {
            FloatVector t = FloatVector.fromArray(S, y, yo + i);
            FloatVector.fromArray(S, g, go + i).mul(one.sub(t.mul(t))).intoArray(o, oo + i);
        }
        for (; i < e; i++) o[oo + i] = g[go + i] * (1f - y[yo + i] * y[yo + i]);
    }

    /** d sigmoid = y (1 - y). */
    private static void sigmoidGradLoop(float[] y, int yo, float[] g, int go, float[] o, int oo, int s, int e) {
        FloatVector one = FloatVector.broadcast(S, 1f);
        int i = s, upper = s + S.loopBound(e - s);
        for (; i < upper; i += L) {
            FloatVector t = FloatVector.fromArray(S, y, yo + i);
            FloatVector.fromArray(S, g, go + i).mul(t.mul(one.sub(t))).intoArray(o, oo + i);
        }
        for (; i < e; i++) o[oo + i] = g[go + i] * (y[yo + i] * (1f - y[yo + i]));
    }

    private static void geluTanhGradLoop(float[] a, int ao, float[] g, int go, float[] o, int oo, int s, int e) {
        FloatVector one = FloatVector.broadcast(S, 1f);
        int i = s, upper = s + S.loopBound(e - s);
        for (; i < upper; i += L) {
            FloatVector v = FloatVector.fromArray(S, a, ao + i);
            FloatVector u = v.mul(v).mul(v).fma(v.broadcast(GELU_K), v).mul(GELU_C);
            FloatVector t = FastMath.tanh(u);
            FloatVector du = v.mul(v).mul(3f * GELU_K).add(1f).mul(GELU_C);
            FloatVector d = t.add(1f).mul(0.5f).add(v.mul(0.5f).mul(one.sub(t.mul(t))).mul(du));
            FloatVector.fromArray(S, g, go + i).mul(d).intoArray(o, oo + i);
        }
        for (; i < e; i++) o[oo + i] = geluTanhGrad(a[ao + i], g[go + i]);
    }

    /** gy * op'(x), scalar; matches the vector loops above operation for operation. */
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
            case SILU -> siluGrad(v, gv);
            case GELU -> {
                float cdf = 0.5f * (FastMath.erf(v * INV_SQRT2) + 1f);
                float pdf = FastMath.exp(-0.5f * v * v) * INV_SQRT_2PI;
                yield gv * (cdf + v * pdf);
            }
            case GELU_TANH -> geluTanhGrad(v, gv);
        };
    }

    private static float siluGrad(float v, float gv) {
        float sg = FastMath.sigmoid(v);
        return gv * (sg * (v * (1f - sg) + 1f));
    }

    private static float geluTanhGrad(float v, float gv) {
        float u = Math.fma(v * v * v, GELU_K, v) * GELU_C;
        float t = FastMath.tanh(u);
        float du = (v * v * (3f * GELU_K) + 1f) * GELU_C;
        return gv * ((t + 1f) * 0.5f + v * 0.5f * (1f - t * t) * du);
    }

    // ---- binary --------------------------------------------------------------------------------------------------

    /**
     * One op over a row: o[oo + i] = a[ao + i * sa] op b[bo + i * sb] for i in [s, e), with sa, sb each 0 (a
     * broadcast scalar) or 1. Called through this interface from the shared row-splitting loop of {@link #binary}, so
     * that each op's loop is compiled on its own (or at most two inlined where only two ops ever ran), never as one
     * big unit with all six.
     */
    private interface RowOp {
        void run(float[] a, int ao, int sa, float[] b, int bo, int sb, float[] o, int oo, int s, int e);
    }

    static void binary(BinaryOp op, Tensor a, Tensor b, Tensor out) {
        if (out.numel() == 0) return; // else an all-contiguous empty shape merges to one row of 0, and a row reads a[ao]
        Strided it = Strided.of(out.shape(), out, a, b);
        int n = it.inner, sa = it.innerStride(1), sb = it.innerStride(2);
        float[] fa = a.floats(), fb = b.floats(), fo = out.floats();
        boolean vectorisable = (sa == 1 || sa == 0) && (sb == 1 || sb == 0) && it.innerStride(0) == 1;
        RowOp row = vectorisable ? rowOp(op) : null;
        int blocks = it.rows == 1 ? Math.max(1, n / GRAIN) : 1; // split a long single row too
        WorkerPool.global().parallelFor(it.rows * blocks, Math.max(1, GRAIN / Math.max(1, n)), (t0, t1) -> {
            Strided.Cursor cur = it.cursor(t0 / blocks); // blocks > 1 only for a single row
            for (int t = t0; t < t1; t++) {
                int blk = t % blocks;
                int s = (int) ((long) n * blk / blocks), e = (int) ((long) n * (blk + 1) / blocks);
                int oo = cur.offset(0), ao = cur.offset(1), bo = cur.offset(2);
                if (blocks == 1) cur.next();
                if (row != null) row.run(fa, ao, sa, fb, bo, sb, fo, oo, s, e);
                else for (int i = s; i < e; i++)
                    fo[oo + i * it.innerStride(0)] = binaryScalar(op, fa[ao + i * sa], fb[bo + i * sb]);
            }
        });
    }

    /** The vector row loop of an arithmetic op, or null for the others (they run scalar). */
    private static RowOp rowOp(BinaryOp op) {
        return switch (op) {
            case ADD -> Elementwise::addRow;
            case SUB -> Elementwise::subRow;
            case MUL -> Elementwise::mulRow;
            case DIV -> Elementwise::divRow;
            case MAX -> Elementwise::maxRow;
            case MIN -> Elementwise::minRow;
            default -> null;
        };
    }

    /*
     * The row loops (see RowOp). An operand with stride 0 is one value broadcast to a vector once; the choice between
     * it and a load is loop-invariant. Scalar tails are binaryScalar's forms.
     */

    private static void addRow(float[] a, int ao, int sa, float[] b, int bo, int sb, float[] o, int oo, int s, int e) {
        FloatVector ca = FloatVector.broadcast(S, a[ao]), cb = FloatVector.broadcast(S, b[bo]);
        int i = s, upper = s + S.loopBound(e - s);
        for (; i < upper; i += L) {
            FloatVector va = sa == 0 ? ca : FloatVector.fromArray(S, a, ao + i);
            FloatVector vb = sb == 0 ? cb : FloatVector.fromArray(S, b, bo + i);
            va.add(vb).intoArray(o, oo + i);
        }
        for (; i < e; i++) o[oo + i] = a[ao + i * sa] + b[bo + i * sb];
    }

    private static void subRow(float[] a, int ao, int sa, float[] b, int bo, int sb, float[] o, int oo, int s, int e) {
        FloatVector ca = FloatVector.broadcast(S, a[ao]), cb = FloatVector.broadcast(S, b[bo]);
        int i = s, upper = s + S.loopBound(e - s);
        for (; i < upper; i += L) {
            FloatVector va = sa == 0 ? ca : FloatVector.fromArray(S, a, ao + i);
            FloatVector vb = sb == 0 ? cb : FloatVector.fromArray(S, b, bo + i);
            va.sub(vb).intoArray(o, oo + i);
        }
        for (; i < e; i++) o[oo + i] = a[ao + i * sa] - b[bo + i * sb];
    }

    private static void mulRow(float[] a, int ao, int sa, float[] b, int bo, int sb, float[] o, int oo, int s, int e) {
        FloatVector ca = FloatVector.broadcast(S, a[ao]), cb = FloatVector.broadcast(S, b[bo]);
        int i = s, upper = s + S.loopBound(e - s);
        for (; i < upper; i += L) {
            FloatVector va = sa == 0 ? ca : FloatVector.fromArray(S, a, ao + i);
            FloatVector vb = sb == 0 ? cb : FloatVector.fromArray(S, b, bo + i);
            va.mul(vb).intoArray(o, oo + i);
        }
        for (; i < e; i++) o[oo + i] = a[ao + i * sa] * b[bo + i * sb];
    }

    private static void divRow(float[] a, int ao, int sa, float[] b, int bo, int sb, float[] o, int oo, int s, int e) {
        FloatVector ca = FloatVector.broadcast(S, a[ao]), cb = FloatVector.broadcast(S, b[bo]);
        int i = s, upper = s + S.loopBound(e - s);
        for (; i < upper; i += L) {
            FloatVector va = sa == 0 ? ca : FloatVector.fromArray(S, a, ao + i);
            FloatVector vb = sb == 0 ? cb : FloatVector.fromArray(S, b, bo + i);
            va.div(vb).intoArray(o, oo + i);
        }
        for (; i < e; i++) o[oo + i] = a[ao + i * sa] / b[bo + i * sb];
    }

    /** Lanewise max propagates NaN like Math.max. */
    private static void maxRow(float[] a, int ao, int sa, float[] b, int bo, int sb, float[] o, int oo, int s, int e) {
        FloatVector ca = FloatVector.broadcast(S, a[ao]), cb = FloatVector.broadcast(S, b[bo]);
        int i = s, upper = s + S.loopBound(e - s);
        for (; i < upper; i += L) {
            FloatVector va = sa == 0 ? ca : FloatVector.fromArray(S, a, ao + i);
            FloatVector vb = sb == 0 ? cb : FloatVector.fromArray(S, b, bo + i);
            va.max(vb).intoArray(o, oo + i);
        }
        for (; i < e; i++) o[oo + i] = Math.max(a[ao + i * sa], b[bo + i * sb]);
    }

    /** Lanewise min propagates NaN like Math.min. */
    private static void minRow(float[] a, int ao, int sa, float[] b, int bo, int sb, float[] o, int oo, int s, int e) {
        FloatVector ca = FloatVector.broadcast(S, a[ao]), cb = FloatVector.broadcast(S, b[bo]);
        int i = s, upper = s + S.loopBound(e - s);
        for (; i < upper; i += L) {
            FloatVector va = sa == 0 ? ca : FloatVector.fromArray(S, a, ao + i);
            FloatVector vb = sb == 0 ? cb : FloatVector.fromArray(S, b, bo + i);
            va.min(vb).intoArray(o, oo + i);
        }
        for (; i < e; i++) o[oo + i] = Math.min(a[ao + i * sa], b[bo + i * sb]);
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
        flat(out.numel(), (s, e) -> affineLoop(a, ao, scale, shift, o, oo, s, e));
    }

    /** o = fma(a, scale, shift). */
    private static void affineLoop(float[] a, int ao, float scale, float shift, float[] o, int oo, int s, int e) {
        FloatVector vs = FloatVector.broadcast(S, scale), vt = FloatVector.broadcast(S, shift);
        int i = s, upper = s + S.loopBound(e - s);
        for (; i < upper; i += L) FloatVector.fromArray(S, a, ao + i).fma(vs, vt).intoArray(o, oo + i);
        for (; i < e; i++) o[oo + i] = Math.fma(a[ao + i], scale, shift);
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
        flat(out.numel(), (s, e) -> clampLoop(a, ao, lo, hi, o, oo, s, e));
    }

    /** o = min(max(a, lo), hi). */
    private static void clampLoop(float[] a, int ao, float lo, float hi, float[] o, int oo, int s, int e) {
        int i = s, upper = s + S.loopBound(e - s);
        for (; i < upper; i += L) FloatVector.fromArray(S, a, ao + i).max(lo).min(hi).intoArray(o, oo + i);
        for (; i < e; i++) o[oo + i] = Math.min(Math.max(a[ao + i], lo), hi);
    }

    static void where(Tensor cond, Tensor a, Tensor b, Tensor out) {
        int[] shape = out.shape();
        Tensor c = dense(cond, shape), ad = dense(a, shape), bd = dense(b, shape);
        float[] fc = c.floats(), fa = ad.floats(), fb = bd.floats(), fo = out.floats();
        int co = c.offset(), ao = ad.offset(), bo = bd.offset(), oo = out.offset();
        flat(out.numel(), (s, e) -> whereLoop(fc, co, fa, ao, fb, bo, fo, oo, s, e));
    }

    /** o = c != 0 ? a : b. */
    private static void whereLoop(float[] c, int co, float[] a, int ao, float[] b, int bo, float[] o, int oo, int s, int e) {
        int i = s, upper = s + S.loopBound(e - s);
        for (; i < upper; i += L) {
            VectorMask<Float> m = FloatVector.fromArray(S, c, co + i).compare(VectorOperators.NE, 0f);
            FloatVector.fromArray(S, b, bo + i).blend(FloatVector.fromArray(S, a, ao + i), m).intoArray(o, oo + i);
        }
        for (; i < e; i++) o[oo + i] = c[co + i] != 0f ? a[ao + i] : b[bo + i];
    }

    // ---- AdamW ---------------------------------------------------------------------------------------------------

    static void adamw(Tensor param, Tensor grad, Tensor m, Tensor v, float lr, float beta1, float beta2, float eps,
                      float weightDecay, float c1, float c2) {
        float[] p = param.floats(), g = grad.floats(), fm = m.floats(), fv = v.floats();
        int po = param.offset(), go = grad.offset(), mo = m.offset(), vo = v.offset();
        float decay = 1f - lr * weightDecay, step = lr / c1, invC2 = 1f / c2;
        flat(param.numel(), (s, e) -> adamwLoop(p, po, g, go, fm, mo, fv, vo, beta1, beta2, eps, decay, step, invC2, s, e));
    }

    /**
     * The AdamW update of elements [s, e): m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2,
     * p = p * decay - step * m / (sqrt(v / c2) + eps).
     */
    private static void adamwLoop(float[] p, int po, float[] g, int go, float[] fm, int mo, float[] fv, int vo,
                                  float beta1, float beta2, float eps, float decay, float step, float invC2, int s, int e) {
        float ob1 = 1f - beta1, ob2 = 1f - beta2;
        int i = s, upper = s + S.loopBound(e - s);
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
    }
}
