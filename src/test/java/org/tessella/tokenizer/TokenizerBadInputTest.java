package org.tessella.tokenizer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessella.ar.ArTraining;
import org.tessella.ar.Gpt;
import org.tessella.ar.GptConfig;
import org.tessella.ar.MarkovSource;
import org.tessella.ar.TokenFile;
import org.tessella.cli.Main;
import org.tessella.data.Dataset;
import org.tessella.data.SyntheticImages;
import org.tessella.io.Checkpoint;
import org.tessella.nn.Init;
import org.tessella.tensor.Shape;
import org.tessella.tensor.ShapeException;
import org.tessella.tensor.Tensor;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Bad input to the tokenizer and to the commands around it: one-line errors that name what does not match. */
class TokenizerBadInputTest {
    static final VqConfig SMALL = TokenizerTrainingTest.SMALL; // 16 channels, 64 tokens, codebook 32

    static Path mkdirs(Path p) {
        try {
            return Files.createDirectories(p);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    static void oneLine(String msg) {
        assertEquals(1, msg.strip().lines().count(), "not one line: " + msg);
    }

    @Test
    void imagesOfTheWrongSizeChannelsOrRange() {
        VqTokenizer tok = new VqTokenizer(SMALL, new Init(1));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> tok.encode(new float[30 * 30]));
        assertTrue(e.getMessage().contains("784") && e.getMessage().contains("1024") && e.getMessage().contains("900"), e.getMessage());
        oneLine(e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> tok.encode(new float[3 * 1024]));
        assertTrue(e.getMessage().contains("3072") && e.getMessage().contains("3 channels"), e.getMessage());
        float[] bytes = new float[784];
        bytes[100] = 255f;
        e = assertThrows(IllegalArgumentException.class, () -> tok.encode(bytes));
        assertTrue(e.getMessage().contains("[-1, 1]") && e.getMessage().contains("255.0") && e.getMessage().contains("index 100"), e.getMessage());

        ShapeException s = assertThrows(ShapeException.class, () -> tok.encodeIndices(Tensor.of(new float[2 * 3 * 32 * 32], 2, 3, 32, 32)));
        assertTrue(s.getMessage().contains("[B, 1, 32, 32]") && s.getMessage().contains("[2, 3, 32, 32]"), s.getMessage());
        s = assertThrows(ShapeException.class, () -> tok.encodeIndices(Tensor.of(new float[2 * 28 * 28], 2, 1, 28, 28)));
        assertTrue(s.getMessage().contains("[2, 1, 28, 28]"), s.getMessage());

        Dataset rgb = new Dataset(new float[4 * 3 * 32 * 32], new int[4], 3, 32, 32, List.of("a"));
        e = assertThrows(IllegalArgumentException.class, () -> TokenizerTraining.encodeTokens(tok, rgb));
        assertTrue(e.getMessage().contains("1x32x32") && e.getMessage().contains("3x32x32"), e.getMessage());
        oneLine(e.getMessage());
        Dataset small = SyntheticImages.shapes(4, 28, 28, 6, 1);
        e = assertThrows(IllegalArgumentException.class, () -> TokenizerTraining.writeReconstructions(Path.of("x.png"), tok, small, 4));
        assertTrue(e.getMessage().contains("1x28x28"), e.getMessage());

        e = assertThrows(IllegalArgumentException.class, () -> tok.decode(new int[10]));
        assertTrue(e.getMessage().contains("64") && e.getMessage().contains("10"), e.getMessage());
        int[] outside = new int[64];
        outside[5] = 32;
        e = assertThrows(IllegalArgumentException.class, () -> tok.decode(outside));
        assertTrue(e.getMessage().contains("32") && e.getMessage().contains("[0, 32)"), e.getMessage());
    }

    @Test
    void checkpointOfAnotherArchitectureNamesTheFirstMismatchingTensor(@TempDir Path tmp) {
        // weights of a 16-channel tokenizer under a config that says 32 channels
        Path wider = mkdirs(tmp.resolve("wider"));
        VqTokenizer narrow = new VqTokenizer(SMALL, new Init(1));
        VqConfig wide = new VqConfig("wide", 32, 64, 32, 8, 8, 0.25f);
        Checkpoint.save(wider.resolve(VqTokenizer.WEIGHTS), narrow.stateDict(), Checkpoint.meta(Map.of("tokenizer", wide.toJson()), 0, null));
        String first = narrow.stateDict().keySet().iterator().next();
        RuntimeException e = assertThrows(RuntimeException.class, () -> VqTokenizer.load(wider));
        String want = Shape.str(narrow.stateDict().get(first).shape()), got = Shape.str(new VqTokenizer(wide, new Init(1)).stateDict().get(first).shape());
        assertTrue(e.getMessage().contains(VqTokenizer.WEIGHTS) && e.getMessage().contains("tensor " + first + " is " + want)
                && e.getMessage().contains(got), e.getMessage());
        oneLine(e.getMessage());

        // tensors of another model altogether under a tokenizer config
        Path gpt = mkdirs(tmp.resolve("gpt"));
        GptConfig gc = new GptConfig("g", 16, 16, 4, 4, 4, 32, 1, 2, 64, false, 10000f, 1e-5f, 0.1f);
        Checkpoint.save(gpt.resolve(VqTokenizer.WEIGHTS), new Gpt(gc, 1).stateDict(), Checkpoint.meta(Map.of("tokenizer", SMALL.toJson()), 0, null));
        e = assertThrows(RuntimeException.class, () -> VqTokenizer.load(gpt));
        assertTrue(e.getMessage().contains("tensor " + first) && e.getMessage().contains("missing from the file (its first tensor is "),
                e.getMessage());
        oneLine(e.getMessage());

        // all of the tokenizer plus a stray tensor
        Path extra = mkdirs(tmp.resolve("extra"));
        Map<String, Tensor> w = new java.util.LinkedHashMap<>(narrow.stateDict());
        w.put("decoder.extra.weight", Tensor.of(new float[9], 3, 3));
        Checkpoint.save(extra.resolve(VqTokenizer.WEIGHTS), w, Checkpoint.meta(Map.of("tokenizer", SMALL.toJson()), 0, null));
        e = assertThrows(RuntimeException.class, () -> VqTokenizer.load(extra));
        assertTrue(e.getMessage().contains("decoder.extra.weight [3, 3]"), e.getMessage());
    }

    @Test
    void tokenFilesThatDoNotFitTheStage2Model(@TempDir Path tmp) throws Exception {
        GptConfig gc = new GptConfig("g", 16, 16, 4, 4, 4, 32, 1, 2, 64, false, 10000f, 1e-5f, 0.1f);
        MarkovSource src = new MarkovSource(16, 16, 1, 4, 3);
        TokenFile fits = new TokenFile(16, 16, 4, 4, 4, src.sampleSplit(1, 0, 64), src.sampleSplit(1, 1000, 16), Map.of());
        Path run = Files.createDirectories(tmp.resolve("run")), tokens = tmp.resolve("t.safetensors");
        fits.write(tokens);
        ArTraining.Result r = ArTraining.train(new Gpt(gc, 1), fits, new ArTraining.Config(2, 16, 1e-3f, 1e-4f, 0.05f, 1, 1, 1, 2),
                run, false, null, tokens);
        assertFalse(r.finished());

        MarkovSource other = new MarkovSource(20, 9, 1, 4, 3);
        Path bad = tmp.resolve("other.safetensors");
        new TokenFile(20, 9, 3, 3, 4, other.sampleSplit(1, 0, 64), other.sampleSplit(1, 1000, 16), Map.of()).write(bad);
        String before = Files.readString(run.resolve("loss.csv"));
        String err = TokenizerTrainingTest.stderrOf(() -> assertEquals(1, Main.run(new String[]{"train-ar", "--resume", run.toString(),
                "--tokens", bad.toString()})));
        oneLine(err);
        assertTrue(err.contains(bad.toString()) && err.contains("vocabulary 20") && err.contains("16") && err.contains("length 9"), err);
        assertEquals(before, Files.readString(run.resolve("loss.csv")), "a refused resume must not touch the run");

        // the resumed run continues on a fitting token file given again
        assertEquals(0, TokenizerCommandsTest.quiet("train-ar", "--resume", run.toString(), "--tokens", tokens.toString()));
    }

    @Test
    void sampleRefusesATokenizerOfAnotherCodebookOrLength(@TempDir Path tmp) throws Exception {
        Path ar = TokenizerCommandsTest.stage2(tmp.resolve("ar"));  // vocabulary 16, 16 tokens
        Path tok = tmp.resolve("tok"), out = tmp.resolve("s.safetensors");
        new VqTokenizer(new VqConfig("t", 16, 16, 32, 8, 8, 0.25f), new Init(1)).save(Files.createDirectories(tok), 0);
        String err = TokenizerTrainingTest.stderrOf(() -> assertEquals(2, Main.run(new String[]{"sample", "--ar", ar.toString(),
                "--out", out.toString(), "--tokenizer", tok.toString()})));
        oneLine(err);
        assertTrue(err.contains("codebook 32") && err.contains("vocabulary 16") && err.contains(tok.toString()), err);
        Path tok64 = tmp.resolve("tok64");
        new VqTokenizer(new VqConfig("t", 16, 64, 16, 8, 8, 0.25f), new Init(1)).save(Files.createDirectories(tok64), 0);
        err = TokenizerTrainingTest.stderrOf(() -> assertEquals(2, Main.run(new String[]{"sample", "--ar", ar.toString(),
                "--out", out.toString(), "--tokenizer", tok64.toString()})));
        assertTrue(err.contains("64 tokens per image") && err.contains("length 16"), err);
        err = TokenizerTrainingTest.stderrOf(() -> assertEquals(2, Main.run(new String[]{"sample", "--ar", ar.toString(),
                "--out", out.toString(), "--classifier", tmp.toString()})));
        assertTrue(err.contains("--tokenizer"), err);
        assertFalse(Files.exists(out), "a refused request must leave no output file");
    }
}
