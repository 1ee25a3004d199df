package org.tessella.eval;

import org.junit.jupiter.api.Test;
import org.tessella.ar.MarkovSource;
import org.tessella.ar.TokenFile;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The tokenizer probe: learns something in a few steps, and is a deterministic function of (tokens, options). */
class TokenProbeTest {
    static TokenFile markov() {
        MarkovSource src = new MarkovSource(16, 16, 1, 4, 3, 0.5, 4);
        return new TokenFile(16, 16, 4, 4, 4, src.sampleSplit(3, 0, 512), src.sampleSplit(3, 1L << 40, 64), Map.of());
    }

    @Test
    void fewStepsBeatTheUniformGuessAndTheSameSeedGivesTheSameBits() {
        TokenFile data = markov();
        TokenProbe.Options o = TokenProbe.Options.defaults().withSteps(12).withBatch(16).withSeed(5);
        TokenProbe.Result a = TokenProbe.run(data, o, null), b = TokenProbe.run(data, o, null);
        double uniform = Math.log(16) / Math.log(2);
        assertTrue(Double.isFinite(a.testBitsPerToken()) && a.testBitsPerToken() < uniform,
                "probe " + a.testBitsPerToken() + " bits/token should beat the uniform " + uniform);
        assertTrue(Double.isFinite(a.trainBitsPerToken()) && a.trainBitsPerToken() < uniform, "train " + a.trainBitsPerToken());
        assertEquals(12, a.steps());
        assertEquals(16, a.testBitsPerPosition().length);
        assertEquals(a.testBitsPerToken(), b.testBitsPerToken(), 0.0, "same tokens and seed, same bits");
        assertEquals(a.trainBitsPerToken(), b.trainBitsPerToken(), 0.0);
        assertArrayEquals(a.testBitsPerPosition(), b.testBitsPerPosition(), 0.0);

        Map<String, Object> m = a.metrics();
        for (String k : new String[]{"probe_bits_per_token", "probe_train_bits_per_token", "probe_steps", "probe_model", "probe_seconds"})
            assertTrue(m.containsKey(k), "metrics lack " + k);
        assertEquals("gpt-xs", m.get("probe_model"));
        assertEquals(12L, m.get("probe_steps"));
    }

    @Test
    void badOptionsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> TokenProbe.Options.defaults().withSteps(0));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> TokenProbe.run(markov(), TokenProbe.Options.defaults().withSteps(2).withBatch(1000), null));
        assertTrue(e.getMessage().contains("512") && e.getMessage().contains("1000"), e.getMessage());
    }
}
