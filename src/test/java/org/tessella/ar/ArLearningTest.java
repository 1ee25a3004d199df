package org.tessella.ar;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessella.cli.Main;
import org.tessella.io.Json;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Learning measured against a known answer, at CI scale: a small model on a small Markov source gets close to the
 * source's true conditional entropy (the full-size check, gpt-xs on K=256, N=64, is in the README's results).
 * Also the command line: train-ar writes its metrics, sample refuses bad input without leaving a file.
 */
class ArLearningTest {
    static final GptConfig SMALL = new GptConfig("small", 16, 16, 4, 4, 4, 64, 2, 4, 128, false, 10000f, 1e-5f, 0.1f);

    @Test
    void smallModelApproachesTheTrueEntropy(@TempDir Path tmp) throws Exception {
        MarkovSource src = new MarkovSource(16, 16, 1, 4, 3, 0.5, 6);
        TokenFile data = new TokenFile(16, 16, 4, 4, 4, src.sampleSplit(3, 0, 6000), src.sampleSplit(3, 1L << 40, 1000), Map.of());
        ArTraining.Config cfg = new ArTraining.Config(4, 64, 3e-3f, 3e-4f, 0.05f, 1.0, 30, 5, 0);
        ArTraining.Result r = ArTraining.train(new Gpt(SMALL, 5), data, cfg, tmp, false, null, null);
        double truth = src.trueBitsPerToken();
        double val = r.val().bitsPerToken();
        assertTrue(val < truth * 1.05, "validation " + val + " bits/token should be within 5% of the true " + truth);
        assertTrue(val > truth * 0.97, "validation " + val + " cannot beat the source's entropy " + truth + " by much (sampling noise only)");
    }

    @Test
    void samplingWithoutTheCacheGivesTheSameTokens() {
        Gpt m = new Gpt(SMALL, 9);
        org.tessella.backend.Backends.cpu().randomNormal(m.output.weight, 4, 0, 0f, 0.3f);
        SampleOptions o = new SampleOptions(1f, 0, 0.9f, 2f, 17);
        int[] classes = {0, 3, 4};
        int[][] a = Sampler.sample(m, classes, o), b = Sampler.sampleWithoutCache(m, classes, o);
        for (int i = 0; i < a.length; i++) assertArrayEquals(a[i], b[i], "sequence " + i);
    }

    @Test
    void commandLineTrainsSamplesAndRefusesBadInput(@TempDir Path tmp) throws Exception {
        Path tokens = tmp.resolve("t.safetensors"), run = tmp.resolve("run"), out = tmp.resolve("s.safetensors");
        assertEquals(0, quiet("synth-tokens", "--out", tokens.toString(), "--vocab", "16", "--length", "16", "--order", "1",
                "--seed", "2", "--classes", "4", "--train", "256", "--test", "64"));
        assertEquals(0, quiet("train-ar", "--tokens", tokens.toString(), "--out", run.toString(), "--config", writeConfig(tmp),
                "--epochs", "1", "--batch", "32"));
        Json.Obj m = Json.parseObject(Files.readString(run.resolve("metrics.json")), "metrics");
        for (String k : new String[]{"val_bits_per_token", "train_bits_per_token", "tokens_per_second", "train_flops", "parameters", "train_seconds"})
            assertTrue(m.has(k), "metrics.json lacks " + k);
        assertEquals(16, m.doubleArray("val_bits_per_position").length);
        assertTrue(m.longValue("train_flops") > 0);

        assertEquals(0, quiet("sample", "--ar", run.toString(), "--out", out.toString(), "--classes", "0,3", "--per-class", "2", "--cfg", "1.5"));
        assertTrue(Files.exists(out));
        Files.delete(out);
        assertEquals(2, quiet("sample", "--ar", run.toString(), "--out", out.toString(), "--temperature", "0"));
        assertEquals(2, quiet("sample", "--ar", run.toString(), "--out", out.toString(), "--top-k", "17"));
        assertEquals(2, quiet("sample", "--ar", run.toString(), "--out", out.toString(), "--classes", "9"));
        assertFalse(Files.exists(out), "a refused request must leave no output file");
        // a token file that does not fit the model
        Path other = tmp.resolve("o.safetensors");
        assertEquals(0, quiet("synth-tokens", "--out", other.toString(), "--vocab", "20", "--length", "16", "--order", "1",
                "--seed", "2", "--classes", "4", "--train", "64", "--test", "16"));
        assertEquals(1, quiet("train-ar", "--tokens", other.toString(), "--out", tmp.resolve("bad").toString(), "--config", writeConfig(tmp)));
        assertFalse(Files.exists(tmp.resolve("bad").resolve(ArTraining.CHECKPOINT)));
    }

    private static String writeConfig(Path tmp) throws Exception {
        Path f = tmp.resolve("small.json");
        Files.writeString(f, Json.write(SMALL.toJson()));
        return f.toString();
    }

    private static int quiet(String... args) {
        PrintStream out = System.out, err = System.err;
        try {
            System.setOut(new PrintStream(new ByteArrayOutputStream()));
            System.setErr(new PrintStream(new ByteArrayOutputStream()));
            return Main.run(args);
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }
}
