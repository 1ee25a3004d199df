package org.tessella.eval;

/**
 * How a VQ tokenizer uses its codebook, from a histogram of code indices (for example over the test set's tokens):
 *
 * <ul>
 *   <li>{@code usage}: the fraction of the codebook picked at least once;</li>
 *   <li>{@code entropyBits}: the entropy of the empirical code distribution, {@code -sum p log2 p} (0 for no tokens);</li>
 *   <li>{@code perplexity}: {@code 2^entropy}, the number of equally likely codes with the same entropy (1 for a single
 *       code, K for a uniform distribution over K codes).</li>
 * </ul>
 *
 * The entropy is the same quantity as {@code VectorQuantizer.entropyBits}. Stage-2 losses in bits per token are only
 * comparable between tokenizers of equal token count and codebook size, and even then a collapsed codebook makes
 * stage 2 "easy" without being better: report these beside every stage-2 loss.
 *
 * @param codebookSize the number of codes K (the histogram's length)
 * @param usedCodes    how many codes occur at least once
 * @param tokens       the total count (tokens seen)
 */
public record CodebookStats(int codebookSize, int usedCodes, long tokens, double usage, double entropyBits, double perplexity) {

    /** The statistics of a histogram {@code counts[k]} = occurrences of code k (no negative counts). */
    public static CodebookStats of(long[] counts) {
        if (counts.length == 0) throw new IllegalArgumentException("codebook stats: empty codebook");
        int used = 0;
        long total = 0;
        for (int k = 0; k < counts.length; k++) {
            if (counts[k] < 0) throw new IllegalArgumentException("codebook stats: count of code " + k + " is negative (" + counts[k] + ")");
            if (counts[k] > 0) used++;
            total += counts[k];
        }
        double h = entropyBits(counts);
        return new CodebookStats(counts.length, used, total, (double) used / counts.length, h, StrictMath.pow(2, h));
    }

    /** The statistics of a sequence of code indices in {@code [0, codebookSize)}. */
    public static CodebookStats ofIndices(int[] indices, int codebookSize) {
        return of(histogram(indices, codebookSize));
    }

    /** Occurrences of each code in {@code indices}; an index outside {@code [0, codebookSize)} is an error. */
    public static long[] histogram(int[] indices, int codebookSize) {
        if (codebookSize < 1) throw new IllegalArgumentException("codebook stats: codebook size must be positive, got " + codebookSize);
        long[] counts = new long[codebookSize];
        for (int i = 0; i < indices.length; i++) {
            int c = indices[i];
            if (c < 0 || c >= codebookSize)
                throw new IllegalArgumentException("codebook stats: index " + c + " at position " + i + " is outside [0, " + codebookSize + ")");
            counts[c]++;
        }
        return counts;
    }

    /** Entropy in bits of the distribution {@code counts / sum(counts)}; 0 when all counts are 0 (the quantizer's own). */
    public static double entropyBits(long[] counts) {
        return org.tessella.tokenizer.VectorQuantizer.entropyBits(counts);
    }
}
