package org.tessella.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

/**
 * The project's own exp, log, tanh, erf and sigmoid: FMA polynomials whose scalar and vector forms run the very same
 * sequence of IEEE operations, so a value gets the same bits in a vector body, in a scalar tail, on AVX2, AVX-512 or
 * NEON. (The JDK's lanewise transcendentals may differ between platforms and from {@link Math}.) Accuracy is about
 * one ulp; coefficients are the classic Cephes single-precision minimax ones.
 */
public final class FastMath {
    private FastMath() {}

    private static final float LOG2E = 1.44269504088896341f;
    private static final float LN2_HI = 0.693359375f;
    private static final float LN2_LO = -2.12194440e-4f;
    private static final float ROUND_MAGIC = 12582912f; // 1.5 * 2^23: adding it rounds to an integer
    private static final float EXP_HI = 88.72283f;  // just below ln(Float.MAX_VALUE)
    private static final float EXP_LO = -104f;      // below this even the smallest subnormal rounds to 0
    private static final float E0 = 1.9875691500e-4f, E1 = 1.3981999507e-3f, E2 = 8.3334519073e-3f,
            E3 = 4.1665795894e-2f, E4 = 1.6666665459e-1f, E5 = 5.0000001201e-1f;

    // ---- exp -----------------------------------------------------------------------------------------------------

    public static float exp(float x) {
        if (x != x) return x;
        if (x > EXP_HI) return Float.POSITIVE_INFINITY;
        if (x < EXP_LO) return 0f;
        float t = Math.fma(x, LOG2E, ROUND_MAGIC);
        float n = t - ROUND_MAGIC;
        float r = Math.fma(n, -LN2_HI, x);
        r = Math.fma(n, -LN2_LO, r);
        float p = Math.fma(E0, r, E1);
        p = Math.fma(p, r, E2);
        p = Math.fma(p, r, E3);
        p = Math.fma(p, r, E4);
        p = Math.fma(p, r, E5);
        p = Math.fma(p, r * r, r) + 1f;
        // p * 2^n as two exact power-of-two products, so n = 128 does not overflow the exponent field and results in
        // the subnormal range are rounded once, correctly
        int ni = Float.floatToRawIntBits(t) - 0x4B400000;
        int n1 = ni >> 1, n2 = ni - n1;
        return p * Float.intBitsToFloat((n1 + 127) << 23) * Float.intBitsToFloat((n2 + 127) << 23);
    }

    public static FloatVector exp(FloatVector x) {
        var s = x.species();
        VectorMask<Float> nan = x.test(VectorOperators.IS_NAN);
        VectorMask<Float> over = x.compare(VectorOperators.GT, EXP_HI);
        VectorMask<Float> under = x.compare(VectorOperators.LT, EXP_LO);
        FloatVector xc = x.max(EXP_LO).min(EXP_HI);
        FloatVector t = xc.fma(LOG2E, ROUND_MAGIC);
        FloatVector n = t.sub(ROUND_MAGIC);
        FloatVector r = n.fma(xc.broadcast(-LN2_HI), xc);
        r = n.fma(r.broadcast(-LN2_LO), r);
        FloatVector p = FloatVector.broadcast(s, E0).fma(r, r.broadcast(E1));
        p = p.fma(r, r.broadcast(E2));
        p = p.fma(r, r.broadcast(E3));
        p = p.fma(r, r.broadcast(E4));
        p = p.fma(r, r.broadcast(E5));
        p = p.fma(r.mul(r), r).add(1f);
        IntVector ni = ((IntVector) t.reinterpretAsInts()).sub(0x4B400000);
        IntVector n1 = ni.lanewise(VectorOperators.ASHR, 1), n2 = ni.sub(n1);
        FloatVector s1 = n1.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        FloatVector s2 = n2.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        FloatVector y = p.mul(s1).mul(s2);
        y = y.blend(Float.POSITIVE_INFINITY, over).blend(0f, under);
        return y.blend(x, nan);
    }

    // ---- log -----------------------------------------------------------------------------------------------------

    private static final float SQRT_HALF = 0.707106781186547524f;
    private static final float L0 = 7.0376836292e-2f, L1 = -1.1514610310e-1f, L2 = 1.1676998740e-1f,
            L3 = -1.2420140846e-1f, L4 = 1.4249322787e-1f, L5 = -1.6668057665e-1f, L6 = 2.0000714765e-1f,
            L7 = -2.4999993993e-1f, L8 = 3.3333331174e-1f;

    public static float log(float x) {
        if (x != x || x < 0f) return Float.NaN;
        if (x == 0f) return Float.NEGATIVE_INFINITY;
        if (x == Float.POSITIVE_INFINITY) return x;
        boolean subnormal = x < Float.MIN_NORMAL; // scale up by 2^23 so the exponent field is meaningful
        int bits = Float.floatToRawIntBits(subnormal ? x * 8388608f : x);
        float e = (float) ((bits >>> 23) - (subnormal ? 149 : 126));
        float m = Float.intBitsToFloat((bits & 0x007fffff) | 0x3f000000); // [0.5, 1)
        boolean small = m < SQRT_HALF;
        e = small ? e - 1f : e;
        m = small ? m + m - 1f : m - 1f;
        return logTail(m, e);
    }

    private static float logTail(float m, float e) {
        float z = m * m;
        float p = Math.fma(L0, m, L1);
        p = Math.fma(p, m, L2);
        p = Math.fma(p, m, L3);
        p = Math.fma(p, m, L4);
        p = Math.fma(p, m, L5);
        p = Math.fma(p, m, L6);
        p = Math.fma(p, m, L7);
        p = Math.fma(p, m, L8);
        float y = p * m * z;
        y = Math.fma(e, LN2_LO, y);
        y = Math.fma(-0.5f, z, y);
        return Math.fma(e, LN2_HI, m + y);
    }

    public static FloatVector log(FloatVector x) {
        var s = x.species();
        VectorMask<Float> bad = x.test(VectorOperators.IS_NAN).or(x.compare(VectorOperators.LT, 0f));
        VectorMask<Float> zero = x.compare(VectorOperators.EQ, 0f);
        VectorMask<Float> inf = x.compare(VectorOperators.EQ, Float.POSITIVE_INFINITY);
        VectorMask<Float> subnormal = x.compare(VectorOperators.LT, Float.MIN_NORMAL);
        IntVector bits = (IntVector) x.blend(x.mul(8388608f), subnormal).reinterpretAsInts();
        FloatVector e = (FloatVector) bits.lanewise(VectorOperators.LSHR, 23).sub(126).convert(VectorOperators.I2F, 0);
        e = e.sub(FloatVector.broadcast(s, 23f), subnormal);
        FloatVector m = ((IntVector) bits.and(0x007fffff).or(0x3f000000)).reinterpretAsFloats();
        VectorMask<Float> small = m.compare(VectorOperators.LT, SQRT_HALF);
        e = e.sub(FloatVector.broadcast(s, 1f), small);
        m = m.add(m, small).sub(1f);
        FloatVector y = logTail(m, e);
        return y.blend(Float.NaN, bad).blend(Float.NEGATIVE_INFINITY, zero).blend(Float.POSITIVE_INFINITY, inf);
    }

    /**
     * The vector twin of the scalar logTail. A method of its own because C2 inlines a hot method only up to 325
     * bytecodes (FreqInlineSize): log in one piece was larger, so it was never inlined and every vector it took or
     * returned was boxed on the heap.
     */
    private static FloatVector logTail(FloatVector m, FloatVector e) {
        FloatVector z = m.mul(m);
        FloatVector p = FloatVector.broadcast(m.species(), L0).fma(m, m.broadcast(L1));
        p = p.fma(m, m.broadcast(L2));
        p = p.fma(m, m.broadcast(L3));
        p = p.fma(m, m.broadcast(L4));
        p = p.fma(m, m.broadcast(L5));
        p = p.fma(m, m.broadcast(L6));
        p = p.fma(m, m.broadcast(L7));
        p = p.fma(m, m.broadcast(L8));
        FloatVector y = p.mul(m).mul(z);
        y = e.fma(y.broadcast(LN2_LO), y);
        y = z.fma(y.broadcast(-0.5f), y);
        return e.fma(e.broadcast(LN2_HI), m.add(y));
    }

    // ---- tanh, sigmoid -------------------------------------------------------------------------------------------

    private static final float T0 = -5.70498872745e-3f, T1 = 2.06390887954e-2f, T2 = -5.37397155531e-2f,
            T3 = 1.33314422036e-1f, T4 = -3.33332819422e-1f;

    public static float tanh(float x) {
        float a = Math.abs(x);
        if (a < 0.625f) {
            float z = x * x;
            float p = Math.fma(T0, z, T1);
            p = Math.fma(p, z, T2);
            p = Math.fma(p, z, T3);
            p = Math.fma(p, z, T4);
            return Math.fma(p * z, x, x);
        }
        float r = 1f - 2f / (exp(a + a) + 1f);
        return Math.copySign(r, x);
    }

    public static FloatVector tanh(FloatVector x) {
        var s = x.species();
        FloatVector a = x.abs();
        FloatVector z = x.mul(x);
        FloatVector p = FloatVector.broadcast(s, T0).fma(z, z.broadcast(T1));
        p = p.fma(z, z.broadcast(T2));
        p = p.fma(z, z.broadcast(T3));
        p = p.fma(z, z.broadcast(T4));
        FloatVector near = p.mul(z).fma(x, x);
        FloatVector far = FloatVector.broadcast(s, 1f).sub(FloatVector.broadcast(s, 2f).div(exp(a.add(a)).add(1f)));
        // copy the sign of x onto far
        IntVector sign = ((IntVector) x.reinterpretAsInts()).and(0x80000000);
        far = ((IntVector) far.reinterpretAsInts()).or(sign).reinterpretAsFloats();
        return far.blend(near, a.compare(VectorOperators.LT, 0.625f)).blend(x, x.test(VectorOperators.IS_NAN));
    }

    /** 1 / (1 + e^-x) for x >= 0, e^x / (1 + e^x) below: exp never overflows, tiny results keep their precision. */
    public static float sigmoid(float x) {
        float e = exp(-Math.abs(x));
        return (x < 0f ? e : 1f) / (1f + e);
    }

    public static FloatVector sigmoid(FloatVector x) {
        FloatVector e = exp(x.abs().neg());
        return FloatVector.broadcast(x.species(), 1f).blend(e, x.compare(VectorOperators.LT, 0f)).div(e.add(1f));
    }

    // ---- erf (Abramowitz and Stegun 7.1.26 refined: |error| < 1.5e-7) -------------------------------------------

    private static final float P_ERF = 0.3275911f, A1 = 0.254829592f, A2 = -0.284496736f, A3 = 1.421413741f,
            A4 = -1.453152027f, A5 = 1.061405429f;

    public static float erf(float x) {
        float a = Math.abs(x);
        float t = 1f / Math.fma(P_ERF, a, 1f);
        float p = Math.fma(A5, t, A4);
        p = Math.fma(p, t, A3);
        p = Math.fma(p, t, A2);
        p = Math.fma(p, t, A1);
        float y = 1f - p * t * exp(-a * a);
        return Math.copySign(y, x);
    }

    public static FloatVector erf(FloatVector x) {
        var s = x.species();
        FloatVector a = x.abs();
        FloatVector t = FloatVector.broadcast(s, 1f).div(a.fma(P_ERF, 1f));
        FloatVector p = FloatVector.broadcast(s, A5).fma(t, t.broadcast(A4));
        p = p.fma(t, t.broadcast(A3));
        p = p.fma(t, t.broadcast(A2));
        p = p.fma(t, t.broadcast(A1));
        FloatVector y = FloatVector.broadcast(s, 1f).sub(p.mul(t).mul(exp(a.mul(a).neg())));
        IntVector sign = ((IntVector) x.reinterpretAsInts()).and(0x80000000);
        return ((IntVector) y.reinterpretAsInts()).or(sign).reinterpretAsFloats();
    }
}
