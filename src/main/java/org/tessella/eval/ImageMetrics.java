package org.tessella.eval;

import java.util.Arrays;
import org.tessella.tensor.Tensor;

/**
 * Reconstruction quality of images in [-1, 1]: PSNR and SSIM, computed in double.
 *
 * <p><b>PSNR</b> is {@code 10 log10(2^2 / mse)} with the mean squared error over all pixels of all images (peak-to-peak
 * range 2), the same definition as {@code TokenizerTraining.psnr}, so the two agree on the same images.
 *
 * <p><b>SSIM</b> is the standard definition of Wang, Bovik, Sheikh and Simoncelli (2004):
 * <pre>
 *   SSIM(x, y) = (2 mu_x mu_y + C1) (2 sigma_xy + C2) / ((mu_x^2 + mu_y^2 + C1) (sigma_x^2 + sigma_y^2 + C2))
 * </pre>
 * with local statistics weighted by an 11x11 Gaussian window (sigma 1.5, normalised to sum 1), {@code C1 = (0.01 L)^2},
 * {@code C2 = (0.03 L)^2} and data range {@code L = 2} for [-1, 1] images. The variances are the window-weighted
 * {@code E[x^2] - mu^2} (no n/(n-1) correction). <b>Region:</b> the window is only placed where it lies entirely inside
 * the image (a "valid" convolution, no padding), so a 32x32 image gives a 22x22 SSIM map; the score of an image is the
 * mean of its map, and the score of a batch the mean over images (and channels). This is what pytorch-msssim's
 * {@code ssim(..., data_range=2, size_average=True)} computes, and equals skimage's
 * {@code structural_similarity(x, y, data_range=2, gaussian_weights=True, sigma=1.5, use_sample_covariance=False)}
 * (which filters with reflected borders but then averages only the map cropped by 5 pixels, i.e. the same valid
 * region). {@code tools/ssim_reference.py} computes both for the test's reference values.
 */
public final class ImageMetrics {
    private ImageMetrics() {}

    /** Peak-to-peak range of [-1, 1] images: the L of the SSIM constants and the peak of PSNR. */
    public static final double DATA_RANGE = 2.0;
    public static final int SSIM_WINDOW = 11;
    public static final double SSIM_SIGMA = 1.5;
    private static final double C1 = (0.01 * DATA_RANGE) * (0.01 * DATA_RANGE);
    private static final double C2 = (0.03 * DATA_RANGE) * (0.03 * DATA_RANGE);

    /** The normalised 1-D Gaussian of the SSIM window; the 2-D window is its outer product (separable). */
    private static final double[] GAUSSIAN = gaussian(SSIM_WINDOW, SSIM_SIGMA);

    // ---- PSNR ------------------------------------------------------------------------------------------------------

    /** Mean squared difference over all elements, accumulated in double in index order. */
    public static double mse(float[] a, float[] b) {
        if (a.length != b.length) throw new IllegalArgumentException("mse: " + a.length + " vs " + b.length + " values");
        if (a.length == 0) throw new IllegalArgumentException("mse: no values");
        double sum = 0;
        for (int i = 0; i < a.length; i++) {
            double d = (double) a[i] - b[i];
            sum += d * d;
        }
        return sum / a.length;
    }

    /** {@code 10 log10(4 / mse)}: PSNR in dB of images in [-1, 1]; +Infinity for identical images. */
    public static double psnr(double mse) { return 10 * StrictMath.log10(DATA_RANGE * DATA_RANGE / mse); }

    /** PSNR of the MSE over all pixels of two equally long image batches in [-1, 1]. */
    public static double psnr(float[] a, float[] b) { return psnr(mse(a, b)); }

    /** PSNR of two tensors of the same shape (any layout; typically [n, 1, H, W]). */
    public static double psnr(Tensor a, Tensor b) {
        sameShape("psnr", a, b);
        return psnr(a.toFloatArray(), b.toFloatArray());
    }

    // ---- SSIM ------------------------------------------------------------------------------------------------------

    /**
     * Mean SSIM of {@code images} pairs of single-channel {@code height x width} images stored one after another
     * (row-major) in {@code x} and {@code y}. Symmetric in x and y; 1 for identical images. Needs images of at least
     * 11x11 (the window).
     */
    public static double ssim(float[] x, float[] y, int images, int height, int width) {
        double[] per = ssimPerImage(x, y, images, height, width);
        double sum = 0;
        for (double s : per) sum += s;
        return sum / images;
    }

    /** The SSIM of each image pair (the mean of its valid-region SSIM map); see {@link #ssim(float[], float[], int, int, int)}. */
    public static double[] ssimPerImage(float[] x, float[] y, int images, int height, int width) {
        if (images < 1) throw new IllegalArgumentException("ssim: need at least one image, got " + images);
        if (height < SSIM_WINDOW || width < SSIM_WINDOW)
            throw new IllegalArgumentException("ssim: images of " + height + "x" + width + " are smaller than the "
                    + SSIM_WINDOW + "x" + SSIM_WINDOW + " window");
        long needed = (long) images * height * width;
        if (x.length != needed || y.length != needed)
            throw new IllegalArgumentException("ssim: " + images + " images of " + height + "x" + width + " need " + needed
                    + " values, got " + x.length + " and " + y.length);
        double[] out = new double[images];
        Plane plane = new Plane(height, width);
        for (int i = 0; i < images; i++) out[i] = plane.ssim(x, y, i * height * width);
        return out;
    }

    /**
     * Mean SSIM of two batches [n, c, H, W] (or [n, H, W]): each channel plane is scored as a grey image and the
     * planes are averaged, as pytorch-msssim does for multi-channel input.
     */
    public static double ssim(Tensor a, Tensor b) {
        sameShape("ssim", a, b);
        int[] s = a.shape();
        if (s.length < 2) throw new IllegalArgumentException("ssim: images must be [n, c, H, W] or [n, H, W], got " + Arrays.toString(s));
        int h = s[s.length - 2], w = s[s.length - 1];
        int planes = a.numel() / (h * w);
        return ssim(a.toFloatArray(), b.toFloatArray(), planes, h, w);
    }

    /**
     * Scratch buffers for one image size: the five filtered quantities (x, y, x^2, y^2, xy) after the horizontal pass
     * and after the vertical pass. Separable filtering: 2 x 11 taps per output instead of 121.
     */
    private static final class Plane {
        final int height, width, outH, outW;
        final double[][] horizontal, filtered;

        Plane(int height, int width) {
            this.height = height;
            this.width = width;
            outH = height - SSIM_WINDOW + 1;
            outW = width - SSIM_WINDOW + 1;
            horizontal = new double[5][height * outW];
            filtered = new double[5][outH * outW];
        }

        double ssim(float[] x, float[] y, int offset) {
            int k = SSIM_WINDOW;
            // horizontal pass over every row, valid columns only
            for (int r = 0; r < height; r++) {
                int row = offset + r * width;
                for (int c = 0; c < outW; c++) {
                    double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
                    for (int t = 0; t < k; t++) {
                        double g = GAUSSIAN[t], xv = x[row + c + t], yv = y[row + c + t];
                        sx += g * xv;
                        sy += g * yv;
                        // g * (x y), not (g x) y: the product image is what is filtered, and it keeps the
                        // result bitwise symmetric in x and y
                        sxx += g * (xv * xv);
                        syy += g * (yv * yv);
                        sxy += g * (xv * yv);
                    }
                    int o = r * outW + c;
                    horizontal[0][o] = sx;
                    horizontal[1][o] = sy;
                    horizontal[2][o] = sxx;
                    horizontal[3][o] = syy;
                    horizontal[4][o] = sxy;
                }
            }
            // vertical pass, valid rows only
            for (int q = 0; q < 5; q++) {
                double[] in = horizontal[q], out = filtered[q];
                for (int r = 0; r < outH; r++)
                    for (int c = 0; c < outW; c++) {
                        double s = 0;
                        for (int t = 0; t < k; t++) s += GAUSSIAN[t] * in[(r + t) * outW + c];
                        out[r * outW + c] = s;
                    }
            }
            double sum = 0;
            for (int i = 0; i < outH * outW; i++) {
                double mx = filtered[0][i], my = filtered[1][i];
                double vx = filtered[2][i] - mx * mx, vy = filtered[3][i] - my * my, cxy = filtered[4][i] - mx * my;
                sum += ((2 * mx * my + C1) * (2 * cxy + C2)) / ((mx * mx + my * my + C1) * (vx + vy + C2));
            }
            return sum / (outH * outW);
        }
    }

    /** exp(-t^2 / (2 sigma^2)) at t = -size/2 .. size/2, normalised to sum 1 (pytorch-msssim's {@code _fspecial_gauss_1d}). */
    static double[] gaussian(int size, double sigma) {
        double[] g = new double[size];
        double sum = 0;
        for (int i = 0; i < size; i++) {
            double t = i - size / 2;
            g[i] = StrictMath.exp(-(t * t) / (2 * sigma * sigma));
            sum += g[i];
        }
        for (int i = 0; i < size; i++) g[i] /= sum;
        return g;
    }

    private static void sameShape(String op, Tensor a, Tensor b) {
        if (!Arrays.equals(a.shape(), b.shape()))
            throw new IllegalArgumentException(op + ": shapes differ, " + Arrays.toString(a.shape()) + " vs " + Arrays.toString(b.shape()));
    }
}
