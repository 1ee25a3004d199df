package org.tessella.ar;

import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.*;

class MarkovSourceTest {

    @Test
    void deterministicPerSeed() {
        for (int order = 1; order <= 2; order++) {
            MarkovSource a = new MarkovSource(50, 12, order, 3, 7), b = new MarkovSource(50, 12, order, 3, 7);
            MarkovSource c = new MarkovSource(50, 12, order, 3, 8);
            assertEquals(a.trueBitsPerToken(), b.trueBitsPerToken(), 0.0);
            assertNotEquals(a.trueBitsPerToken(), c.trueBitsPerToken());
            for (int i = 0; i < 20; i++) {
                assertArrayEquals(a.sample(i % 3, 11, i), b.sample(i % 3, 11, i));
                assertEquals(a.sampleLabel(11, i), b.sampleLabel(11, i));
            }
            assertFalse(Arrays.equals(a.sample(0, 11, 0), a.sample(0, 11, 1)), "different indices, different sequences");
            assertFalse(Arrays.equals(a.sample(0, 11, 0), a.sample(0, 12, 0)), "different seeds, different sequences");
            assertFalse(Arrays.equals(a.sample(0, 11, 0), c.sample(0, 11, 0)), "different sources, different sequences");
            TokenFile.Split s1 = a.sampleSplit(3, 100, 10), s2 = b.sampleSplit(3, 100, 10);
            assertArrayEquals(s1.tokens(), s2.tokens());
            assertArrayEquals(s1.labels(), s2.labels());
        }
    }

    @Test
    void rowsAreDistributionsOverTheirSupport() {
        for (int order = 1; order <= 2; order++) {
            MarkovSource m = new MarkovSource(40, 8, order, 2, 3);
            int k = m.vocab();
            for (int c = 0; c < 2; c++)
                for (int b = 0; b <= k; b++) {
                    int[] supp = m.supportOf(c, b);
                    assertEquals(MarkovSource.DEFAULT_SUPPORT, supp.length);
                    for (int j = 1; j < supp.length; j++) assertTrue(supp[j - 1] < supp[j], "sorted and distinct");
                    int prev2 = order == 1 || b == k ? k : firstWith(m, c, b);
                    if (prev2 < 0) continue;
                    double sum = 0, all = 0;
                    for (int t : supp) sum += m.probability(c, prev2, b, t);
                    for (int t = 0; t < k; t++) all += m.probability(c, prev2, b, t);
                    assertEquals(1, sum, 1e-12);
                    assertEquals(1, all, 1e-12, "no mass outside the support");
                }
        }
    }

    private static int firstWith(MarkovSource m, int c, int b) {
        for (int a = 0; a < m.vocab(); a++) if (Arrays.binarySearch(m.supportOf(c, a), b) >= 0) return a;
        return -1;
    }

    /** Exact check by enumeration: H(z_1..N | c) / N, from the chain rule, is the mean conditional entropy. */
    @Test
    void entropyMatchesBruteForceEnumeration() {
        for (int order = 1; order <= 2; order++)
            for (int support : new int[]{2, 3}) {
                MarkovSource m = new MarkovSource(3, 5, order, 2, 42, 0.7, support);
                double mean = 0;
                for (int c = 0; c < 2; c++) {
                    double total = 0, h = 0;
                    int[] seq = new int[5];
                    for (int code = 0; code < 243; code++) {
                        for (int i = 0, x = code; i < 5; i++, x /= 3) seq[i] = x % 3;
                        double p = Math.pow(2, m.log2Likelihood(c, seq));
                        total += p;
                        if (p > 0) h -= p * Math.log(p) / Math.log(2);
                    }
                    assertEquals(1, total, 1e-12, "order " + order + " support " + support);
                    assertEquals(h / 5, m.trueBitsPerToken(c), 1e-12, "order " + order + " support " + support);
                    mean += m.trueBitsPerToken(c) / 2;
                }
                assertEquals(mean, m.trueBitsPerToken(), 1e-12);
                assertEquals(mean, Arrays.stream(m.trueBitsPerPosition()).average().orElseThrow(), 1e-12);
            }
    }

    private static double empiricalBits(MarkovSource m, int n) {
        TokenFile.Split s = m.sampleSplit(99, 0, n);
        double sum = 0;
        for (int i = 0; i < n; i++) {
            int[] seq = Arrays.copyOfRange(s.tokens(), i * m.length(), (i + 1) * m.length());
            double lp = m.log2Likelihood(s.labels()[i], seq);
            assertTrue(Double.isFinite(lp), "sampled sequences have positive probability");
            sum -= lp;
        }
        return sum / ((double) n * m.length());
    }

    @Test
    void empiricalEntropyMatchesOrder1() {
        MarkovSource m = new MarkovSource(64, 32, 1, 4, 5);
        double truth = m.trueBitsPerToken(), emp = empiricalBits(m, 3000);
        assertTrue(truth > 1.5 && truth < 4.5, "entropy " + truth);
        assertEquals(truth, emp, 0.02 * truth, "empirical " + emp + " vs exact " + truth);
    }

    @Test
    void order2DefaultSizeIsFastAndMatches() {
        long t0 = System.nanoTime();
        MarkovSource m = new MarkovSource(256, 64, 2, 10, 1);
        double secs = (System.nanoTime() - t0) * 1e-9;
        assertTrue(secs < 5, "building K=256 order 2 took " + secs + " s");
        double truth = m.trueBitsPerToken(), emp = empiricalBits(m, 1500);
        assertTrue(truth > 2 && truth < 4, "entropy " + truth);
        assertEquals(truth, emp, 0.03 * truth, "empirical " + emp + " vs exact " + truth);
        // the second-to-last token matters: rows with the same last token differ
        int b = m.supportOf(0, 0)[0];
        int other = -1;
        for (int a = 1; a < 256 && other < 0; a++) if (Arrays.binarySearch(m.supportOf(0, a), b) >= 0) other = a;
        assertTrue(other > 0);
        int t = m.supportOf(0, b)[0];
        assertNotEquals(m.probability(0, 0, b, t), m.probability(0, other, b, t));
    }

    @Test
    void concentrationControlsPeakedness() {
        double lo = new MarkovSource(64, 16, 1, 2, 1, 0.1, 16).trueBitsPerToken();
        double mid = new MarkovSource(64, 16, 1, 2, 1, 0.5, 16).trueBitsPerToken();
        double hi = new MarkovSource(64, 16, 1, 2, 1, 10, 16).trueBitsPerToken();
        assertTrue(lo < mid && mid < hi && hi < 4, lo + " " + mid + " " + hi);
    }

    @Test
    void labelsAreRoughlyUniform() {
        MarkovSource m = new MarkovSource(8, 4, 1, 5, 1);
        int[] count = new int[5];
        for (int i = 0; i < 5000; i++) count[m.sampleLabel(3, i)]++;
        for (int c : count) assertTrue(c > 850 && c < 1150, Arrays.toString(count));
    }

    @Test
    void rejectsBadShapes() {
        assertThrows(IllegalArgumentException.class, () -> new MarkovSource(1, 4, 1, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> new MarkovSource(4, 0, 1, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> new MarkovSource(4, 4, 3, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> new MarkovSource(4, 4, 1, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> new MarkovSource(4, 4, 1, 1, 0, 0, 4));
        assertThrows(IllegalArgumentException.class, () -> new MarkovSource(4, 4, 1, 1, 0, Double.NaN, 4));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new MarkovSource(1 << 16, 4, 2, 100, 0));
        assertTrue(e.getMessage().contains("too large"), e.getMessage());
    }
}
