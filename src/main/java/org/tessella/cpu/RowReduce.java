package org.tessella.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Reductions along a contiguous row in one fixed order, whatever the vector width: element i is accumulated into
 * partial i mod 16 (in order of i), and the sixteen partials are then added pairwise in a fixed tree
 * ({@code p[j] + p[j + 8]}, then {@code + 4}, {@code + 2}, {@code + 1}). The sixteen partials are one 512-bit vector,
 * two 256-bit or four 128-bit ones; the tail is handled with masked lanes, which add exactly nothing, so no scalar
 * path can round differently. Max needs no such care: it is exact and order-free. Nothing here allocates.
 */
final class RowReduce {
    private RowReduce() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED.length() >= 16 ? FloatVector.SPECIES_512
            : FloatVector.SPECIES_PREFERRED.length() >= 8 ? FloatVector.SPECIES_256 : FloatVector.SPECIES_128;
    private static final int L = S.length();
    /** Vectors per sixteen partials: 1, 2 or 4. */
    private static final int K = 16 / L;
    private static final VectorSpecies<Float> P = FloatVector.SPECIES_PREFERRED;

    private static VectorMask<Float> mask(int remaining) { return S.indexInRange(0, remaining); }

    /** The fixed pairwise tree over the sixteen partials held in p0..p(K-1). */
    private static float combine(FloatVector p0, FloatVector p1, FloatVector p2, FloatVector p3) {
        FloatVector v;
        int valid;
        if (K == 4) { v = p0.add(p2).add(p1.add(p3)); valid = 4; }   // (p[j] + p[j+8]) + (p[j+4] + p[j+12])
        else if (K == 2) { v = p0.add(p1); valid = 8; }               // p[j] + p[j+8]
        else { v = p0; valid = 16; }
        for (int w = valid / 2; w >= 1; w /= 2) v = v.add(v.slice(w));
        return v.lane(0);
    }

    /** Sum of a[off .. off+n). */
    static float sum(float[] a, int off, int n) {
        FloatVector z = FloatVector.zero(S), p0 = z, p1 = z, p2 = z, p3 = z;
        int i = 0;
        for (; i + 16 <= n; i += 16) {
            p0 = p0.add(FloatVector.fromArray(S, a, off + i));
            if (K > 1) p1 = p1.add(FloatVector.fromArray(S, a, off + i + L));
            if (K > 2) {
                p2 = p2.add(FloatVector.fromArray(S, a, off + i + 2 * L));
                p3 = p3.add(FloatVector.fromArray(S, a, off + i + 3 * L));
            }
        }
        if (i < n) {
            int r = n - i;
            VectorMask<Float> m0 = mask(r);
            p0 = p0.add(FloatVector.fromArray(S, a, off + i, m0), m0);
            if (K > 1 && r > L) { VectorMask<Float> m = mask(r - L); p1 = p1.add(FloatVector.fromArray(S, a, off + i + L, m), m); }
            if (K > 2 && r > 2 * L) { VectorMask<Float> m = mask(r - 2 * L); p2 = p2.add(FloatVector.fromArray(S, a, off + i + 2 * L, m), m); }
            if (K > 2 && r > 3 * L) { VectorMask<Float> m = mask(r - 3 * L); p3 = p3.add(FloatVector.fromArray(S, a, off + i + 3 * L, m), m); }
        }
        return combine(p0, p1, p2, p3);
    }

    /** Sum of a[offA + i] * b[offB + i] (each term fused into its partial with fma). */
    static float dot(float[] a, int offA, float[] b, int offB, int n) {
        FloatVector z = FloatVector.zero(S), p0 = z, p1 = z, p2 = z, p3 = z;
        int i = 0;
        for (; i + 16 <= n; i += 16) {
            p0 = FloatVector.fromArray(S, a, offA + i).fma(FloatVector.fromArray(S, b, offB + i), p0);
            if (K > 1) p1 = FloatVector.fromArray(S, a, offA + i + L).fma(FloatVector.fromArray(S, b, offB + i + L), p1);
            if (K > 2) {
                p2 = FloatVector.fromArray(S, a, offA + i + 2 * L).fma(FloatVector.fromArray(S, b, offB + i + 2 * L), p2);
                p3 = FloatVector.fromArray(S, a, offA + i + 3 * L).fma(FloatVector.fromArray(S, b, offB + i + 3 * L), p3);
            }
        }
        if (i < n) {
            int r = n - i;
            p0 = dotTail(a, offA + i, b, offB + i, r, p0);
            if (K > 1 && r > L) p1 = dotTail(a, offA + i + L, b, offB + i + L, r - L, p1);
            if (K > 2 && r > 2 * L) p2 = dotTail(a, offA + i + 2 * L, b, offB + i + 2 * L, r - 2 * L, p2);
            if (K > 2 && r > 3 * L) p3 = dotTail(a, offA + i + 3 * L, b, offB + i + 3 * L, r - 3 * L, p3);
        }
        return combine(p0, p1, p2, p3);
    }

    private static FloatVector dotTail(float[] a, int offA, float[] b, int offB, int r, FloatVector p) {
        VectorMask<Float> m = mask(r);
        return p.blend(FloatVector.fromArray(S, a, offA, m).fma(FloatVector.fromArray(S, b, offB, m), p), m);
    }

    /** Sum of squares of a[off .. off+n). */
    static float sumSquares(float[] a, int off, int n) { return dot(a, off, a, off, n); }

    /** Sum of (a[off + i] - c)^2: the centred second moment, for variances. */
    static float sumSquaredDiff(float[] a, int off, float c, int n) {
        FloatVector z = FloatVector.zero(S), p0 = z, p1 = z, p2 = z, p3 = z;
        int i = 0;
        for (; i + 16 <= n; i += 16) {
            p0 = sqd(a, off + i, c, p0);
            if (K > 1) p1 = sqd(a, off + i + L, c, p1);
            if (K > 2) { p2 = sqd(a, off + i + 2 * L, c, p2); p3 = sqd(a, off + i + 3 * L, c, p3); }
        }
        if (i < n) {
            int r = n - i;
            p0 = sqdTail(a, off + i, c, r, p0);
            if (K > 1 && r > L) p1 = sqdTail(a, off + i + L, c, r - L, p1);
            if (K > 2 && r > 2 * L) p2 = sqdTail(a, off + i + 2 * L, c, r - 2 * L, p2);
            if (K > 2 && r > 3 * L) p3 = sqdTail(a, off + i + 3 * L, c, r - 3 * L, p3);
        }
        return combine(p0, p1, p2, p3);
    }

    private static FloatVector sqd(float[] a, int off, float c, FloatVector p) {
        FloatVector d = FloatVector.fromArray(S, a, off).sub(c);
        return d.fma(d, p);
    }

    private static FloatVector sqdTail(float[] a, int off, float c, int r, FloatVector p) {
        VectorMask<Float> m = mask(r);
        FloatVector d = FloatVector.fromArray(S, a, off, m).sub(c);
        return p.blend(d.fma(d, p), m);
    }

    /** Sum of a[offA + i] * (b[offB + i] - c). */
    static float dotCentered(float[] a, int offA, float[] b, int offB, float c, int n) {
        FloatVector z = FloatVector.zero(S), p0 = z, p1 = z, p2 = z, p3 = z;
        int i = 0;
        for (; i + 16 <= n; i += 16) {
            p0 = dc(a, offA + i, b, offB + i, c, p0);
            if (K > 1) p1 = dc(a, offA + i + L, b, offB + i + L, c, p1);
            if (K > 2) {
                p2 = dc(a, offA + i + 2 * L, b, offB + i + 2 * L, c, p2);
                p3 = dc(a, offA + i + 3 * L, b, offB + i + 3 * L, c, p3);
            }
        }
        if (i < n) {
            int r = n - i;
            p0 = dcTail(a, offA + i, b, offB + i, c, r, p0);
            if (K > 1 && r > L) p1 = dcTail(a, offA + i + L, b, offB + i + L, c, r - L, p1);
            if (K > 2 && r > 2 * L) p2 = dcTail(a, offA + i + 2 * L, b, offB + i + 2 * L, c, r - 2 * L, p2);
            if (K > 2 && r > 3 * L) p3 = dcTail(a, offA + i + 3 * L, b, offB + i + 3 * L, c, r - 3 * L, p3);
        }
        return combine(p0, p1, p2, p3);
    }

    private static FloatVector dc(float[] a, int offA, float[] b, int offB, float c, FloatVector p) {
        return FloatVector.fromArray(S, a, offA).fma(FloatVector.fromArray(S, b, offB).sub(c), p);
    }

    private static FloatVector dcTail(float[] a, int offA, float[] b, int offB, float c, int r, FloatVector p) {
        VectorMask<Float> m = mask(r);
        return p.blend(FloatVector.fromArray(S, a, offA, m).fma(FloatVector.fromArray(S, b, offB, m).sub(c), p), m);
    }

    /**
     * Sum of exp(x[offX + i] - shift) (FastMath.exp); when out is not null the terms are also written to
     * out[offOut + i]. One vector chunk at a time, chunk c into partial vector c mod K, so that the exp polynomial is
     * inlined once (several inlined copies exceed C2's node budget, and an exp left out of line boxes its vectors).
     */
    static float expSum(float[] x, int offX, float shift, float[] out, int offOut, int n) {
        FloatVector z = FloatVector.zero(S), p0 = z, p1 = z, p2 = z, p3 = z;
        for (int i = 0, c = 0; i < n; i += L, c++) {
            VectorMask<Float> m = S.indexInRange(i, n);
            FloatVector e = FastMath.exp(FloatVector.fromArray(S, x, offX + i, m).sub(shift));
            if (out != null) e.intoArray(out, offOut + i, m);
            switch (c & (K - 1)) {
                case 0 -> p0 = p0.add(e, m);
                case 1 -> p1 = p1.add(e, m);
                case 2 -> p2 = p2.add(e, m);
                default -> p3 = p3.add(e, m);
            }
        }
        return combine(p0, p1, p2, p3);
    }

    /** Largest of a[off .. off+n) (NEGATIVE_INFINITY when n = 0; NaN when any is NaN). */
    static float max(float[] a, int off, int n) {
        int i = 0;
        float m = Float.NEGATIVE_INFINITY;
        if (n >= P.length()) {
            FloatVector acc = FloatVector.broadcast(P, Float.NEGATIVE_INFINITY);
            for (; i <= n - P.length(); i += P.length()) acc = acc.max(FloatVector.fromArray(P, a, off + i));
            m = acc.reduceLanes(VectorOperators.MAX);
        }
        for (; i < n; i++) m = Math.max(m, a[off + i]);
        return m;
    }
}
