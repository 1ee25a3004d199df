package org.tessella.eval;

import static org.junit.jupiter.api.Assertions.*;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.tessella.tensor.Tensor;
import org.tessella.tokenizer.TokenizerTraining;

class ImageMetricsTest {
    // the synthetic pairs of tools/ssim_reference.py
    static final int IMAGES = 2, HEIGHT = 28, WIDTH = 36;

    /** x: ramps plus a 4x4 checkerboard; y: x plus LCG noise in [-0.25, 0.25], clipped; z: 0.5 x + 0.1 (as the script). */
    static float[][] synthetic() {
        int size = IMAGES * HEIGHT * WIDTH;
        float[] x = new float[size], y = new float[size], z = new float[size];
        long state = 12345;
        int p = 0;
        for (int n = 0; n < IMAGES; n++)
            for (int i = 0; i < HEIGHT; i++)
                for (int j = 0; j < WIDTH; j++, p++) {
                    int v = (i + 2 * j + 5 * n) % 48 + ((i / 4 + j / 4) % 2) * 16;
                    x[p] = (float) (v / 31.5 - 1.0);
                    state = (state * 1103515245L + 12345) % (1L << 31);
                    double noise = ((state >> 16) % 101 - 50) / 200.0;
                    y[p] = (float) Math.min(1.0, Math.max(-1.0, (double) x[p] + noise));
                    z[p] = (float) (0.5 * (double) x[p] + 0.1);
                }
        return new float[][]{x, y, z};
    }

    /**
     * SSIM the slow, obvious way, independent of the implementation under test: for every valid window position, the
     * 2-D Gaussian weights w = g g^T, the weighted means, then the weighted centred second moments (two passes).
     */
    static double referenceSsim(float[] x, float[] y, int images, int h, int w) {
        double[] g = new double[11];
        double gs = 0;
        for (int i = 0; i < 11; i++) gs += g[i] = Math.exp(-((i - 5) * (i - 5)) / (2 * 1.5 * 1.5));
        double c1 = 0.02 * 0.02, c2 = 0.06 * 0.06;
        double total = 0;
        for (int n = 0; n < images; n++) {
            double sum = 0;
            int count = 0;
            for (int r = 0; r + 11 <= h; r++)
                for (int c = 0; c + 11 <= w; c++) {
                    double mx = 0, my = 0;
                    for (int a = 0; a < 11; a++)
                        for (int b = 0; b < 11; b++) {
                            double wt = g[a] * g[b] / (gs * gs);
                            int idx = n * h * w + (r + a) * w + c + b;
                            mx += wt * x[idx];
                            my += wt * y[idx];
                        }
                    double vx = 0, vy = 0, cxy = 0;
                    for (int a = 0; a < 11; a++)
                        for (int b = 0; b < 11; b++) {
                            double wt = g[a] * g[b] / (gs * gs);
                            int idx = n * h * w + (r + a) * w + c + b;
                            double dx = x[idx] - mx, dy = y[idx] - my;
                            vx += wt * dx * dx;
                            vy += wt * dy * dy;
                            cxy += wt * dx * dy;
                        }
                    sum += (2 * mx * my + c1) * (2 * cxy + c2) / ((mx * mx + my * my + c1) * (vx + vy + c2));
                    count++;
                }
            total += sum / count;
        }
        return total / images;
    }

    static float[] randomImages(int count, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] out = new float[count];
        for (int i = 0; i < out.length; i++) out[i] = (float) (rnd.nextDouble() * 2 - 1);
        return out;
    }

    static float[] withNoise(float[] x, double amplitude, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i++) out[i] = (float) Math.max(-1, Math.min(1, x[i] + amplitude * (rnd.nextDouble() * 2 - 1)));
        return out;
    }

    // ---- SSIM -------------------------------------------------------------------------------------------------------

    @Test
    void matchesThePyTorchReferenceOfToolsSsimReference() {
        // /usr/bin/python3 tools/ssim_reference.py (pytorch-msssim recipe in float64, cross-checked against skimage's)
        float[][] s = synthetic();
        double[] noisy = ImageMetrics.ssimPerImage(s[0], s[1], IMAGES, HEIGHT, WIDTH);
        assertArrayEquals(new double[]{0.86015915787744468, 0.85184361665511055}, noisy, 1e-12);
        assertEquals(0.85600138726627761, ImageMetrics.ssim(s[0], s[1], IMAGES, HEIGHT, WIDTH), 1e-12);
        double[] affine = ImageMetrics.ssimPerImage(s[0], s[2], IMAGES, HEIGHT, WIDTH);
        assertArrayEquals(new double[]{0.41279118525951591, 0.43086374361724494}, affine, 1e-12);
        assertEquals(0.42182746443838043, ImageMetrics.ssim(s[0], s[2], IMAGES, HEIGHT, WIDTH), 1e-12);
    }

    @Test
    void matchesAStraightforwardDoubleImplementation() {
        float[][] s = synthetic();
        assertEquals(referenceSsim(s[0], s[1], IMAGES, HEIGHT, WIDTH), ImageMetrics.ssim(s[0], s[1], IMAGES, HEIGHT, WIDTH), 1e-12);
        assertEquals(referenceSsim(s[0], s[2], IMAGES, HEIGHT, WIDTH), ImageMetrics.ssim(s[0], s[2], IMAGES, HEIGHT, WIDTH), 1e-12);
        float[] a = randomImages(3 * 32 * 32, 1), b = withNoise(a, 0.3, 2);
        assertEquals(referenceSsim(a, b, 3, 32, 32), ImageMetrics.ssim(a, b, 3, 32, 32), 1e-12);
        float[] c = randomImages(3 * 32 * 32, 3);
        assertEquals(referenceSsim(a, c, 3, 32, 32), ImageMetrics.ssim(a, c, 3, 32, 32), 1e-12, "unrelated images");
    }

    @Test
    void identicalImagesScoreOneAndTheScoreIsSymmetric() {
        float[][] s = synthetic();
        assertEquals(1.0, ImageMetrics.ssim(s[0], s[0], IMAGES, HEIGHT, WIDTH), 1e-15);
        float[] flat = new float[32 * 32];
        java.util.Arrays.fill(flat, 0.25f);
        assertEquals(1.0, ImageMetrics.ssim(flat, flat.clone(), 1, 32, 32), 1e-15, "constant images too");
        assertEquals(ImageMetrics.ssim(s[0], s[1], IMAGES, HEIGHT, WIDTH), ImageMetrics.ssim(s[1], s[0], IMAGES, HEIGHT, WIDTH), 0);
        float[] a = randomImages(2 * 32 * 32, 5), b = withNoise(a, 0.5, 6);
        assertEquals(ImageMetrics.ssim(a, b, 2, 32, 32), ImageMetrics.ssim(b, a, 2, 32, 32), 0);
    }

    @Test
    void decreasesAsNoiseGrows() {
        float[] clean = synthetic()[0];
        double previous = 1.0;
        for (double amplitude : new double[]{0.02, 0.05, 0.1, 0.2, 0.4, 0.8}) {
            double s = ImageMetrics.ssim(clean, withNoise(clean, amplitude, 7), IMAGES, HEIGHT, WIDTH);
            assertTrue(s < previous, "noise " + amplitude + ": ssim " + s + " not below " + previous);
            previous = s;
        }
    }

    @Test
    void tensorEntryPointAveragesImagesAndChannels() {
        float[] a = randomImages(4 * 32 * 32, 8), b = withNoise(a, 0.2, 9);
        double flat = ImageMetrics.ssim(a, b, 4, 32, 32);
        assertEquals(flat, ImageMetrics.ssim(Tensor.of(a.clone(), 4, 1, 32, 32), Tensor.of(b.clone(), 4, 1, 32, 32)), 0);
        assertEquals(flat, ImageMetrics.ssim(Tensor.of(a.clone(), 2, 2, 32, 32), Tensor.of(b.clone(), 2, 2, 32, 32)), 1e-15, "2 images x 2 channels");
        double[] per = ImageMetrics.ssimPerImage(a, b, 4, 32, 32);
        assertEquals(flat, (per[0] + per[1] + per[2] + per[3]) / 4, 1e-15);
    }

    @Test
    void rejectsImagesSmallerThanTheWindowAndMismatchedSizes() {
        assertThrows(IllegalArgumentException.class, () -> ImageMetrics.ssim(new float[100], new float[100], 1, 10, 10));
        assertThrows(IllegalArgumentException.class, () -> ImageMetrics.ssim(new float[1024], new float[1000], 1, 32, 32));
        assertThrows(IllegalArgumentException.class,
                () -> ImageMetrics.ssim(Tensor.of(new float[1024], 1, 1, 32, 32), Tensor.of(new float[1024], 1, 32, 32)));
    }

    // ---- PSNR -------------------------------------------------------------------------------------------------------

    @Test
    void psnrMatchesTheClosedFormAndTheTokenizerTrainer() {
        float[] zeros = new float[2 * 32 * 32], offset = new float[zeros.length];
        java.util.Arrays.fill(offset, 0.1f);
        double mse = (double) 0.1f * 0.1f;
        assertEquals(mse, ImageMetrics.mse(zeros, offset), 1e-15, "2048 equal terms summed in double");
        assertEquals(10 * Math.log10(4 / mse), ImageMetrics.psnr(zeros, offset), 1e-12);
        assertEquals(26.0206, ImageMetrics.psnr(0.01), 1e-4, "10 log10(4 / 0.01)");
        assertEquals(TokenizerTraining.psnr(0.0123), ImageMetrics.psnr(0.0123), 1e-12, "same definition as the tokenizer trainer");
        assertEquals(Double.POSITIVE_INFINITY, ImageMetrics.psnr(zeros, zeros.clone()));
        assertEquals(ImageMetrics.psnr(zeros, offset),
                ImageMetrics.psnr(Tensor.of(zeros.clone(), 2, 1, 32, 32), Tensor.of(offset.clone(), 2, 1, 32, 32)), 0);
        float[][] s = synthetic();
        assertEquals(22.873721768011723, ImageMetrics.psnr(s[0], s[1]), 1e-10, "tools/ssim_reference.py");
        assertEquals(17.680104688883969, ImageMetrics.psnr(s[0], s[2]), 1e-10, "tools/ssim_reference.py");
    }
}
