package org.tessella.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Sums along a contiguous row in one fixed order, whatever the machine's vector width: element i goes into partial
 * sum i mod 16, and the sixteen partials are added in a fixed tree at the end. On AVX-512 the partials are one
 * vector, on AVX2 two, on NEON four; the scalar fallback keeps sixteen floats. Max needs no such care: it is exact.
 */
final class RowSum {
    private RowSum() {}

    static final int PARTIALS = 16;
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    private static final boolean VECTOR = L <= PARTIALS && PARTIALS % L == 0;

    static float sum(float[] a, int off, int n) {
        float[] p = new float[PARTIALS];
        int i = 0;
        if (VECTOR && L == 16) {
            FloatVector acc = FloatVector.zero(S);
            for (; i + 16 <= n; i += 16) acc = acc.add(FloatVector.fromArray(S, a, off + i));
            acc.intoArray(p, 0);
        } else if (VECTOR && L == 8) {
            FloatVector a0 = FloatVector.zero(S), a1 = FloatVector.zero(S);
            for (; i + 16 <= n; i += 16) {
                a0 = a0.add(FloatVector.fromArray(S, a, off + i));
                a1 = a1.add(FloatVector.fromArray(S, a, off + i + 8));
            }
            a0.intoArray(p, 0);
            a1.intoArray(p, 8);
        } else {
            for (; i + 16 <= n; i += 16)
                for (int j = 0; j < 16; j++) p[j] += a[off + i + j];
        }
        for (int j = 0; i < n; i++, j++) p[j] += a[off + i];
        return tree(p);
    }

    /** Adds the sixteen partials pairwise in a fixed order. */
    static float tree(float[] p) {
        for (int w = PARTIALS / 2; w >= 1; w /= 2)
            for (int j = 0; j < w; j++) p[j] = p[j] + p[j + w];
        return p[0];
    }

    static float max(float[] a, int off, int n) {
        float m = Float.NEGATIVE_INFINITY;
        int i = 0;
        if (n >= L) {
            FloatVector acc = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
            for (; i + L <= n; i += L) acc = acc.max(FloatVector.fromArray(S, a, off + i));
            m = acc.reduceLanes(VectorOperators.MAX);
        }
        for (; i < n; i++) m = Math.max(m, a[off + i]);
        return m;
    }

    /** max(-a[i]), for min-reductions. */
    static float maxNeg(float[] a, int off, int n) {
        float m = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) m = Math.max(m, -a[off + i]);
        return m;
    }
}
