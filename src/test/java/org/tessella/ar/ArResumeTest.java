package org.tessella.ar;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessella.io.Checkpoint;
import org.tessella.tensor.Philox;
import org.tessella.tensor.Tensor;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A run interrupted mid-epoch and resumed from its checkpoint ends with the same bits as an uninterrupted run. */
class ArResumeTest {
    static final GptConfig TINY = new GptConfig("tiny", 17, 8, 1, 8, 3, 32, 2, 4, 64, false, 10000f, 1e-5f, 0.1f);

    static TokenFile data() {
        int n = 96, len = TINY.length();
        int[] tokens = new int[n * len], labels = new int[n];
        for (int i = 0; i < n; i++) {
            labels[i] = i % 3;
            int prev = labels[i];
            for (int p = 0; p < len; p++) {
                // a noisy class-dependent walk: learnable, not trivial
                int step = Philox.below(3, (long) i * len + p, 3);
                prev = (prev + labels[i] + step) % TINY.vocab();
                tokens[i * len + p] = prev;
            }
        }
        TokenFile.Split split = new TokenFile.Split(tokens, labels);
        return new TokenFile(TINY.vocab(), len, 1, len, 3, split,
                new TokenFile.Split(Arrays.copyOf(tokens, 32 * len), Arrays.copyOf(labels, 32)), Map.of());
    }

    @Test
    void resumedRunReachesTheSameBits(@TempDir Path tmp) throws Exception {
        TokenFile data = data();
        ArTraining.Config cfg = new ArTraining.Config(3, 16, 3e-3f, 3e-4f, 0.05f, 1.0, 4, 11, 0);
        Path full = tmp.resolve("full"), part = tmp.resolve("part");
        Files.createDirectories(full);
        Files.createDirectories(part);
        ArTraining.Result a = ArTraining.train(new Gpt(TINY, 11), data, cfg, full, false, null, null);
        assertTrue(a.finished());
        assertEquals(18, a.steps());

        ArTraining.Config stop = new ArTraining.Config(3, 16, 3e-3f, 3e-4f, 0.05f, 1.0, 4, 11, 8); // mid second epoch
        ArTraining.Result b1 = ArTraining.train(new Gpt(TINY, 11), data, stop, part, false, null, null);
        assertFalse(b1.finished());
        assertEquals(8, Checkpoint.load(part.resolve(ArTraining.CHECKPOINT)).step());
        // resuming with the same stop does not train a step past it (a study killed while evaluating that point)
        ArTraining.Result again = ArTraining.train(new Gpt(TINY, 11), data, stop, part, true, null, null);
        assertFalse(again.finished());
        assertEquals(8, again.steps());
        assertEquals(8, Checkpoint.load(part.resolve(ArTraining.CHECKPOINT)).step());
        ArTraining.Result b2 = ArTraining.train(new Gpt(TINY, 11), data, cfg, part, true, null, null);
        assertTrue(b2.finished());

        Map<String, Tensor> x = Checkpoint.load(full.resolve(ArTraining.CHECKPOINT)).tensors();
        Map<String, Tensor> y = Checkpoint.load(part.resolve(ArTraining.CHECKPOINT)).tensors();
        assertEquals(x.keySet(), y.keySet());
        for (String k : x.keySet())
            assertArrayEquals(x.get(k).toFloatArray(), y.get(k).toFloatArray(), 0f, "tensor " + k + " differs after resume");
        assertEquals(a.val().bitsPerToken(), b2.val().bitsPerToken(), 0.0);
        assertTrue(a.val().bitsPerToken() < Math.log(TINY.vocab()) / Math.log(2), "the model should beat the uniform guess");
        assertEquals(Files.readString(full.resolve("loss.csv")), Files.readString(part.resolve("loss.csv")));
    }

    @Test
    void tokenFileThatDoesNotFitTheModelIsRefused(@TempDir Path tmp) {
        GptConfig other = new GptConfig("other", 33, 8, 1, 8, 3, 32, 2, 4, 64, false, 10000f, 1e-5f, 0.1f);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () ->
                ArTraining.train(new Gpt(other, 1), data(), ArTraining.Config.defaults(), tmp, false, null, null));
        assertTrue(e.getMessage().contains("vocabulary 17") && e.getMessage().contains("33"), e.getMessage());
    }
}
