package org.tessella.data;

import org.tessella.tensor.Philox;

import java.util.List;

/**
 * Small generated labelled image sets for tests: one simple bright shape per image on a -1 background, its kind
 * given by the class, its position, size and brightness drawn from Philox, so a set is a pure function of
 * (n, size, classes, seed). Values lie in [-1, 1], like {@link FashionMnist}'s.
 */
public final class SyntheticImages {
    private SyntheticImages() {}

    public static final List<String> CLASS_NAMES = List.of("horizontal bar", "vertical bar", "square", "disc", "cross", "diagonal cross");

    /** {@code n} 1x32x32 images of all six classes. */
    public static Dataset shapes(int n, long seed) {
        return shapes(n, 32, 32, CLASS_NAMES.size(), seed);
    }

    /**
     * {@code n} grey images of {@code height x width} (each at least 8), classes 0..numClasses-1 (at most 6) in
     * turn: example i has class i % numClasses.
     */
    public static Dataset shapes(int n, int height, int width, int numClasses, long seed) {
        if (n < 0 || height < 8 || width < 8 || numClasses < 1 || numClasses > CLASS_NAMES.size())
            throw new IllegalArgumentException("SyntheticImages: bad request n=" + n + " " + height + "x" + width + ", " + numClasses
                    + " classes (need sizes >= 8 and 1-" + CLASS_NAMES.size() + " classes)");
        float[] images = new float[n * height * width];
        int[] labels = new int[n];
        int s = Math.min(height, width);
        for (int i = 0; i < n; i++) {
            int label = i % numClasses;
            labels[i] = label;
            long c = (long) i * 8;
            float jitter = s / 8f;
            float cy = height / 2f - 0.5f + (Philox.uniform(seed, c) * 2 - 1) * jitter;
            float cx = width / 2f - 0.5f + (Philox.uniform(seed, c + 1) * 2 - 1) * jitter;
            float r = s * (0.22f + 0.12f * Philox.uniform(seed, c + 2));
            float t = Math.max(1f, s / 14f);
            float v = 0.4f + 0.6f * Philox.uniform(seed, c + 3);
            int base = i * height * width;
            for (int y = 0; y < height; y++)
                for (int x = 0; x < width; x++) {
                    float dy = Math.abs(y - cy), dx = Math.abs(x - cx);
                    boolean on = switch (label) {
                        case 0 -> dy <= t && dx <= r;
                        case 1 -> dx <= t && dy <= r;
                        case 2 -> Math.max(dx, dy) <= r && Math.max(dx, dy) >= r - t;
                        case 3 -> dx * dx + dy * dy <= r * r;
                        case 4 -> (dy <= t && dx <= r) || (dx <= t && dy <= r);
                        default -> Math.abs(dx - dy) <= t && Math.max(dx, dy) <= r;
                    };
                    images[base + y * width + x] = on ? v : -1f;
                }
        }
        return new Dataset(images, labels, 1, height, width, CLASS_NAMES.subList(0, numClasses));
    }
}
