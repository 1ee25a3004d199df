package org.tessella.tensor;

/**
 * Philox4x32-10, the counter-based generator of Salmon et al. (2011): a pure function of (key, counter), so the
 * number drawn for element i depends only on the seed and i, never on which thread or in what order it is drawn.
 * Every random stream in Tessella (initialisation, dropout, shuffling, sampling) goes through it.
 */
public final class Philox {
    private static final int M0 = 0xD2511F53, M1 = 0xCD9E8D57;
    private static final int W0 = 0x9E3779B9, W1 = 0xBB67AE85;

    private Philox() {}

    /** The first 32-bit word of the block for (seed, counter, stream). */
    public static int bits(long seed, long counter, int stream) {
        return block(seed, counter, stream)[0];
    }

    /** Both 64 bits of the first half of the block, as a long. */
    public static long bits64(long seed, long counter, int stream) {
        int[] b = block(seed, counter, stream);
        return ((long) b[0] << 32) | (b[1] & 0xffffffffL);
    }

    /** Uniform float in [0, 1) with 24 random bits. */
    public static float uniform(long seed, long counter) {
        return (bits(seed, counter, 0) >>> 8) * 0x1.0p-24f;
    }

    /** Standard normal by Box-Muller over two words of the same block (StrictMath: the same bits everywhere). */
    public static float normal(long seed, long counter) {
        int[] b = block(seed, counter, 1);
        double u1 = ((b[0] >>> 8) + 1) * 0x1.0p-24; // (0, 1]
        double u2 = (b[1] >>> 8) * 0x1.0p-24;
        return (float) (StrictMath.sqrt(-2.0 * StrictMath.log(u1)) * StrictMath.cos(2.0 * Math.PI * u2));
    }

    /** A uniform integer in [0, bound) (bound > 0), nearly unbiased for bounds far below 2^32. */
    public static int below(long seed, long counter, int bound) {
        long r = bits(seed, counter, 2) & 0xffffffffL;
        return (int) ((r * bound) >>> 32);
    }

    /** The ten-round Philox block for counter (lo, hi, stream, 0) and key (seed lo, seed hi). */
    public static int[] block(long seed, long counter, int stream) {
        int c0 = (int) counter, c1 = (int) (counter >>> 32), c2 = stream, c3 = 0;
        int k0 = (int) seed, k1 = (int) (seed >>> 32);
        for (int round = 0; round < 10; round++) {
            long p0 = (M0 & 0xffffffffL) * (c0 & 0xffffffffL);
            long p1 = (M1 & 0xffffffffL) * (c2 & 0xffffffffL);
            int n0 = (int) (p1 >>> 32) ^ c1 ^ k0;
            int n1 = (int) p1;
            int n2 = (int) (p0 >>> 32) ^ c3 ^ k1;
            int n3 = (int) p0;
            c0 = n0; c1 = n1; c2 = n2; c3 = n3;
            k0 += W0;
            k1 += W1;
        }
        return new int[]{c0, c1, c2, c3};
    }

    /** A seeded Fisher-Yates permutation of [0, n): the same order for the same (seed, epoch) everywhere. */
    public static int[] permutation(int n, long seed, long epoch) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) p[i] = i;
        long base = epoch * 0x100000000L;
        for (int i = n - 1; i > 0; i--) {
            int j = below(seed, base + i, i + 1);
            int t = p[i]; p[i] = p[j]; p[j] = t;
        }
        return p;
    }
}
