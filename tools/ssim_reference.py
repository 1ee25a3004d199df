#!/usr/bin/python3
"""Reference SSIM and PSNR values for ImageMetricsTest.

Rebuilds the test's synthetic image pairs (integer formulas only, so Java and numpy produce identical float32 pixels)
and scores them in float64 two independent ways:

  1. pytorch-msssim's recipe: separable 11-tap Gaussian (sigma 1.5, normalised) applied by conv2d with no padding
     ("valid"), SSIM map from E[x], E[y], E[x^2], E[y^2], E[xy], mean over the map;
  2. skimage's recipe (structural_similarity with gaussian_weights=True, sigma=1.5, use_sample_covariance=False):
     a same-size Gaussian filter over reflected borders (what scipy.ndimage.gaussian_filter does, written here in
     numpy), then the map cropped by (11 - 1) / 2 = 5 pixels on each side.

Both use data range L = 2 (images in [-1, 1]), C1 = (0.01 L)^2, C2 = (0.03 L)^2. The two must agree to round-off (the
crop removes exactly the pixels that saw the padding); the script checks that, then prints the values that
ImageMetricsTest hard-codes. Neither pytorch-msssim, skimage nor scipy is needed.

Run with the system Python (numpy, PyTorch 1.13):  /usr/bin/python3 tools/ssim_reference.py
"""

import numpy as np
import torch
import torch.nn.functional as F

IMAGES, HEIGHT, WIDTH = 2, 28, 36  # not square, so a transposed index shows up
WINDOW, SIGMA, DATA_RANGE = 11, 1.5, 2.0
C1, C2 = (0.01 * DATA_RANGE) ** 2, (0.03 * DATA_RANGE) ** 2


def synthetic():
    """x: ramps plus a 4x4 checkerboard; y: x plus LCG noise in [-0.25, 0.25], clipped; z: 0.5 x + 0.1."""
    x = np.zeros((IMAGES, HEIGHT, WIDTH), dtype=np.float32)
    noise = np.zeros((IMAGES, HEIGHT, WIDTH), dtype=np.float64)
    state = 12345
    for n in range(IMAGES):
        for i in range(HEIGHT):
            for j in range(WIDTH):
                v = (i + 2 * j + 5 * n) % 48 + ((i // 4 + j // 4) % 2) * 16
                x[n, i, j] = np.float32(v / 31.5 - 1.0)
                state = (state * 1103515245 + 12345) % (1 << 31)
                noise[n, i, j] = ((state >> 16) % 101 - 50) / 200.0
    y = np.clip(x.astype(np.float64) + noise, -1.0, 1.0).astype(np.float32)
    z = (0.5 * x.astype(np.float64) + 0.1).astype(np.float32)
    return x, y, z


def gaussian_1d():
    coords = torch.arange(WINDOW, dtype=torch.float64) - WINDOW // 2
    g = torch.exp(-(coords ** 2) / (2 * SIGMA ** 2))
    return g / g.sum()


def ssim_torch(a, b):
    """Per-image SSIM, pytorch-msssim style (valid separable convolution)."""
    g = gaussian_1d()
    a = torch.from_numpy(a.astype(np.float64)).unsqueeze(1)
    b = torch.from_numpy(b.astype(np.float64)).unsqueeze(1)

    def blur(t):
        return F.conv2d(F.conv2d(t, g.view(1, 1, 1, -1)), g.view(1, 1, -1, 1))

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a ** 2
    var_b = blur(b * b) - mu_b ** 2
    cov = blur(a * b) - mu_a * mu_b
    ssim_map = ((2 * mu_a * mu_b + C1) * (2 * cov + C2)) / ((mu_a ** 2 + mu_b ** 2 + C1) * (var_a + var_b + C2))
    return ssim_map.flatten(1).mean(-1).numpy()


def ssim_reflect_crop(a, b):
    """Per-image SSIM, skimage style: a same-size Gaussian filter over reflected borders (scipy.ndimage's 'reflect',
    numpy's 'symmetric'), then the map cropped by the window radius. Plain numpy, so scipy is not needed."""
    pad = (WINDOW - 1) // 2
    g = gaussian_1d().numpy()
    out = []
    for n in range(a.shape[0]):
        x, y = a[n].astype(np.float64), b[n].astype(np.float64)

        def blur(t):
            p = np.pad(t, pad, mode="symmetric")
            rows = sum(g[k] * p[:, k:k + t.shape[1]] for k in range(WINDOW))  # along the width
            return sum(g[k] * rows[k:k + t.shape[0], :] for k in range(WINDOW))  # along the height

        mx, my = blur(x), blur(y)
        vx, vy, cxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
        s = ((2 * mx * my + C1) * (2 * cxy + C2)) / ((mx * mx + my * my + C1) * (vx + vy + C2))
        out.append(s[pad:-pad, pad:-pad].mean())
    return np.array(out)


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * np.log10(DATA_RANGE ** 2 / mse)


def main():
    x, y, z = synthetic()
    results = {}
    for name, other in (("noisy", y), ("affine", z)):
        per = ssim_torch(x, other)
        check = ssim_reflect_crop(x, other)
        assert np.allclose(per, check, rtol=0, atol=1e-12), (name, per, check)
        note = "pytorch-msssim and skimage recipes agree to %.1e" % np.max(np.abs(per - check))
        results[name] = per
        print("ssim %-6s per image %s mean %.17g  (%s)" % (name, ["%.17g" % v for v in per], per.mean(), note))
    print("psnr noisy %.17g" % psnr(x, y))
    print("psnr affine %.17g" % psnr(x, z))


if __name__ == "__main__":
    main()
