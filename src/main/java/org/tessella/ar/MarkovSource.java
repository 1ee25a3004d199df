package org.tessella.ar;

import org.tessella.tensor.Philox;

import java.util.Arrays;
import java.util.HashSet;
import java.util.Locale;
import java.util.Set;

/**
 * A random class-conditional Markov source of token sequences whose conditional entropy is known exactly: the test
 * bed for the stage-2 trainer (a perfect class-conditional model reaches {@link #trueBitsPerToken()} on held-out data).
 *
 * <p>Structure, for each class c independently (everything a pure function of (seed, class, context) via {@link Philox}):
 * <ul>
 *   <li>every token b, and the start symbol {@code K} (= vocab), has a <em>support</em> {@code supp_c(b)}: S distinct
 *       tokens drawn uniformly (sorted ascending);</li>
 *   <li>order 1: {@code p_c(z_i | z_{i-1} = b)} is a Dirichlet(concentration) distribution over {@code supp_c(b)};
 *       the first token is drawn from the row of the start symbol, {@code p_c(z_1) = p_c(. | K)};</li>
 *   <li>order 2: {@code p_c(z_i | z_{i-2} = a, z_{i-1} = b)} is a Dirichlet(concentration) distribution over
 *       {@code supp_c(b)}, drawn independently for every pair (a, b); the start symbol pads the context:
 *       {@code z_1 ~ p_c(. | K, K)}, {@code z_2 ~ p_c(. | K, z_1)}. The support depends only on the last token, the
 *       weights on both, so the reachable contexts are the (K+1)·S pairs (a, b ∈ supp_c(a)) and the exact entropy
 *       is cheap; a model that only looks one token back pays the entropy of the mixture of the rows over a.</li>
 * </ul>
 * Dirichlet weights come from Marsaglia-Tsang gamma variates in log space (StrictMath throughout, so the same source
 * everywhere). With the defaults (S = 16, concentration 0.5) a row has about 3 bits of entropy
 * (E[H] = ψ(Sα+1) − ψ(α+1) nats); a smaller concentration is more peaked.
 *
 * <p>All rows of reachable contexts are computed in the constructor ((K+1)·S·C probabilities for order 1,
 * (K+1)·S²·C for order 2: 0.66 M for K=256, C=10, order 2) and the object is immutable afterwards, so it is safe to
 * share between threads.
 */
public final class MarkovSource {
    public static final int DEFAULT_SUPPORT = 16;
    public static final double DEFAULT_CONCENTRATION = 0.5;
    public static final int MAX_SUPPORT = 4096;
    /** The largest table (probabilities) the constructor will build. */
    public static final long MAX_ENTRIES = 1L << 26;

    private static final long SALT_SOURCE = 0x5EED_50C3_A11C_E001L, SALT_SAMPLE = 0x5A3B_1E00_0000_0002L,
            SALT_LABEL = 0x1ABE_1000_0000_0003L;
    private static final int STREAM_SUPPORT = 1 << 28, STREAM_WEIGHT = 2 << 28;
    private static final int MAX_ATTEMPTS = 1 << 12;

    private final int vocab, length, order, classes, support;
    private final long seed;
    private final double concentration;
    /** Per class: supports of tokens 0..K (K = start symbol), [(K+1) * S], sorted within each row. */
    private final int[][] supp;
    /**
     * Per class: row probabilities. Order 1: row b (0..K) at [b*S, b*S+S) over supp(b). Order 2: context (a, b =
     * supp(a)[j]) for a in 0..K at [(a*S+j)*S, +S) over supp(b); the start context (K, K) at [(K+1)*S*S, +S) over supp(K).
     */
    private final double[][] prob;
    /** Per class: the entropy (bits) of each row, indexed like the rows of {@link #prob}. */
    private final double[][] rowBits;
    private final double[] classBits;
    private final double[] positionBits;

    public MarkovSource(int vocab, int length, int order, int classes, long seed) {
        this(vocab, length, order, classes, seed, DEFAULT_CONCENTRATION, DEFAULT_SUPPORT);
    }

    /**
     * @param support       tokens each row can emit (clipped to vocab)
     * @param concentration the Dirichlet parameter of each row's weights (> 0; smaller is more peaked)
     */
    public MarkovSource(int vocab, int length, int order, int classes, long seed, double concentration, int support) {
        if (vocab < 2) throw new IllegalArgumentException("vocabulary must have at least 2 tokens, got " + vocab);
        if (vocab > (1 << 24)) throw new IllegalArgumentException("vocabulary of " + vocab + " tokens is too large (at most 2^24)");
        if (length < 1) throw new IllegalArgumentException("sequence length must be at least 1, got " + length);
        if (order != 1 && order != 2) throw new IllegalArgumentException("Markov order must be 1 or 2, got " + order);
        if (classes < 1) throw new IllegalArgumentException("classes must be at least 1, got " + classes);
        if (!(concentration > 0) || Double.isInfinite(concentration))
            throw new IllegalArgumentException("concentration must be a positive number, got " + concentration);
        if (support < 1 || support > MAX_SUPPORT)
            throw new IllegalArgumentException("support must be 1.." + MAX_SUPPORT + " tokens, got " + support);
        this.vocab = vocab;
        this.length = length;
        this.order = order;
        this.classes = classes;
        this.seed = seed;
        this.concentration = concentration;
        this.support = Math.min(support, vocab);
        int s = this.support;
        long rows = order == 1 ? vocab + 1L : (vocab + 1L) * s + 1;
        long entries = rows * s * classes;
        if (entries > MAX_ENTRIES || rows * s > Integer.MAX_VALUE)
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "Markov source too large: %,d transition probabilities (at most %,d); use a smaller vocabulary, support, "
                            + "fewer classes or order 1", entries, MAX_ENTRIES));

        supp = new int[classes][];
        prob = new double[classes][];
        rowBits = new double[classes][];
        classBits = new double[classes];
        positionBits = new double[length];
        for (int c = 0; c < classes; c++) {
            long key = mix(mix(seed ^ SALT_SOURCE) + c);
            int[] sc = new int[(vocab + 1) * s];
            for (int b = 0; b <= vocab; b++) drawSupport(key, b, sc, b * s);
            supp[c] = sc;
            double[] pc = new double[(int) (rows * s)];
            double[] hc = new double[(int) rows];
            if (order == 1) {
                for (int b = 0; b <= vocab; b++) hc[b] = drawRow(key, vocab, b, pc, b * s);
            } else {
                for (int a = 0; a <= vocab; a++)
                    for (int j = 0; j < s; j++) {
                        int r = a * s + j;
                        hc[r] = drawRow(key, a, sc[r], pc, r * s);
                    }
                int start = (vocab + 1) * s;
                hc[start] = drawRow(key, vocab, vocab, pc, start * s);
            }
            prob[c] = pc;
            rowBits[c] = hc;
            double[] pos = exactEntropy(c);
            double sum = 0;
            for (int i = 0; i < length; i++) {
                sum += pos[i];
                positionBits[i] += pos[i] / classes;
            }
            classBits[c] = sum / length;
        }
    }

    // ---- the source -------------------------------------------------------------------------------------------------

    public int vocab() { return vocab; }

    public int length() { return length; }

    public int order() { return order; }

    public int classes() { return classes; }

    public int support() { return support; }

    public long seed() { return seed; }

    public double concentration() { return concentration; }

    /**
     * The exact mean over positions 1..N and classes (uniform prior) of H(z_i | z_&lt;i, c) in bits: what a perfect
     * class-conditional model scores, as mean cross-entropy over all N positions, on data from this source.
     */
    public double trueBitsPerToken() {
        double s = 0;
        for (double b : classBits) s += b;
        return s / classes;
    }

    /** {@link #trueBitsPerToken()} for one class. */
    public double trueBitsPerToken(int cls) {
        checkClass(cls);
        return classBits[cls];
    }

    /** H(z_i | z_&lt;i, c) in bits for each position i (index 0 = first token), averaged over classes. */
    public double[] trueBitsPerPosition() {
        return positionBits.clone();
    }

    /** A one-line description, e.g. for the {@code source} metadata of a token file. */
    public String describe() {
        return String.format(Locale.ROOT,
                "tessella synth-tokens: class-conditional Markov source, order %d, vocab %d, length %d, classes %d, "
                        + "support %d, Dirichlet concentration %s, seed %d", order, vocab, length, classes, support,
                Double.toString(concentration), seed);
    }

    /** The support of token b's rows (b = vocab: the start symbol), sorted ascending. */
    public int[] supportOf(int cls, int b) {
        checkClass(cls);
        if (b < 0 || b > vocab) throw new IllegalArgumentException("token " + b + " outside 0.." + vocab);
        return Arrays.copyOfRange(supp[cls], b * support, b * support + support);
    }

    /**
     * p_c(z_i = token | z_{i-2} = prev2, z_{i-1} = prev): use {@code vocab} for the start symbol (both for the first
     * token, prev2 for the second); order 1 ignores prev2. 0 for a token outside the row's support and for
     * contexts the source never produces.
     */
    public double probability(int cls, int prev2, int prev, int token) {
        checkClass(cls);
        int r = row(cls, prev2, prev);
        if (r < 0 || token < 0 || token >= vocab) return 0;
        int b = prev; // every row with last token b (or the start symbol) ranges over supp(b)
        int k = Arrays.binarySearch(supp[cls], b * support, b * support + support, token);
        return k < 0 ? 0 : prob[cls][r * support + (k - b * support)];
    }

    /** p_c(seq[i] | seq[0..i-1]). */
    public double conditional(int cls, int[] seq, int i) {
        int prev = i >= 1 ? seq[i - 1] : vocab, prev2 = i >= 2 ? seq[i - 2] : vocab;
        return probability(cls, prev2, prev, seq[i]);
    }

    /** log2 p_c(seq) = sum over positions of log2 p(seq[i] | seq[&lt;i], c) (negative infinity if impossible). */
    public double log2Likelihood(int cls, int[] seq) {
        double s = 0;
        for (int i = 0; i < seq.length; i++) s += Math.log(conditional(cls, seq, i));
        return s / Math.log(2);
    }

    /** One sequence of class cls, a pure function of (source, seed, index). */
    public int[] sample(int cls, long seed, long index) {
        int[] out = new int[length];
        sampleInto(cls, seed, index, out, 0);
        return out;
    }

    /** {@link #sample} into {@code out[off .. off+length)}. */
    public void sampleInto(int cls, long seed, long index, int[] out, int off) {
        checkClass(cls);
        long key = mix(mix(seed ^ SALT_SAMPLE) + cls);
        int s = support;
        int[] sc = supp[cls];
        double[] pc = prob[cls];
        int prev = vocab, r = order == 1 ? vocab : (vocab + 1) * s; // the start row
        for (int i = 0; i < length; i++) {
            int b = prev; // the row's support is supp(prev); for the order-2 start row supp(K)
            int[] w = Philox.block(key, index, i);
            double u = ((((long) w[0] << 32) | (w[1] & 0xffffffffL)) >>> 11) * 0x1.0p-53;
            int base = r * s, pick = -1;
            double cum = 0;
            for (int k = 0; k < s; k++) {
                double p = pc[base + k];
                if (p > 0) {
                    pick = k;
                    cum += p;
                    if (u < cum) break;
                }
            }
            int tok = sc[b * s + pick];
            out[off + i] = tok;
            r = order == 1 ? tok : (b * s + pick);
            prev = tok;
        }
    }

    /** A label uniform over the classes for sequence {@code index}, a pure function of (seed, index). */
    public int sampleLabel(long seed, long index) {
        long r = Philox.bits(mix(seed ^ SALT_LABEL), index, 0) & 0xffffffffL;
        return (int) ((r * classes) >>> 32);
    }

    /** n labelled sequences for indices first .. first+n-1: label from {@link #sampleLabel}, tokens from {@link #sample}. */
    public TokenFile.Split sampleSplit(long seed, long first, int n) {
        int[] labels = new int[n], tokens = new int[Math.multiplyExact(n, length)];
        for (int i = 0; i < n; i++) {
            labels[i] = sampleLabel(seed, first + i);
            sampleInto(labels[i], seed, first + i, tokens, i * length);
        }
        return new TokenFile.Split(tokens, labels);
    }

    // ---- internals --------------------------------------------------------------------------------------------------

    private void checkClass(int cls) {
        if (cls < 0 || cls >= classes) throw new IllegalArgumentException("class " + cls + " outside 0.." + (classes - 1));
    }

    /** The row index for a context, or -1 if the source never produces it. */
    private int row(int cls, int prev2, int prev) {
        if (prev < 0 || prev > vocab) return -1;
        if (order == 1) return prev;
        if (prev == vocab) return prev2 == vocab ? (vocab + 1) * support : -1;
        if (prev2 < 0 || prev2 > vocab) return -1;
        int k = Arrays.binarySearch(supp[cls], prev2 * support, prev2 * support + support, prev);
        return k < 0 ? -1 : k;
    }

    /** H(z_i | z_&lt;i, c) in bits for each position, by propagating the state (order 1) or pair (order 2) marginal. */
    private double[] exactEntropy(int c) {
        int s = support, k1 = vocab + 1;
        int[] sc = supp[c];
        double[] pc = prob[c], hc = rowBits[c];
        double[] bits = new double[length];
        if (order == 1) {
            double[] m = new double[k1], next = new double[k1];
            m[vocab] = 1;
            for (int i = 0; i < length; i++) {
                double h = 0;
                Arrays.fill(next, 0);
                for (int b = 0; b <= vocab; b++) {
                    double mb = m[b];
                    if (mb == 0) continue;
                    h += mb * hc[b];
                    for (int k = 0; k < s; k++) next[sc[b * s + k]] += mb * pc[b * s + k];
                }
                bits[i] = h;
                double[] t = m; m = next; next = t;
            }
        } else {
            // pair (a, b = supp(a)[j]) at a*S + j; position 0 is the start context (K, K) -> pairs (K, supp(K)[k])
            int start = k1 * s;
            bits[0] = hc[start];
            double[] m = new double[k1 * s], next = new double[k1 * s];
            for (int k = 0; k < s; k++) m[vocab * s + k] = pc[start * s + k];
            for (int i = 1; i < length; i++) {
                double h = 0;
                Arrays.fill(next, 0);
                for (int r = 0; r < k1 * s; r++) {
                    double mr = m[r];
                    if (mr == 0) continue;
                    h += mr * hc[r];
                    int b = sc[r];
                    for (int k = 0; k < s; k++) next[b * s + k] += mr * pc[r * s + k];
                }
                bits[i] = h;
                double[] t = m; m = next; next = t;
            }
        }
        return bits;
    }

    /** Floyd's algorithm: S distinct tokens of [0, K) for row b, sorted, into out[off, off+S). */
    private void drawSupport(long key, int b, int[] out, int off) {
        int s = support;
        Set<Integer> big = s > 32 ? new HashSet<>() : null;
        int n = 0;
        for (int t = vocab - s; t < vocab; t++) {
            long bits = Philox.bits(key, b, STREAM_SUPPORT | n) & 0xffffffffL;
            int r = (int) ((bits * (t + 1L)) >>> 32);
            boolean taken;
            if (big != null) taken = !big.add(r);
            else {
                taken = false;
                for (int q = 0; q < n; q++) if (out[off + q] == r) { taken = true; break; }
            }
            if (taken) {
                r = t;
                if (big != null) big.add(t);
            }
            out[off + n++] = r;
        }
        Arrays.sort(out, off, off + s);
    }

    /** Dirichlet(concentration) weights for context (a, b) into out[off, off+S); returns the row entropy in bits. */
    private double drawRow(long key, int a, int b, double[] out, int off) {
        int s = support;
        long counter = (long) a * (vocab + 1) + b;
        double max = Double.NEGATIVE_INFINITY;
        for (int k = 0; k < s; k++) {
            double lg = logGamma(key, counter, k);
            out[off + k] = lg;
            max = Math.max(max, lg);
        }
        double z = 0;
        for (int k = 0; k < s; k++) {
            double e = StrictMath.exp(out[off + k] - max);
            out[off + k] = e;
            z += e;
        }
        double h = 0;
        for (int k = 0; k < s; k++) {
            double p = out[off + k] / z;
            out[off + k] = p;
            if (p > 0) h -= p * StrictMath.log(p);
        }
        return h / StrictMath.log(2);
    }

    /** log of a Gamma(concentration, 1) variate (Marsaglia-Tsang; boosted for shape < 1), from Philox. */
    private double logGamma(long key, long counter, int k) {
        double alpha = concentration < 1 ? concentration + 1 : concentration;
        double d = alpha - 1.0 / 3, c = 1 / StrictMath.sqrt(9 * d);
        for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
            int[] w = Philox.block(key, counter, STREAM_WEIGHT | (k << 12) | attempt);
            double u1 = ((w[0] & 0xffffffffL) + 1) * 0x1.0p-32; // (0, 1]
            double u2 = (w[1] & 0xffffffffL) * 0x1.0p-32;
            double x = StrictMath.sqrt(-2 * StrictMath.log(u1)) * StrictMath.cos(2 * Math.PI * u2);
            double v = 1 + c * x;
            if (v <= 0) continue;
            v = v * v * v;
            double u = ((w[2] & 0xffffffffL) + 1) * 0x1.0p-32;
            if (StrictMath.log(u) < 0.5 * x * x + d - d * v + d * StrictMath.log(v)) {
                double lg = StrictMath.log(d * v);
                if (concentration < 1) lg += StrictMath.log(((w[3] & 0xffffffffL) + 1) * 0x1.0p-32) / concentration;
                return lg;
            }
        }
        return StrictMath.log(d);
    }

    /** The splitmix64 finaliser. */
    private static long mix(long z) {
        z += 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
