package org.tessella.eval;

import static org.junit.jupiter.api.Assertions.*;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class SymmetricEigenTest {

    // ---- helpers ----------------------------------------------------------------------------------------------------

    /** A random orthogonal matrix: Gram-Schmidt (twice, for orthogonality to round-off) of a Gaussian matrix. */
    static double[][] randomOrthogonal(int n, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        double[][] q = new double[n][n];
        for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) q[i][j] = gaussian(rnd);
        for (int i = 0; i < n; i++) {
            for (int pass = 0; pass < 2; pass++)
                for (int k = 0; k < i; k++) {
                    double dot = dot(q[i], q[k]);
                    for (int j = 0; j < n; j++) q[i][j] -= dot * q[k][j];
                }
            double norm = Math.sqrt(dot(q[i], q[i]));
            for (int j = 0; j < n; j++) q[i][j] /= norm;
        }
        return q;
    }

    /** Q^T diag(l) Q with the rows of Q as eigenvectors. */
    static double[][] fromEigen(double[][] q, double[] l) {
        int n = l.length;
        double[][] a = new double[n][n];
        for (int k = 0; k < n; k++) for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) a[i][j] += l[k] * q[k][i] * q[k][j];
        for (int i = 0; i < n; i++) for (int j = 0; j < i; j++) a[i][j] = a[j][i] = 0.5 * (a[i][j] + a[j][i]);
        return a;
    }

    static double[][] randomSymmetric(int n, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        double[][] a = new double[n][n];
        for (int i = 0; i < n; i++) for (int j = 0; j <= i; j++) a[i][j] = a[j][i] = gaussian(rnd);
        return a;
    }

    static double gaussian(SplittableRandom rnd) {
        double u = rnd.nextDouble(), v = rnd.nextDouble();
        return Math.sqrt(-2 * Math.log(1 - u)) * Math.cos(2 * Math.PI * v);
    }

    static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }

    static double[] times(double[][] a, double[] v) {
        double[] out = new double[a.length];
        for (int i = 0; i < a.length; i++) out[i] = dot(a[i], v);
        return out;
    }

    static double maxAbsDiff(double[][] a, double[][] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) for (int j = 0; j < a.length; j++) m = Math.max(m, Math.abs(a[i][j] - b[i][j]));
        return m;
    }

    /** Largest |A v - l v| over all eigenpairs. */
    static double maxResidual(double[][] a, SymmetricEigen.Decomposition e) {
        double worst = 0;
        for (int k = 0; k < e.size(); k++) {
            double[] av = times(a, e.vectors()[k]);
            for (int i = 0; i < av.length; i++) worst = Math.max(worst, Math.abs(av[i] - e.values()[k] * e.vectors()[k][i]));
        }
        return worst;
    }

    /** Largest |V V^T - I| entry. */
    static double orthonormalityError(SymmetricEigen.Decomposition e) {
        double worst = 0;
        for (int i = 0; i < e.size(); i++)
            for (int j = 0; j < e.size(); j++)
                worst = Math.max(worst, Math.abs(dot(e.vectors()[i], e.vectors()[j]) - (i == j ? 1 : 0)));
        return worst;
    }

    static void assertAscending(double[] values) {
        for (int i = 1; i < values.length; i++) assertTrue(values[i - 1] <= values[i], "ascending at " + i + ": " + Arrays.toString(values));
    }

    // ---- tests ------------------------------------------------------------------------------------------------------

    @Test
    void diagonalMatrixGivesItsEntriesSortedAndUnitVectors() {
        double[][] a = {{3, 0, 0, 0}, {0, -1, 0, 0}, {0, 0, 7, 0}, {0, 0, 0, 0.5}};
        SymmetricEigen.Decomposition e = SymmetricEigen.decompose(a);
        assertArrayEquals(new double[]{-1, 0.5, 3, 7}, e.values(), 1e-15);
        int[] axis = {1, 3, 0, 2};
        for (int k = 0; k < 4; k++)
            for (int i = 0; i < 4; i++)
                assertEquals(i == axis[k] ? 1 : 0, Math.abs(e.vectors()[k][i]), 1e-15, "vector " + k + " component " + i);
    }

    @Test
    void twoByTwoMatchesTheClosedForm() {
        double a = 2.5, b = -1.25, c = 0.75;
        SymmetricEigen.Decomposition e = SymmetricEigen.decompose(new double[][]{{a, b}, {b, c}});
        double mid = (a + c) / 2, radius = Math.hypot((a - c) / 2, b);
        assertArrayEquals(new double[]{mid - radius, mid + radius}, e.values(), 1e-14);
        // the eigenvector of l is proportional to (b, l - a)
        for (int k = 0; k < 2; k++) {
            double l = e.values()[k];
            double[] expected = {b, l - a};
            double norm = Math.hypot(expected[0], expected[1]);
            double sign = Math.signum(dot(expected, e.vectors()[k]));
            assertEquals(sign * expected[0] / norm, e.vectors()[k][0], 1e-14);
            assertEquals(sign * expected[1] / norm, e.vectors()[k][1], 1e-14);
        }
    }

    @Test
    void recoversTheSpectrumOfARandomlyRotatedMatrix() {
        int n = 12;
        double[][] q = randomOrthogonal(n, 7);
        double[] l = {-5, -2.5, -1, -0.1, 0, 0.3, 1, 2, 3.5, 8, 13, 40};
        double[][] a = fromEigen(q, l);
        SymmetricEigen.Decomposition e = SymmetricEigen.decompose(a);
        assertArrayEquals(l, e.values(), 1e-12);
        assertTrue(orthonormalityError(e) < 1e-13);
        assertTrue(maxAbsDiff(e.apply(x -> x), a) < 1e-12, "V^T diag(l) V reconstructs A");
        for (int k = 0; k < n; k++) assertEquals(1, Math.abs(dot(e.vectors()[k], q[k])), 1e-12, "distinct eigenvalue: vector " + k + " is +-q_k");
    }

    @Test
    void repeatedEigenvaluesGiveAnOrthonormalBasisOfEachEigenspace() {
        int n = 9;
        double[][] q = randomOrthogonal(n, 11);
        double[] l = {-2, -2, 1, 1, 1, 1, 4, 4, 9};
        double[][] a = fromEigen(q, l);
        SymmetricEigen.Decomposition e = SymmetricEigen.decompose(a);
        assertArrayEquals(l, e.values(), 1e-12);
        assertTrue(orthonormalityError(e) < 1e-13);
        assertTrue(maxResidual(a, e) < 1e-12);
        assertTrue(maxAbsDiff(e.apply(x -> x), a) < 1e-12);

        double[][] identity = new double[5][5];
        for (int i = 0; i < 5; i++) identity[i][i] = 1;
        SymmetricEigen.Decomposition ei = SymmetricEigen.decompose(identity);
        assertArrayEquals(new double[]{1, 1, 1, 1, 1}, ei.values(), 0);
        assertTrue(orthonormalityError(ei) < 1e-15);
        assertArrayEquals(new double[]{0, 0, 0}, SymmetricEigen.decompose(new double[3][3]).values(), 0, "zero matrix");
    }

    @Test
    void random100x100HasResidualsBelow1e10() {
        int n = 100;
        double[][] a = randomSymmetric(n, 2024);
        SymmetricEigen.Decomposition e = SymmetricEigen.decompose(a);
        assertAscending(e.values());
        double residual = maxResidual(a, e);
        assertTrue(residual < 1e-10, "max |A v - l v| = " + residual);
        assertTrue(orthonormalityError(e) < 1e-12, "orthonormality " + orthonormalityError(e));
        double trace = 0, sum = 0;
        for (int i = 0; i < n; i++) trace += a[i][i];
        for (double v : e.values()) sum += v;
        assertEquals(trace, sum, 1e-10, "the eigenvalues sum to the trace");
    }

    @Test
    void deterministicAndDoesNotModifyItsInput() {
        double[][] a = randomSymmetric(40, 5);
        double[][] copy = Arrays.stream(a).map(double[]::clone).toArray(double[][]::new);
        SymmetricEigen.Decomposition e1 = SymmetricEigen.decompose(a), e2 = SymmetricEigen.decompose(a);
        assertTrue(Arrays.deepEquals(copy, a), "input untouched");
        assertArrayEquals(e1.values(), e2.values(), 0);
        assertTrue(Arrays.deepEquals(e1.vectors(), e2.vectors()), "bitwise identical vectors");
    }

    @Test
    void size128IsFast() {
        double[][] a = randomSymmetric(128, 3);
        SymmetricEigen.decompose(a); // warm-up (JIT)
        long t0 = System.nanoTime();
        SymmetricEigen.Decomposition e = SymmetricEigen.decompose(a);
        double seconds = (System.nanoTime() - t0) / 1e9;
        assertTrue(maxResidual(a, e) < 1e-10);
        // typically a few milliseconds; the bound only catches an accidental O(n^4) or worse on a loaded machine
        assertTrue(seconds < 1.0, "n = 128 took " + seconds + " s");
    }

    @Test
    void sqrtPsdSquaresBack() {
        assertTrue(maxAbsDiff(new double[][]{{2, 0}, {0, 3}}, SymmetricEigen.sqrtPsd(new double[][]{{4, 0}, {0, 9}})) < 1e-15);

        int n = 30;
        double[][] q = randomOrthogonal(n, 19);
        double[] l = new double[n];
        for (int i = 0; i < n; i++) l[i] = 0.01 + i * 0.7;
        double[][] a = fromEigen(q, l);
        double[][] s = SymmetricEigen.sqrtPsd(a);
        assertTrue(maxAbsDiff(FrechetDistance.multiply(s, s), a) < 1e-11, "S S = A");
        for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) assertEquals(s[i][j], s[j][i], 0, "exactly symmetric");
        for (double v : SymmetricEigen.decompose(s).values()) assertTrue(v > 0, "the positive root");
    }

    @Test
    void sqrtPsdClampsRoundOffNegativeEigenvalues() {
        int n = 6;
        double[][] q = randomOrthogonal(n, 23);
        // rank-deficient PSD matrix whose zero eigenvalues come out slightly negative, plus one explicit -1e-14
        double[][] a = fromEigen(q, new double[]{-1e-14, 0, 0, 0.5, 2, 6});
        double[][] s = SymmetricEigen.sqrtPsd(a);
        for (double[] row : s) for (double v : row) assertTrue(Double.isFinite(v));
        double[][] psd = fromEigen(q, new double[]{0, 0, 0, 0.5, 2, 6});
        assertTrue(maxAbsDiff(FrechetDistance.multiply(s, s), psd) < 1e-12);
    }

    @Test
    void rejectsNonSquareNonFiniteAndAsymmetricInput() {
        assertThrows(IllegalArgumentException.class, () -> SymmetricEigen.decompose(new double[][]{{1, 2}, {3}}));
        assertThrows(IllegalArgumentException.class, () -> SymmetricEigen.decompose(new double[][]{{1, Double.NaN}, {Double.NaN, 1}}));
        assertThrows(IllegalArgumentException.class, () -> SymmetricEigen.decompose(new double[][]{{1, 2}, {0, 1}}));
        // round-off asymmetry is accepted and symmetrised away
        double[] v = SymmetricEigen.decompose(new double[][]{{1, 2 + 1e-15}, {2, 1}}).values();
        assertArrayEquals(new double[]{-1, 3}, v, 1e-14);
        assertEquals(0, SymmetricEigen.decompose(new double[0][0]).size());
        assertArrayEquals(new double[]{-4}, SymmetricEigen.decompose(new double[][]{{-4}}).values(), 0);
    }
}
