package org.tessella.eval;

import org.tessella.ar.ArTraining;
import org.tessella.ar.Gpt;
import org.tessella.ar.GptConfig;
import org.tessella.ar.TokenFile;
import org.tessella.io.TrainingLog;
import org.tessella.tensor.Workspace;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * The stage-2 probe of a tokenizer: a small stage-2 transformer ({@code gpt-xs} by default) trained with a fixed seed
 * for a fixed number of steps on a token file's training sequences, then evaluated on all its test sequences. Bits per
 * token of that probe tell whether a tokenizer's tokens got easier to model; baseline and CRT tokenizers (same token
 * count and codebook size) run the same probe, so their numbers compare. The run is {@link ArTraining#trainSteps}: the
 * stage-2 training step exactly (AdamW, class dropout, clipping), with warmup then cosine decay over the probe's steps,
 * in memory, no files.
 *
 * <p>Deterministic: the same token file and options give the same bits, whatever the thread count.
 */
public final class TokenProbe {
    private TokenProbe() {}

    /**
     * The probe's settings. The defaults ({@link #DEFAULT_STEPS} steps of 64 sequences, lr 2e-3 to 2e-4 after 60
     * warmup steps, weight decay 0.05, seed 1) are what {@code train-tokenizer} runs; the README says what they cost.
     * The warmup is capped at a tenth of the steps, so short probes still decay.
     */
    public record Options(String model, long steps, int batch, float lr, float minLr, int warmupSteps, float weightDecay, long seed) {
        public Options {
            if (steps < 1) throw new IllegalArgumentException("probe: steps must be at least 1, got " + steps);
            if (batch < 1) throw new IllegalArgumentException("probe: batch must be at least 1, got " + batch);
            if (!(lr > 0) || !(minLr >= 0) || !Float.isFinite(lr) || !Float.isFinite(minLr))
                throw new IllegalArgumentException("probe: learning rates must be finite, lr > 0 and min lr >= 0, got " + lr + " and " + minLr);
            if (warmupSteps < 0) throw new IllegalArgumentException("probe: warmup must be >= 0, got " + warmupSteps);
        }

        public static Options defaults() {
            return new Options("gpt-xs", DEFAULT_STEPS, 64, 2e-3f, 2e-4f, 60, 0.05f, 1);
        }

        public Options withSteps(long s) { return new Options(model, s, batch, lr, minLr, warmupSteps, weightDecay, seed); }

        public Options withModel(String m) { return new Options(m, steps, batch, lr, minLr, warmupSteps, weightDecay, seed); }

        public Options withBatch(int b) { return new Options(model, steps, b, lr, minLr, warmupSteps, weightDecay, seed); }

        public Options withSeed(long s) { return new Options(model, steps, batch, lr, minLr, warmupSteps, weightDecay, s); }
    }

    /** Training sequences the train bits are measured on (the first ones; all test sequences are evaluated). */
    public static final int TRAIN_EVAL_SEQUENCES = 2000;
    private static final int EVAL_BATCH = 256;

    /**
     * Steps of the default probe. Measured on a baseline vq-s's tokens (6000 train / 6000 test sequences, 2 cores):
     * test bits 3.82 after 200 steps, 3.02 and 2.96 after 400 with seeds 1 and 2, 2.783 and 2.780 after 600, 2.74
     * after 800. At 400 the curve is still steep and two seeds differ by 0.057 bits; at 600 by 0.003, so 600 steps
     * rank tokenizers by more than the seed's luck, for about 3.5 minutes on two uncontended cores (0.30-0.33 s per
     * step of 64 x 64 tokens, 12.6-13.6k tokens/s, plus about 20 s to evaluate).
     */
    public static final long DEFAULT_STEPS = 600;

    /**
     * @param testBitsPerToken      mean cross-entropy on the token file's test sequences, bits per token
     * @param trainBitsPerToken     the same on the first {@link #TRAIN_EVAL_SEQUENCES} training sequences
     * @param testBitsPerPosition   test bits at each of the sequence's positions
     * @param seconds               wall time of training and evaluation
     */
    public record Result(String model, long steps, int batch, long parameters, double testBitsPerToken, double trainBitsPerToken,
                         double[] testBitsPerPosition, double seconds, double tokensPerSecond, long trainFlops) {
        /** The metrics.json entries of train-tokenizer: {@code probe_bits_per_token}, {@code probe_train_bits_per_token}, ... */
        public Map<String, Object> metrics() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("probe_bits_per_token", testBitsPerToken);
            m.put("probe_train_bits_per_token", trainBitsPerToken);
            m.put("probe_steps", steps);
            m.put("probe_model", model);
            m.put("probe_seconds", seconds);
            m.put("probe_batch", batch);
            m.put("probe_bits_per_position", testBitsPerPosition);
            return m;
        }

        /** One line for a terminal. */
        public String summary() {
            return String.format(Locale.ROOT, "probe (%s, %d steps of %d): test %.4f bits/token, train %.4f, %.0f tokens/s, %.1f s",
                    model, steps, batch, testBitsPerToken, trainBitsPerToken, tokensPerSecond, seconds);
        }
    }

    /** Trains and evaluates the probe on {@code tokens}; {@code log} (may be null) gets the progress lines. */
    public static Result run(TokenFile tokens, Options o, TrainingLog log) {
        GptConfig mc = GptConfig.preset(o.model(), tokens.vocab(), tokens.length(), tokens.gridH(), tokens.gridW(), tokens.classes());
        if (tokens.train().size() < o.batch())
            throw new IllegalArgumentException("probe: the token file has " + tokens.train().size() + " training sequences, fewer than one batch of " + o.batch());
        if (tokens.test().size() < 1) throw new IllegalArgumentException("probe: the token file has no test sequences");
        long t0 = System.nanoTime();
        Gpt model = new Gpt(mc, o.seed());
        ArTraining.Config cfg = new ArTraining.Config(1, o.batch(), o.lr(), o.minLr(), o.weightDecay(), 1.0,
                (int) Math.min(o.warmupSteps(), o.steps() / 10), o.seed(), 0);
        ArTraining.Result r = ArTraining.trainSteps(model, tokens, cfg, o.steps(), log);
        Workspace ws = new Workspace();
        int n = tokens.length(), m = Math.min(tokens.train().size(), TRAIN_EVAL_SEQUENCES);
        ArTraining.Eval test = ArTraining.evaluate(model, tokens.test(), n, EVAL_BATCH, ws);
        ArTraining.Eval train = ArTraining.evaluate(model, new TokenFile.Split(Arrays.copyOf(tokens.train().tokens(), m * n),
                Arrays.copyOf(tokens.train().labels(), m)), n, EVAL_BATCH, ws);
        double secs = (System.nanoTime() - t0) / 1e9;
        if (log != null) log.message(String.format(Locale.ROOT, "probe: test %.4f bits/token, train %.4f (first %d sequences)",
                test.bitsPerToken(), train.bitsPerToken(), m));
        return new Result(o.model(), r.steps(), o.batch(), model.parameterCount(), test.bitsPerToken(), train.bitsPerToken(),
                test.bitsPerPosition(), secs, r.tokensPerSecond(), r.trainFlops());
    }

    /**
     * The token file of a tokenizer over a train and a test set: vocabulary = codebook size, length = tokens per image,
     * the token grid, the datasets' classes, and {@code extra} as metadata.
     */
    public static TokenFile tokenFile(org.tessella.tokenizer.VqTokenizer model, org.tessella.data.Dataset train,
                                      org.tessella.data.Dataset test, java.util.Map<String, String> extra) {
        int side = model.config.gridSide();
        return new TokenFile(model.config.codebookSize(), model.tokens(), side, side, train.numClasses(),
                split(model, train), split(model, test), extra);
    }

    private static TokenFile.Split split(org.tessella.tokenizer.VqTokenizer model, org.tessella.data.Dataset data) {
        return new TokenFile.Split(org.tessella.tokenizer.TokenizerTraining.encodeTokens(model, data), data.labels().clone());
    }
}
