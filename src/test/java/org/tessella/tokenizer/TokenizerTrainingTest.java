package org.tessella.tokenizer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessella.ar.TokenFile;
import org.tessella.cli.Main;
import org.tessella.data.Dataset;
import org.tessella.data.FashionMnist;
import org.tessella.data.SyntheticImages;
import org.tessella.io.Checkpoint;
import org.tessella.io.Csv;
import org.tessella.nn.Init;
import org.tessella.tensor.Tensor;
import org.tessella.tensor.Workspace;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Stage-1 training: learning, the CRT term, exact resume, encoding, and one-line errors on bad input. */
class TokenizerTrainingTest {
    static final VqConfig SMALL = new VqConfig("small", 16, 64, 32, 8, 8, 0.25f);
    static final Dataset TRAIN = SyntheticImages.shapes(96, 5), TEST = SyntheticImages.shapes(32, 6);

    static TokenizerTraining.Config config(int epochs, float crtWeight) {
        return new TokenizerTraining.Config(epochs, 16, 3e-3f, 3e-4f, 0f, 1.0, 3, 7, crtWeight, 5, false, 1e-3f, 3, 4, 0f, TokenizerTraining.ExtraLosses.NONE, 0);
    }

    @Test
    void trainingReducesReconstructionError(@TempDir Path tmp) {
        VqTokenizer model = new VqTokenizer(SMALL, new Init(7));
        double before = TokenizerTraining.evaluate(model, null, TEST, new Workspace()).mse();
        TokenizerTraining.Result r = TokenizerTraining.train(model, TRAIN, TEST, config(3, 0f), tmp, false, null);
        assertTrue(r.finished());
        assertEquals(18, r.steps());
        double after = r.test().mse();
        assertTrue(after < 0.6 * before, "test mse " + before + " -> " + after);
        assertTrue(Double.isNaN(r.test().crtLoss()), "the baseline runs no regularizer");
        assertTrue(r.test().codebookUsage() > 0 && r.test().codebookUsage() <= 1);
        assertTrue(r.test().positionEntropyBits() >= 0 && r.test().positionEntropyBits() <= r.test().entropyBits() + 1e-9,
                "conditioning on the position cannot raise the entropy: " + r.test().positionEntropyBits() + " vs " + r.test().entropyBits());
        assertTrue(r.trainFlops() > 0);
        Map<String, Tensor> t = Checkpoint.load(tmp.resolve(TokenizerTraining.CHECKPOINT)).tensors();
        assertTrue(t.keySet().stream().noneMatch(k -> k.startsWith("crt.")), "baseline checkpoint holds no regularizer: " + t.keySet());
        List<List<String>> csv = Csv.read(tmp.resolve("loss.csv"));
        assertEquals(19, csv.size());
        assertEquals("test_psnr_db", csv.get(0).get(10));
    }

    /** A frozen classifier's features, as train-tokenizer builds them for --perceptual-weight. */
    static java.util.function.UnaryOperator<Tensor> frozenFeatures() {
        org.tessella.eval.FashionClassifier c = new org.tessella.eval.FashionClassifier(new Init(11));
        for (org.tessella.nn.Parameter p : c.parameters()) p.tensor().requiresGrad(false);
        c.eval();
        return c::features;
    }

    @Test
    void extraLossesTrainTheDiscriminatorAndResumeToTheSameBits(@TempDir Path tmp) throws Exception {
        TokenizerTraining.Config cfg = config(2, 1f).withExtra(new TokenizerTraining.ExtraLosses(0.5f, 0.1f, 0.1f, 3));
        Path full = Files.createDirectories(tmp.resolve("full")), part = Files.createDirectories(tmp.resolve("part"));
        TokenizerTraining.Result a = TokenizerTraining.train(new VqTokenizer(SMALL, new Init(7)), TRAIN, TEST, cfg, full, false, null, frozenFeatures());
        assertTrue(Double.isFinite(a.finalTrainLoss()), "loss " + a.finalTrainLoss());
        Map<String, Tensor> x = Checkpoint.load(full.resolve(TokenizerTraining.CHECKPOINT)).tensors();
        PatchDiscriminator init = new PatchDiscriminator(new Init(7 ^ 0xD15CL));
        assertTrue(x.containsKey("disc.conv1.weight") && x.containsKey("disc.optim.exp_avg.conv3.weight"), x.keySet().toString());
        assertFalse(java.util.Arrays.equals(init.conv3.weight.toFloatArray(), x.get("disc.conv3.weight").toFloatArray()),
                "the discriminator trained");
        TokenizerTraining.train(new VqTokenizer(SMALL, new Init(7)), TRAIN, TEST, cfg.withStopAfter(5), part, false, null, frozenFeatures());
        TokenizerTraining.Result b = TokenizerTraining.train(new VqTokenizer(SMALL, new Init(7)), TRAIN, TEST, cfg, part, true, null, frozenFeatures());
        Map<String, Tensor> y = Checkpoint.load(part.resolve(TokenizerTraining.CHECKPOINT)).tensors();
        assertEquals(x.keySet(), y.keySet());
        java.util.List<String> differ = new java.util.ArrayList<>();
        for (String k : x.keySet())
            if (k.equals(TokenizerTraining.LAST_USED) ? !java.util.Arrays.equals(x.get(k).toIntArray(), y.get(k).toIntArray())
                    : !java.util.Arrays.equals(x.get(k).toFloatArray(), y.get(k).toFloatArray())) differ.add(k);
        assertEquals(List.of(), differ, "tensors that differ after resume");
        assertEquals(a.test().mse(), b.test().mse(), 0.0);
        // the checkpoint's discriminator is not part of the tokenizer
        VqTokenizer loaded = VqTokenizer.load(full);
        assertEquals(new VqTokenizer(SMALL, new Init(7)).stateDict().keySet(), loaded.stateDict().keySet());
        // without the classifier the perceptual term is refused with a reason
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TokenizerTraining.train(
                new VqTokenizer(SMALL, new Init(7)), TRAIN, TEST, cfg, Files.createDirectories(tmp.resolve("none")), false, null, null));
        assertTrue(e.getMessage().contains("--classifier"), e.getMessage());
    }

    @Test
    void entropyLossSpreadsTheCodes(@TempDir Path tmp) throws Exception {
        TokenizerTraining.Config plain = config(3, 0f);
        TokenizerTraining.Config spread = new TokenizerTraining.Config(plain.epochs(), plain.batch(), plain.lr(), plain.minLr(), plain.weightDecay(),
                plain.clip(), plain.warmupSteps(), plain.seed(), 0f, plain.crtRampSteps(), false, plain.crtLr(), 0, plain.deadAfter(), 1f, TokenizerTraining.ExtraLosses.NONE, 0);
        TokenizerTraining.Config noRestart = new TokenizerTraining.Config(plain.epochs(), plain.batch(), plain.lr(), plain.minLr(), plain.weightDecay(),
                plain.clip(), plain.warmupSteps(), plain.seed(), 0f, plain.crtRampSteps(), false, plain.crtLr(), 0, plain.deadAfter(), 0f, TokenizerTraining.ExtraLosses.NONE, 0);
        Path a = Files.createDirectories(tmp.resolve("a")), b = Files.createDirectories(tmp.resolve("b"));
        double without = TokenizerTraining.train(new VqTokenizer(SMALL, new Init(7)), TRAIN, TEST, noRestart, a, false, null).test().entropyBits();
        double with = TokenizerTraining.train(new VqTokenizer(SMALL, new Init(7)), TRAIN, TEST, spread, b, false, null).test().entropyBits();
        assertTrue(with > without + 0.1, "code entropy without / with the entropy loss: " + without + " / " + with);
    }

    @Test
    void crtRegularizerRunsAndIsKeptOutOfTheTokenizerWeights(@TempDir Path tmp) {
        VqTokenizer model = new VqTokenizer(SMALL, new Init(7));
        TokenizerTraining.Result r = TokenizerTraining.train(model, TRAIN, TEST, config(1, 2f), tmp, false, null);
        assertTrue(Double.isFinite(r.test().crtLoss()) && r.test().crtLoss() > 0, "crt loss " + r.test().crtLoss());
        List<List<String>> csv = Csv.read(tmp.resolve("loss.csv"));
        assertEquals("crt_loss", csv.get(0).get(4));
        for (List<String> row : csv.subList(1, csv.size())) assertTrue(Double.isFinite(Double.parseDouble(row.get(4))), row.toString());
        assertEquals(CrtRegularizer.lambdaAt(2f, 3, 5), Float.parseFloat(csv.get(3).get(5)), 0f, "lambda at step 3 is ramping up");
        assertEquals(2f, Float.parseFloat(csv.get(6).get(5)), 0f, "lambda reaches the weight after the ramp");
        Map<String, Tensor> t = Checkpoint.load(tmp.resolve(TokenizerTraining.CHECKPOINT)).tensors();
        assertTrue(t.containsKey("crt.in_proj.weight") && t.containsKey("crt.optim.exp_avg.in_proj.weight")
                && t.containsKey(TokenizerTraining.LAST_USED), t.keySet().toString());
        // loading the unfinished run's checkpoint ignores the regularizer and optimizer; the saved weights file has none
        VqTokenizer fromCkpt = VqTokenizer.load(tmp);
        model.save(tmp, r.steps());
        Map<String, Tensor> w = Checkpoint.load(tmp.resolve(VqTokenizer.WEIGHTS)).tensors();
        assertEquals(model.stateDict().keySet(), w.keySet());
        VqTokenizer loaded = VqTokenizer.load(tmp);
        assertEquals(SMALL, loaded.config);
        for (var e : model.stateDict().entrySet()) {
            assertArrayEquals(e.getValue().toFloatArray(), loaded.stateDict().get(e.getKey()).toFloatArray(), 0f, e.getKey());
            assertArrayEquals(e.getValue().toFloatArray(), fromCkpt.stateDict().get(e.getKey()).toFloatArray(), 0f, e.getKey());
        }
    }

    @Test
    void resumedRunEndsWithTheSameBits(@TempDir Path tmp) throws Exception {
        Path full = Files.createDirectories(tmp.resolve("full")), part = Files.createDirectories(tmp.resolve("part"));
        TokenizerTraining.Config cfg = config(2, 1.5f);
        TokenizerTraining.Result a = TokenizerTraining.train(new VqTokenizer(SMALL, new Init(7)), TRAIN, TEST, cfg, full, false, null);
        TokenizerTraining.Result b1 = TokenizerTraining.train(new VqTokenizer(SMALL, new Init(7)), TRAIN, TEST, cfg.withStopAfter(8), part, false, null);
        assertFalse(b1.finished());
        assertEquals(8, Checkpoint.load(part.resolve(TokenizerTraining.CHECKPOINT)).step());
        TokenizerTraining.Result b2 = TokenizerTraining.train(new VqTokenizer(SMALL, new Init(7)), TRAIN, TEST, cfg, part, true, null);
        assertTrue(b2.finished());
        assertTrue(a.codesRestarted() > 0, "the test should exercise dead-code restarts");
        assertEquals(a.codesRestarted(), b2.codesRestarted());
        Map<String, Tensor> x = Checkpoint.load(full.resolve(TokenizerTraining.CHECKPOINT)).tensors();
        Map<String, Tensor> y = Checkpoint.load(part.resolve(TokenizerTraining.CHECKPOINT)).tensors();
        assertEquals(x.keySet(), y.keySet());
        for (String k : x.keySet()) {
            if (k.equals(TokenizerTraining.LAST_USED)) assertArrayEquals(x.get(k).toIntArray(), y.get(k).toIntArray(), k);
            else assertArrayEquals(x.get(k).toFloatArray(), y.get(k).toFloatArray(), 0f, "tensor " + k + " differs after resume");
        }
        assertEquals(a.test().mse(), b2.test().mse(), 0.0);
        assertEquals(a.test().crtLoss(), b2.test().crtLoss(), 0.0);
        assertEquals(Files.readString(full.resolve("loss.csv")), Files.readString(part.resolve("loss.csv")));
    }

    @Test
    void encodeGivesATokenFileThatTrainArReads(@TempDir Path tmp) throws Exception {
        VqTokenizer model = new VqTokenizer(SMALL, new Init(3));
        TokenFile.Split s = new TokenFile.Split(TokenizerTraining.encodeTokens(model, TEST), TEST.labels().clone());
        assertEquals(TEST.size() * 64, s.tokens().length);
        for (int t : s.tokens()) assertTrue(t >= 0 && t < 32);
        assumeTrue(Files.exists(Path.of(FashionMnist.SYSTEM_DIR)), "Fashion-MNIST is not installed: the CLI part is skipped");
        Path dir = tmp.resolve("tok");
        model.save(Files.createDirectories(dir), 0);
        Path file = tmp.resolve("tokens.safetensors");
        assertEquals(0, Main.run(new String[]{"encode", "--tokenizer", dir.toString(), "--out", file.toString(), "--limit", "40"}));
        TokenFile tf = TokenFile.read(file);
        assertEquals(32, tf.vocab());
        assertEquals(64, tf.length());
        assertEquals(8, tf.gridH());
        assertEquals(8, tf.gridW());
        assertEquals(10, tf.classes());
        assertEquals(40, tf.train().size());
        assertEquals(40, tf.test().size());
        Dataset first = FashionMnist.load(Optional.empty(), FashionMnist.Split.TEST, 40);
        assertArrayEquals(TokenizerTraining.encodeTokens(model, first), tf.test().tokens());
    }

    @Test
    void badInputGivesAOneLineError(@TempDir Path tmp) throws Exception {
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        String err = stderrOf(() -> assertEquals(1, Main.run(new String[]{"encode", "--tokenizer", empty.toString(), "--out", tmp.resolve("t").toString()})));
        assertEquals(1, err.lines().count(), err);
        assertTrue(err.contains("no tokenizer at") && err.contains("train-tokenizer"), err);

        // a checkpoint of another kind (no tokenizer config)
        Path other = Files.createDirectories(tmp.resolve("other"));
        Checkpoint.save(other.resolve(VqTokenizer.WEIGHTS), Map.of("w", Tensor.of(new float[]{1}, 1)), Checkpoint.meta(Map.of("model", Map.of()), 0, null));
        String err2 = stderrOf(() -> assertEquals(1, Main.run(new String[]{"encode", "--tokenizer", other.toString(), "--out", tmp.resolve("t").toString()})));
        assertEquals(1, err2.lines().count(), err2);
        assertTrue(err2.contains("not a tokenizer checkpoint") && err2.contains(VqTokenizer.WEIGHTS), err2);

        // a tokenizer file whose weights are of another architecture
        Path mismatch = Files.createDirectories(tmp.resolve("mismatch"));
        new VqTokenizer(SMALL, new Init(1)).save(mismatch, 0);
        Map<String, Tensor> w = new java.util.LinkedHashMap<>(Checkpoint.load(mismatch.resolve(VqTokenizer.WEIGHTS)).tensors());
        Checkpoint.save(mismatch.resolve(VqTokenizer.WEIGHTS), w, Checkpoint.meta(Map.of("tokenizer", SMALL.withCodebookSize(64).toJson()), 0, null));
        RuntimeException e = assertThrows(RuntimeException.class, () -> VqTokenizer.load(mismatch));
        assertTrue(e.getMessage().contains(VqTokenizer.WEIGHTS) && e.getMessage().contains("embedding.weight"), e.getMessage());

        Dataset small = SyntheticImages.shapes(32, 28, 28, 6, 1);
        IllegalArgumentException e2 = assertThrows(IllegalArgumentException.class, () ->
                TokenizerTraining.train(new VqTokenizer(SMALL, new Init(1)), small, small, config(1, 0f), tmp, false, null));
        assertTrue(e2.getMessage().contains("1x32x32") && e2.getMessage().contains("1x28x28"), e2.getMessage());
        assertEquals(1, e2.getMessage().lines().count());
        assertThrows(IllegalArgumentException.class, () -> TokenizerTraining.encodeTokens(new VqTokenizer(SMALL, new Init(1)), small));

        String err3 = stderrOf(() -> assertEquals(2, Main.run(new String[]{"train-tokenizer", "--resume", empty.toString()})));
        assertTrue(err3.contains("no run to resume"), err3);
    }

    static String stderrOf(Runnable r) {
        PrintStream old = System.err;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setErr(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try {
            r.run();
        } finally {
            System.setErr(old);
        }
        return buf.toString(StandardCharsets.UTF_8);
    }
}
