package org.tessella.eval;

import java.util.Arrays;
import org.tessella.autograd.Ops;
import org.tessella.autograd.Tape;
import org.tessella.tensor.Tensor;
import org.tessella.tensor.Workspace;

/**
 * Frechet distance between two sets of images, measured on the penultimate (fc1, 128-wide) features of the
 * Fashion-MNIST {@link FashionClassifier}: the role Inception-v3's pool features play in FID. Each set is summarised by
 * the mean and covariance of its features ({@link Stats}), and the distance between the two Gaussians is
 *
 * <pre>  |mu_a - mu_b|^2 + tr(C_a) + tr(C_b) - 2 tr( sqrt( sqrt(C_a) C_b sqrt(C_a) ) )</pre>
 *
 * The last term is the usual {@code tr sqrt(C_a C_b)} written in its symmetric form (the two products have the same
 * eigenvalues), so the project's {@link SymmetricEigen} suffices and no general (non-symmetric) matrix square root is
 * needed. Covariances are the unbiased sample covariances ({@code n - 1}, as {@code numpy.cov} in pytorch-fid).
 *
 * <p>Numbers are comparable only between runs with the same classifier and the same reference set; they are not FID.
 *
 * <p>Deterministic: the classifier runs on the CPU kernels (deterministic by design), and the statistics are
 * accumulated in double in a fixed order.
 */
public final class FrechetDistance {
    private FrechetDistance() {}

    /** Images per classifier call: large enough to keep the kernels busy, small enough for modest activations. */
    static final int BATCH = 250;

    /** Pixels of one padded 1x32x32 image, the classifier's input. */
    private static final int PIXELS = 32 * 32;

    /**
     * Mean and covariance (both double) of {@code count} feature vectors. {@code covariance} is the unbiased sample
     * covariance, exactly symmetric.
     */
    public record Stats(double[] mean, double[][] covariance, long count) {
        public Stats {
            int d = mean.length;
            if (covariance.length != d)
                throw new IllegalArgumentException("frechet stats: mean has " + d + " entries but the covariance " + covariance.length + " rows");
            for (double[] row : covariance)
                if (row.length != d) throw new IllegalArgumentException("frechet stats: covariance must be " + d + "x" + d);
        }

        public int dimension() { return mean.length; }

        /**
         * The statistics of {@code n} feature vectors of dimension {@code d}, stored row-major in {@code features}
         * (length at least n*d). Two passes in double: the mean, then the centred outer products, so no precision is
         * lost to the {@code E[x x^T] - mu mu^T} cancellation.
         */
        public static Stats of(float[] features, int n, int d) {
            if (n < 2) throw new IllegalArgumentException("frechet stats: a covariance needs at least 2 feature vectors, got " + n);
            if (d < 1) throw new IllegalArgumentException("frechet stats: feature dimension must be positive, got " + d);
            if ((long) n * d > features.length)
                throw new IllegalArgumentException("frechet stats: " + features.length + " values do not hold " + n + " vectors of " + d);
            double[] mean = new double[d];
            for (int r = 0; r < n; r++) {
                int base = r * d;
                for (int i = 0; i < d; i++) mean[i] += features[base + i];
            }
            for (int i = 0; i < d; i++) mean[i] /= n;
            double[][] cov = new double[d][d];
            double[] centred = new double[d];
            for (int r = 0; r < n; r++) {
                int base = r * d;
                for (int i = 0; i < d; i++) centred[i] = features[base + i] - mean[i];
                for (int i = 0; i < d; i++) {
                    double ci = centred[i];
                    if (ci == 0) continue; // ReLU features are often exactly zero: skipping them is exact
                    double[] row = cov[i];
                    for (int j = i; j < d; j++) row[j] += ci * centred[j];
                }
            }
            for (int i = 0; i < d; i++) {
                for (int j = i; j < d; j++) cov[i][j] /= (n - 1);
                for (int j = 0; j < i; j++) cov[i][j] = cov[j][i];
            }
            return new Stats(mean, cov, n);
        }

        /** The statistics of the rows of a 2-D tensor [n, d]. */
        public static Stats of(Tensor features) {
            if (features.rank() != 2)
                throw new IllegalArgumentException("frechet stats: features must be [n, d], got rank " + features.rank() + " " + Arrays.toString(features.shape()));
            return of(features.toFloatArray(), features.shape(0), features.shape(1));
        }
    }

    /**
     * The Frechet distance between the Gaussians of {@code a} and {@code b}; at least 0 (tiny negative round-off is
     * clamped). NaN when either statistic holds a non-finite value (for example the features of a diverged
     * generator's NaN images), so a report can show it instead of failing.
     */
    public static double distance(Stats a, Stats b) {
        int d = a.dimension();
        if (b.dimension() != d)
            throw new IllegalArgumentException("frechet distance: feature dimensions differ, " + d + " vs " + b.dimension());
        if (!allFinite(a) || !allFinite(b)) return Double.NaN;
        double meanTerm = 0;
        for (int i = 0; i < d; i++) {
            double diff = a.mean()[i] - b.mean()[i];
            meanTerm += diff * diff;
        }
        double traceA = 0, traceB = 0;
        for (int i = 0; i < d; i++) {
            traceA += a.covariance()[i][i];
            traceB += b.covariance()[i][i];
        }
        double[][] rootA = SymmetricEigen.sqrtPsd(a.covariance());
        double[][] middle = multiply(multiply(rootA, b.covariance()), rootA);
        // tr sqrt(M) = sum of the square roots of M's eigenvalues; M is PSD up to round-off, so clamp negatives
        double traceRoot = 0;
        for (double l : SymmetricEigen.decompose(symmetrised(middle)).values()) if (l > 0) traceRoot += Math.sqrt(l);
        return Math.max(0, meanTerm + traceA + traceB - 2 * traceRoot);
    }

    // ---- classifier features and class accuracy -------------------------------------------------------------------

    /**
     * Penultimate features [n * 128] of {@code n} padded 1x32x32 images in [-1, 1] stored one after another in
     * {@code images}, computed in batches without recording gradients. The classifier is put in eval mode for the
     * call and left in the mode it was in.
     */
    public static float[] features(FashionClassifier classifier, float[] images, int n) {
        checkImages(images, n);
        float[] out = new float[n * FashionClassifier.FEATURES];
        forEachBatch(classifier, images, n, (start, batch) -> {
            float[] f = classifier.features(batch).toFloatArray();
            System.arraycopy(f, 0, out, start * FashionClassifier.FEATURES, f.length);
        });
        return out;
    }

    /**
     * The sampling noise of a Frechet distance: the standard deviation of the distance to {@code reference} over
     * {@code draws} bootstrap resamples (n rows drawn with replacement, from a counter-based stream of {@code seed}) of
     * the n feature vectors in {@code features}. Two runs whose distances differ by less than about twice this are
     * within noise of each other.
     */
    public static double bootstrapStd(float[] features, int n, int d, Stats reference, int draws, long seed) {
        if (draws < 2) throw new IllegalArgumentException("frechet bootstrap: need at least 2 draws, got " + draws);
        double[] fd = new double[draws];
        float[] resampled = new float[n * d];
        for (int k = 0; k < draws; k++) {
            for (int r = 0; r < n; r++)
                System.arraycopy(features, org.tessella.tensor.Philox.below(seed + k, r, n) * d, resampled, r * d, d);
            fd[k] = distance(Stats.of(resampled, n, d), reference);
        }
        double mean = 0, var = 0;
        for (double v : fd) mean += v / draws;
        for (double v : fd) var += (v - mean) * (v - mean) / (draws - 1);
        return Math.sqrt(var);
    }

    /** Feature statistics of n images [n, 1, 32, 32] under the classifier: the input of {@link #distance}. */
    public static Stats stats(FashionClassifier classifier, float[] images, int n) {
        return Stats.of(features(classifier, images, n), n, FashionClassifier.FEATURES);
    }

    /** Penultimate features [n, 128] (a persistent tensor) of images [n, 1, 32, 32]; see {@link #features(FashionClassifier, float[], int)}. */
    public static Tensor features(FashionClassifier classifier, Tensor images) {
        int n = checkImageTensor(images);
        return Tensor.of(features(classifier, images.toFloatArray(), n), n, FashionClassifier.FEATURES);
    }

    /**
     * The fraction of images the classifier assigns to the class asked for: {@code labels[i]} for image i of the
     * padded 1x32x32 images in {@code images} (as many as there are labels). Batched, no gradients recorded.
     */
    public static double classAccuracy(FashionClassifier classifier, float[] images, int[] labels) {
        int n = labels.length;
        if (n == 0) throw new IllegalArgumentException("class accuracy: no labels");
        checkImages(images, n);
        int[] correct = {0};
        forEachBatch(classifier, images, n, (start, batch) -> {
            int[] predicted = Ops.argmax(classifier.forward(batch)).toIntArray();
            for (int i = 0; i < predicted.length; i++) if (predicted[i] == labels[start + i]) correct[0]++;
        });
        return (double) correct[0] / n;
    }

    /** {@link #classAccuracy(FashionClassifier, float[], int[])} for images [n, 1, 32, 32]. */
    public static double classAccuracy(FashionClassifier classifier, Tensor images, int[] labels) {
        int n = checkImageTensor(images);
        if (n != labels.length)
            throw new IllegalArgumentException("class accuracy: " + n + " images but " + labels.length + " labels");
        return classAccuracy(classifier, images.toFloatArray(), labels);
    }

    // ---- helpers --------------------------------------------------------------------------------------------------

    private interface BatchBody { void run(int start, Tensor batch); }

    /** Runs {@code body} on consecutive batches of images [b, 1, 32, 32] in eval mode, no-grad, one workspace step each. */
    private static void forEachBatch(FashionClassifier classifier, float[] images, int n, BatchBody body) {
        boolean wasTraining = classifier.training();
        classifier.eval();
        Workspace ws = new Workspace();
        try (var ignored = Tape.noGrad()) {
            for (int start = 0; start < n; start += BATCH) {
                int b = Math.min(BATCH, n - start);
                try (Workspace step = ws.open()) {
                    Tensor batch = Tensor.of(Arrays.copyOfRange(images, start * PIXELS, (start + b) * PIXELS), b, 1, 32, 32);
                    body.run(start, batch);
                }
            }
        } finally {
            classifier.train(wasTraining);
        }
    }

    private static void checkImages(float[] images, int n) {
        if (n < 0 || (long) n * PIXELS > images.length)
            throw new IllegalArgumentException("classifier input: " + images.length + " values do not hold " + n + " images of 1x32x32");
    }

    private static int checkImageTensor(Tensor images) {
        int[] s = images.shape();
        if (s.length != 4 || s[1] != 1 || s[2] != 32 || s[3] != 32)
            throw new IllegalArgumentException("classifier input: images must be [n, 1, 32, 32], got " + Arrays.toString(s));
        return s[0];
    }

    private static boolean allFinite(Stats s) {
        for (double x : s.mean()) if (!Double.isFinite(x)) return false;
        for (double[] row : s.covariance()) for (double x : row) if (!Double.isFinite(x)) return false;
        return true;
    }

    /** {@code a b} for square matrices, i-k-j loop order (row-contiguous inner loop, fixed summation order). */
    static double[][] multiply(double[][] a, double[][] b) {
        int n = a.length;
        double[][] c = new double[n][n];
        for (int i = 0; i < n; i++) {
            double[] ci = c[i], ai = a[i];
            for (int k = 0; k < n; k++) {
                double aik = ai[k];
                if (aik == 0) continue;
                double[] bk = b[k];
                for (int j = 0; j < n; j++) ci[j] += aik * bk[j];
            }
        }
        return c;
    }

    /** {@code (m + m^T) / 2}: the product {@code S B S} is symmetric only up to round-off. */
    private static double[][] symmetrised(double[][] m) {
        int n = m.length;
        double[][] s = new double[n][n];
        for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) s[i][j] = 0.5 * (m[i][j] + m[j][i]);
        return s;
    }
}
