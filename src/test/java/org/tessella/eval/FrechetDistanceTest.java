package org.tessella.eval;

import static org.junit.jupiter.api.Assertions.*;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.tessella.nn.Init;
import org.tessella.tensor.Tensor;

class FrechetDistanceTest {

    private static FrechetDistance.Stats stats(double[] mean, double[][] cov) {
        return new FrechetDistance.Stats(mean, cov, 1000);
    }

    private static double[][] diagonal(double... d) {
        double[][] m = new double[d.length][d.length];
        for (int i = 0; i < d.length; i++) m[i][i] = d[i];
        return m;
    }

    /** n correlated Gaussian feature vectors of dimension d: x = A z + shift, z standard normal. */
    private static float[] features(int n, int d, long seed, double shift) {
        SplittableRandom rnd = new SplittableRandom(seed);
        double[][] mix = new double[d][d];
        for (int i = 0; i < d; i++) for (int j = 0; j < d; j++) mix[i][j] = SymmetricEigenTest.gaussian(rnd) / Math.sqrt(d);
        float[] out = new float[n * d];
        double[] z = new double[d];
        for (int r = 0; r < n; r++) {
            for (int j = 0; j < d; j++) z[j] = SymmetricEigenTest.gaussian(rnd);
            for (int i = 0; i < d; i++) out[r * d + i] = (float) (SymmetricEigenTest.dot(mix[i], z) + shift + 0.1 * i);
        }
        return out;
    }

    @Test
    void statsAreTheMeanAndUnbiasedCovariance() {
        // three 2-D points: mean (2, 1); deviations (-1, -1), (0, -1), (1, 2)
        float[] f = {1, 0, 2, 0, 3, 3};
        FrechetDistance.Stats s = FrechetDistance.Stats.of(f, 3, 2);
        assertArrayEquals(new double[]{2, 1}, s.mean(), 1e-15);
        assertArrayEquals(new double[]{1, 1.5}, s.covariance()[0], 1e-15);
        assertArrayEquals(new double[]{1.5, 3}, s.covariance()[1], 1e-15);
        assertEquals(3, s.count());
        FrechetDistance.Stats t = FrechetDistance.Stats.of(Tensor.of(f, 3, 2));
        assertArrayEquals(s.mean(), t.mean(), 0);
        assertThrows(IllegalArgumentException.class, () -> FrechetDistance.Stats.of(new float[]{1, 2}, 1, 2), "one sample has no covariance");
    }

    @Test
    void identicalStatsAreAtDistanceZero() {
        FrechetDistance.Stats s = FrechetDistance.Stats.of(features(300, 16, 1, 0), 300, 16);
        double fd = FrechetDistance.distance(s, s);
        double trace = 0;
        for (int i = 0; i < 16; i++) trace += s.covariance()[i][i];
        assertTrue(fd >= 0 && fd < 1e-10 * trace, "fd of identical stats " + fd);
    }

    @Test
    void oneDimensionalGaussiansMatchTheClosedForm() {
        double m1 = 0.3, s1 = 1.7, m2 = -1.1, s2 = 0.4;
        double fd = FrechetDistance.distance(stats(new double[]{m1}, new double[][]{{s1 * s1}}), stats(new double[]{m2}, new double[][]{{s2 * s2}}));
        assertEquals((m1 - m2) * (m1 - m2) + (s1 - s2) * (s1 - s2), fd, 1e-14);
    }

    @Test
    void diagonalCovariancesMatchTheClosedForm() {
        double[] mu1 = {0, 1, 2, -1}, mu2 = {0.5, 1, 1, 0};
        double[] v1 = {1, 4, 0.25, 9}, v2 = {2, 1, 0.25, 0.01};
        double expected = 0;
        for (int i = 0; i < 4; i++) {
            double dm = mu1[i] - mu2[i], ds = Math.sqrt(v1[i]) - Math.sqrt(v2[i]);
            expected += dm * dm + ds * ds;
        }
        assertEquals(expected, FrechetDistance.distance(stats(mu1, diagonal(v1)), stats(mu2, diagonal(v2))), 1e-13);
    }

    @Test
    void nonCommutingTwoByTwoCovariancesMatchTheClosedForm() {
        // for 2x2 PSD M: tr sqrt(M) = sqrt(tr M + 2 sqrt(det M)); M = sqrt(A) B sqrt(A) has tr(AB) and det(A) det(B)
        double[][] a = {{2.0, 0.7}, {0.7, 0.5}}, b = {{0.3, -0.2}, {-0.2, 1.5}};
        double trAB = a[0][0] * b[0][0] + a[0][1] * b[1][0] + a[1][0] * b[0][1] + a[1][1] * b[1][1];
        double det = (a[0][0] * a[1][1] - a[0][1] * a[1][0]) * (b[0][0] * b[1][1] - b[0][1] * b[1][0]);
        double traceRoot = Math.sqrt(trAB + 2 * Math.sqrt(det));
        double[] mu1 = {1, 2}, mu2 = {0, 4};
        double expected = 1 + 4 + (a[0][0] + a[1][1]) + (b[0][0] + b[1][1]) - 2 * traceRoot;
        assertEquals(expected, FrechetDistance.distance(stats(mu1, a), stats(mu2, b)), 1e-13);
        assertEquals(expected, FrechetDistance.distance(stats(mu2, b), stats(mu1, a)), 1e-13, "symmetric");
    }

    @Test
    void translationInvariantAndAShiftAddsItsSquaredLength() {
        int n = 400, d = 8;
        float[] fa = features(n, d, 2, 0), fb = features(n, d, 3, 0);
        double base = FrechetDistance.distance(FrechetDistance.Stats.of(fa, n, d), FrechetDistance.Stats.of(fb, n, d));
        float[] ta = fa.clone(), tb = fb.clone();
        for (int i = 0; i < ta.length; i++) {
            ta[i] += 0.5f;
            tb[i] += 0.5f;
        }
        double both = FrechetDistance.distance(FrechetDistance.Stats.of(ta, n, d), FrechetDistance.Stats.of(tb, n, d));
        assertEquals(base, both, 1e-5 * base, "moving both sets together changes nothing (float32 shift round-off aside)");

        FrechetDistance.Stats sa = FrechetDistance.Stats.of(fa, n, d);
        double[] shifted = sa.mean().clone();
        for (int i = 0; i < d; i++) shifted[i] += 0.25;
        double moved = FrechetDistance.distance(sa, new FrechetDistance.Stats(shifted, sa.covariance(), n));
        assertEquals(d * 0.0625, moved, 1e-10, "same covariance, shifted mean: |shift|^2");
        assertTrue(base > 0);
    }

    @Test
    void rankDeficientCovariancesGiveAFiniteNonNegativeDistance() {
        int n = 10, d = 32; // fewer samples than dimensions: singular covariances
        double fd = FrechetDistance.distance(FrechetDistance.Stats.of(features(n, d, 4, 0), n, d), FrechetDistance.Stats.of(features(n, d, 5, 1), n, d));
        assertTrue(Double.isFinite(fd) && fd >= 0, "fd " + fd);
    }

    @Test
    void nonFiniteStatisticsGiveNaNAndMismatchedDimensionsThrow() {
        FrechetDistance.Stats ok = stats(new double[]{0}, new double[][]{{1}});
        assertTrue(Double.isNaN(FrechetDistance.distance(ok, stats(new double[]{Double.NaN}, new double[][]{{1}}))));
        assertThrows(IllegalArgumentException.class, () -> FrechetDistance.distance(ok, stats(new double[2], new double[2][2])));
    }

    @Test
    void untrainedClassifierOnRandomImagesGivesFiniteNonNegativeDistanceAndAccuracy() {
        FashionClassifier classifier = new FashionClassifier(new Init(42));
        int n = 24;
        SplittableRandom rnd = new SplittableRandom(9);
        float[] a = new float[n * 1024], b = new float[n * 1024];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) (rnd.nextDouble() * 2 - 1);
            b[i] = (float) (rnd.nextDouble() - 0.5);
        }
        float[] fa = FrechetDistance.features(classifier, a, n);
        assertEquals(n * FashionClassifier.FEATURES, fa.length);
        for (float v : fa) assertTrue(Float.isFinite(v) && v >= 0, "ReLU features are finite and non-negative");
        assertTrue(classifier.training(), "training mode restored");

        Tensor featureTensor = FrechetDistance.features(classifier, Tensor.of(a, n, 1, 32, 32));
        assertArrayEquals(new int[]{n, FashionClassifier.FEATURES}, featureTensor.shape());
        assertArrayEquals(fa, featureTensor.toFloatArray(), 0, "same features from both entry points");

        FrechetDistance.Stats sa = FrechetDistance.Stats.of(fa, n, FashionClassifier.FEATURES);
        FrechetDistance.Stats sb = FrechetDistance.Stats.of(FrechetDistance.features(classifier, b, n), n, FashionClassifier.FEATURES);
        double fd = FrechetDistance.distance(sa, sb);
        assertTrue(Double.isFinite(fd) && fd >= 0, "fd " + fd);
        double trace = 0;
        for (int i = 0; i < FashionClassifier.FEATURES; i++) trace += sa.covariance()[i][i];
        // 24 samples in 128 dimensions: ~104 zero eigenvalues whose round-off survives a square root, hence the bound
        assertEquals(0, FrechetDistance.distance(sa, sa), 1e-4 * trace, "identical sets");

        int[] labels = new int[n];
        for (int i = 0; i < n; i++) labels[i] = i % FashionClassifier.CLASSES;
        double acc = FrechetDistance.classAccuracy(classifier, a, labels);
        assertTrue(acc >= 0 && acc <= 1);
        assertEquals(acc, FrechetDistance.classAccuracy(classifier, Tensor.of(a, n, 1, 32, 32), labels), 0);
    }

    @Test
    void classAccuracyCountsTheLabelsTheClassifierPredicts() {
        FashionClassifier classifier = new FashionClassifier(new Init(1));
        int n = 12;
        SplittableRandom rnd = new SplittableRandom(4);
        float[] images = new float[n * 1024];
        for (int i = 0; i < images.length; i++) images[i] = (float) (rnd.nextDouble() * 2 - 1);
        // the classifier's own predictions as labels: accuracy 1; shifted by one class: accuracy 0
        int[] predicted = new int[n];
        float[] logits;
        try (var ignored = org.tessella.autograd.Tape.noGrad()) {
            classifier.eval();
            logits = classifier.forward(Tensor.of(images.clone(), n, 1, 32, 32)).toFloatArray();
            classifier.train(true);
        }
        for (int i = 0; i < n; i++) {
            int best = 0;
            for (int c = 1; c < FashionClassifier.CLASSES; c++) if (logits[i * 10 + c] > logits[i * 10 + best]) best = c;
            predicted[i] = best;
        }
        assertEquals(1.0, FrechetDistance.classAccuracy(classifier, images, predicted), 0);
        int[] wrong = new int[n];
        for (int i = 0; i < n; i++) wrong[i] = (predicted[i] + 1) % FashionClassifier.CLASSES;
        assertEquals(0.0, FrechetDistance.classAccuracy(classifier, images, wrong), 0);
    }

    @Test
    void bootstrapNoiseIsPositiveAndShrinksWithMoreSamples() {
        int d = 4;
        java.util.Random r = new java.util.Random(3);
        float[] ref = new float[20000 * d], f = new float[1600 * d];
        for (int i = 0; i < ref.length; i++) ref[i] = (float) r.nextGaussian();
        for (int i = 0; i < f.length; i++) f[i] = (float) r.nextGaussian() + 0.3f;
        FrechetDistance.Stats reference = FrechetDistance.Stats.of(ref, 20000, d);
        double small = FrechetDistance.bootstrapStd(f, 100, d, reference, 30, 1), large = FrechetDistance.bootstrapStd(f, 1600, d, reference, 30, 1);
        assertTrue(small > 0 && large > 0, small + " " + large);
        assertTrue(large < small / 2, "16x the samples, about a quarter of the noise: " + small + " -> " + large);
        assertEquals(large, FrechetDistance.bootstrapStd(f, 1600, d, reference, 30, 1), "deterministic for a seed");
        assertThrows(IllegalArgumentException.class, () -> FrechetDistance.bootstrapStd(f, 100, d, reference, 1, 1));
    }
}
