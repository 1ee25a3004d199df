package org.tessella.eval;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;
import org.tessella.tokenizer.VectorQuantizer;

class CodebookStatsTest {

    @Test
    void uniformOverTheWholeCodebook() {
        long[] counts = new long[256];
        java.util.Arrays.fill(counts, 7);
        CodebookStats s = CodebookStats.of(counts);
        assertEquals(256, s.codebookSize());
        assertEquals(256, s.usedCodes());
        assertEquals(256 * 7, s.tokens());
        assertEquals(1.0, s.usage(), 0);
        assertEquals(8.0, s.entropyBits(), 1e-12);
        assertEquals(256.0, s.perplexity(), 1e-9);
    }

    @Test
    void uniformOverHalfTheCodebook() {
        long[] counts = new long[64];
        for (int k = 0; k < 64; k += 2) counts[k] = 3;
        CodebookStats s = CodebookStats.of(counts);
        assertEquals(0.5, s.usage(), 0);
        assertEquals(5.0, s.entropyBits(), 1e-12);
        assertEquals(32.0, s.perplexity(), 1e-9);
    }

    @Test
    void collapsedAndEmptyCodebooks() {
        long[] one = new long[16];
        one[5] = 1000;
        CodebookStats s = CodebookStats.of(one);
        assertEquals(1.0 / 16, s.usage(), 0);
        assertEquals(0.0, s.entropyBits(), 0);
        assertEquals(1.0, s.perplexity(), 0);

        CodebookStats empty = CodebookStats.of(new long[8]);
        assertEquals(0, empty.usage(), 0);
        assertEquals(0, empty.entropyBits(), 0);
        assertEquals(1, empty.perplexity(), 0);
        assertEquals(0, empty.tokens());
    }

    @Test
    void skewedDistributionMatchesTheDefinitionAndTheQuantizer() {
        long[] counts = {1, 2, 1, 0, 4}; // p = 1/8, 1/4, 1/8, 0, 1/2
        double h = -(0.125 * log2(0.125) * 2 + 0.25 * log2(0.25) + 0.5 * log2(0.5)); // 1.75 bits
        CodebookStats s = CodebookStats.of(counts);
        assertEquals(1.75, h, 1e-15);
        assertEquals(h, s.entropyBits(), 1e-14);
        assertEquals(Math.pow(2, 1.75), s.perplexity(), 1e-12);
        assertEquals(0.8, s.usage(), 0);
        assertEquals(VectorQuantizer.entropyBits(counts), s.entropyBits(), 1e-12, "same quantity as the quantizer reports");
    }

    @Test
    void fromIndices() {
        int[] indices = {0, 3, 3, 1, 3, 0};
        assertArrayEquals(new long[]{2, 1, 0, 3}, CodebookStats.histogram(indices, 4));
        CodebookStats s = CodebookStats.ofIndices(indices, 4);
        assertEquals(3, s.usedCodes());
        assertEquals(6, s.tokens());
        assertThrows(IllegalArgumentException.class, () -> CodebookStats.histogram(new int[]{4}, 4));
        assertThrows(IllegalArgumentException.class, () -> CodebookStats.histogram(new int[]{-1}, 4));
        assertThrows(IllegalArgumentException.class, () -> CodebookStats.of(new long[]{1, -2}));
    }

    private static double log2(double x) { return Math.log(x) / Math.log(2); }
}
