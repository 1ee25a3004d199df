package org.tessella.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Reductions along a contiguous row in one fixed order, whatever the vector width: element i is accumulated into
 * partial i mod 16 (in order of i), and the sixteen partials are then added pairwise in a fixed tree
 * ({@code p[j] + p[j + 8]}, then {@code + 4}, {@code + 2}, {@code + 1}). The sixteen partials are one 512-bit vector,
 * two 256-bit or four 128-bit ones, and a scalar tail adds into the same partials with the same operations. Max
 * needs no such care: it is exact and order-free. Nothing here allocates.
 */
final class RowReduce {
    private RowReduce() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED.length() >= 16 ? FloatVector.SPECIES_512
            : FloatVector.SPECIES_PREFERRED.length() >= 8 ? FloatVector.SPECIES_256 : FloatVector.SPECIES_128;
    private static final int L = S.length();
    /** Vectors per sixteen partials: 1, 2 or 4. */
    private static final int K = 16 / L;
    private static final VectorSpecies<Float> P = FloatVector.SPECIES_PREFERRED;

    /** The species of the sixteen partials: the preferred one whenever that has at most 16 lanes (all x86 CPUs). */
    static VectorSpecies<Float> species() { return S; }

    /** This thread's sixteen partials, so that no vector crosses a call (an out-of-line call would box it). */
    private static final ThreadLocal<float[]> PARTIALS = ThreadLocal.withInitial(() -> new float[16]);

    /*
     * Every reduction below is one loop over whole vector chunks, chunk c (elements c*L .. c*L+L-1) into accumulator
     * c mod K, so that element i lands in partial i mod 16; the accumulators are then stored as the sixteen partials
     * (partial j in vector j / L, lane j % L), the last n mod L elements are added to partial i mod 16 by scalar code
     * doing the very same IEEE operations (FastMath's scalar exp matches its vector exp bit for bit, Math.fma matches
     * the lane-wise fma), and the tree sums the partials. No masks: a masked access that reaches past the end of the
     * array drops to a slow, allocating path. One copy of each lane formula keeps the compiled method within C2's
     * inlining budget, past which a vector handed to a method left out of line is boxed on the heap.
     */

    /** Adds the sixteen partials pairwise in the fixed tree. */
    static float tree(float[] p) {
        for (int w = 8; w >= 1; w /= 2)
            for (int j = 0; j < w; j++) p[j] = p[j] + p[j + w];
        return p[0];
    }

    /** Sum of a[off .. off+n). */
    static float sum(float[] a, int off, int n) {
        FloatVector z = FloatVector.zero(S), p0 = z, p1 = z, p2 = z, p3 = z;
        int i = 0;
        for (int c = 0; i <= n - L; i += L, c++) {
            FloatVector t = FloatVector.fromArray(S, a, off + i);
            switch (c & (K - 1)) {
                case 0 -> p0 = p0.add(t);
                case 1 -> p1 = p1.add(t);
                case 2 -> p2 = p2.add(t);
                default -> p3 = p3.add(t);
            }
        }
        float[] p = PARTIALS.get();                 // stored here, not in a helper: see above
        p0.intoArray(p, 0);
        if (K > 1) p1.intoArray(p, L);
        if (K > 2) { p2.intoArray(p, 2 * L); p3.intoArray(p, 3 * L); }
        for (; i < n; i++) p[i & 15] += a[off + i];
        return tree(p);
    }

    /** Sum of a[offA + i] * b[offB + i] (each term fused into its partial with fma). */
    static float dot(float[] a, int offA, float[] b, int offB, int n) {
        FloatVector z = FloatVector.zero(S), p0 = z, p1 = z, p2 = z, p3 = z;
        int i = 0;
        for (int c = 0; i <= n - L; i += L, c++) {
            FloatVector x = FloatVector.fromArray(S, a, offA + i), y = FloatVector.fromArray(S, b, offB + i);
            switch (c & (K - 1)) {
                case 0 -> p0 = x.fma(y, p0);
                case 1 -> p1 = x.fma(y, p1);
                case 2 -> p2 = x.fma(y, p2);
                default -> p3 = x.fma(y, p3);
            }
        }
        float[] p = PARTIALS.get();                 // stored here, not in a helper: see above
        p0.intoArray(p, 0);
        if (K > 1) p1.intoArray(p, L);
        if (K > 2) { p2.intoArray(p, 2 * L); p3.intoArray(p, 3 * L); }
        for (; i < n; i++) p[i & 15] = Math.fma(a[offA + i], b[offB + i], p[i & 15]);
        return tree(p);
    }

    /** Sum of squares of a[off .. off+n). */
    static float sumSquares(float[] a, int off, int n) { return dot(a, off, a, off, n); }

    /** Sum of (a[off + i] - c)^2 (each square fused into its partial): the centred second moment, for variances. */
    static float sumSquaredDiff(float[] a, int off, float c, int n) { return dotCentered(a, off, c, a, off, c, n); }

    /** Sum of a[offA + i] * (b[offB + i] - c), each term fused into its partial with fma. */
    static float dotCentered(float[] a, int offA, float[] b, int offB, float c, int n) {
        return dotCentered(a, offA, 0f, b, offB, c, n);
    }

    /** Sum of (a[offA + i] - ca) * (b[offB + i] - cb), each term fused into its partial with fma. */
    private static float dotCentered(float[] a, int offA, float ca, float[] b, int offB, float cb, int n) {
        FloatVector z = FloatVector.zero(S), p0 = z, p1 = z, p2 = z, p3 = z;
        int i = 0;
        for (int c = 0; i <= n - L; i += L, c++) {
            FloatVector x = FloatVector.fromArray(S, a, offA + i).sub(ca), y = FloatVector.fromArray(S, b, offB + i).sub(cb);
            switch (c & (K - 1)) {
                case 0 -> p0 = x.fma(y, p0);
                case 1 -> p1 = x.fma(y, p1);
                case 2 -> p2 = x.fma(y, p2);
                default -> p3 = x.fma(y, p3);
            }
        }
        float[] p = PARTIALS.get();                 // stored here, not in a helper: see above
        p0.intoArray(p, 0);
        if (K > 1) p1.intoArray(p, L);
        if (K > 2) { p2.intoArray(p, 2 * L); p3.intoArray(p, 3 * L); }
        for (; i < n; i++) p[i & 15] = Math.fma(a[offA + i] - ca, b[offB + i] - cb, p[i & 15]);
        return tree(p);
    }

    /**
     * Sum of exp(x[offX + i] - shift) (FastMath.exp); when out is not null the terms are also written to
     * out[offOut + i].
     */
    static float expSum(float[] x, int offX, float shift, float[] out, int offOut, int n) {
        FloatVector z = FloatVector.zero(S), p0 = z, p1 = z, p2 = z, p3 = z;
        int i = 0;
        for (int c = 0; i <= n - L; i += L, c++) {
            FloatVector e = FastMath.exp(FloatVector.fromArray(S, x, offX + i).sub(shift));
            if (out != null) e.intoArray(out, offOut + i);
            switch (c & (K - 1)) {
                case 0 -> p0 = p0.add(e);
                case 1 -> p1 = p1.add(e);
                case 2 -> p2 = p2.add(e);
                default -> p3 = p3.add(e);
            }
        }
        float[] p = PARTIALS.get();                 // stored here, not in a helper: see above
        p0.intoArray(p, 0);
        if (K > 1) p1.intoArray(p, L);
        if (K > 2) { p2.intoArray(p, 2 * L); p3.intoArray(p, 3 * L); }
        for (; i < n; i++) {
            float e = FastMath.exp(x[offX + i] - shift);
            if (out != null) out[offOut + i] = e;
            p[i & 15] += e;
        }
        return tree(p);
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
