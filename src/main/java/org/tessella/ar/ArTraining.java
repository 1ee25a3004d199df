package org.tessella.ar;

import org.tessella.autograd.Ops;
import org.tessella.autograd.Tape;
import org.tessella.backend.Backends;
import org.tessella.backend.FlopCounter;
import org.tessella.data.Batcher;
import org.tessella.io.Checkpoint;
import org.tessella.io.Csv;
import org.tessella.io.Json;
import org.tessella.io.TrainingLog;
import org.tessella.nn.Parameter;
import org.tessella.optim.AdamW;
import org.tessella.optim.GradClip;
import org.tessella.optim.LrSchedule;
import org.tessella.tensor.DType;
import org.tessella.tensor.Philox;
import org.tessella.tensor.Tensor;
import org.tessella.tensor.Workspace;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Trains a {@link Gpt} on a {@link TokenFile}: AdamW (LlamaGen's betas 0.9/0.95, weight decay on matrices only),
 * warmup then cosine decay, global-norm clipping, class labels dropped to the null class with the configured
 * probability (a Philox draw per step and row), validation every epoch. Checkpoints hold weights, optimizer moments,
 * the data order's position and the step, written atomically; a resumed run reaches the same bits as an
 * uninterrupted one because every random choice is a function of (seed, step). The model trains on its device
 * ({@code model.to(device)} before calling): batches are filled on the host and uploaded once per step by
 * {@link Gpt#loss}, checkpoints are written from host copies, so they do not depend on the device.
 */
public final class ArTraining {
    private ArTraining() {}

    public static final String CHECKPOINT = "checkpoint.safetensors";
    private static final double LN2 = Math.log(2);

    public record Config(int epochs, int batch, float lr, float minLr, float weightDecay, double clip, int warmupSteps,
                         long seed, long stopAfter) {
        public static Config defaults() { return new Config(10, 64, 1e-3f, 1e-4f, 0.05f, 1.0, 100, 1, 0); }

        Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("epochs", epochs);
            m.put("batch", batch);
            m.put("lr", lr);
            m.put("min_lr", minLr);
            m.put("weight_decay", weightDecay);
            m.put("clip", clip);
            m.put("warmup_steps", warmupSteps);
            m.put("seed", seed);
            return m;
        }

        static Config fromJson(Json.Obj o, long stopAfter) {
            return new Config(o.integer("epochs"), o.integer("batch"), (float) o.number("lr"), (float) o.number("min_lr"),
                    (float) o.number("weight_decay"), o.number("clip"), o.integer("warmup_steps"), o.longValue("seed"), stopAfter);
        }
    }

    /** Validation result: mean bits per token and per position. */
    public record Eval(double bitsPerToken, double[] bitsPerPosition) {}

    public record Result(long steps, double trainSeconds, double tokensPerSecond, long trainFlops, Eval val, Eval train,
                         boolean finished) {}

    /** Trains (or resumes, when {@code out} holds a checkpoint and {@code resume} is set) and writes everything to {@code out}. */
    public static Result train(Gpt model, TokenFile data, Config cfg, Path out, boolean resume, TrainingLog log, Path tokensFile) throws Exception {
        return run(model, data, cfg, 0, out, resume, log, tokensFile);
    }

    /**
     * Exactly {@code steps} training steps in memory: the same steps as {@link #train} (data order, class dropout, AdamW,
     * clipping, warmup then cosine decay, here spread over {@code steps} rather than {@code cfg.epochs()} epochs), but
     * no checkpoint, loss.csv or evaluation: the result's {@code val} and {@code train} are null (the caller evaluates
     * with {@link #evaluate} on what it chooses). For probes that compare token sets.
     */
    public static Result trainSteps(Gpt model, TokenFile data, Config cfg, long steps, TrainingLog log) {
        if (steps < 1) throw new IllegalArgumentException("trainSteps: steps must be at least 1, got " + steps);
        try {
            return run(model, data, cfg, steps, null, false, log, null);
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** {@link #train} with {@code out} a directory, or {@link #trainSteps} with {@code out} null and {@code fixedSteps > 0}. */
    private static Result run(Gpt model, TokenFile data, Config cfg, long fixedSteps, Path out, boolean resume, TrainingLog log,
                              Path tokensFile) throws Exception {
        GptConfig mc = model.config;
        checkFits(mc, data, tokensFile);
        int n = mc.length(), b = cfg.batch();
        int stepsPerEpoch = data.train().size() / b;
        if (stepsPerEpoch == 0)
            throw new IllegalArgumentException("batch " + b + " is larger than the " + data.train().size() + " training sequences");
        boolean files = out != null;
        long total = fixedSteps > 0 ? fixedSteps : (long) stepsPerEpoch * cfg.epochs();
        List<Parameter> params = model.parameters();
        AdamW opt = new AdamW(params, cfg.lr(), 0.9f, 0.95f, 1e-8f, cfg.weightDecay());
        LrSchedule schedule = LrSchedule.warmupCosine(cfg.lr(), cfg.minLr(), cfg.warmupSteps(), total);
        Batcher batcher = new Batcher(data.train().size(), b, cfg.seed(), true);
        List<List<Object>> curve = new ArrayList<>();
        long step = 0;
        double priorSeconds = 0;
        long priorFlops = 0;
        Path ckpt = files ? out.resolve(CHECKPOINT) : null;
        if (resume && files) {
            Checkpoint c = Checkpoint.load(ckpt);
            model.loadStateDict(c.without("optim."));
            step = c.step();
            opt.loadStateDict(c.tensors(), step);
            Json.Obj rng = c.rng();
            batcher.seek(rng.longValue("epoch"), rng.integer("position"));
            priorSeconds = rng.number("train_seconds", 0);
            priorFlops = rng.longValue("train_flops", 0);
            for (List<String> row : Csv.readBody(out.resolve("loss.csv")))
                if (Long.parseLong(row.get(0)) <= step) curve.add(new ArrayList<>(row));
            if (log != null) log.message("resumed from " + ckpt + " at step " + step + "/" + total);
        }
        Tensor tokens = Tensor.persistent(DType.I32, b, n), labels = Tensor.persistent(DType.I32, b);
        int[] idx = new int[b];
        Workspace ws = new Workspace();
        long flops0 = FlopCounter.total(), t0 = System.nanoTime(), startStep = step;
        Eval val = null;
        if (files && cfg.stopAfter() > 0 && step >= cfg.stopAfter() && step < total) {
            // resumed at or past the requested stop (e.g. a study killed while evaluating that point): nothing to train
            if (log != null) log.message("already at step " + step + " (asked to stop after " + cfg.stopAfter() + ")");
            return new Result(step, priorSeconds, 0, priorFlops, null, null, false);
        }
        model.train(true);
        while (step < total) {
            batcher.nextIndices(idx);
            fillBatch(data.train(), n, idx, cfg.seed(), step, mc, tokens, labels);
            float lr = schedule.at(step);
            opt.setLearningRate(lr);
            long f0 = FlopCounter.total();
            double lossNats, gnorm;
            try (Workspace w = ws.open()) {
                Tensor loss = model.loss(labels, tokens);
                lossNats = loss.item();
                if (!Double.isFinite(lossNats))
                    throw new IllegalStateException("loss became " + lossNats + " at step " + (step + 1) + "; lower --lr; the last good checkpoint is "
                            + (ckpt != null && Files.exists(ckpt) ? ckpt : "not written yet"));
                opt.zeroGrad();
                Tape.backward(loss);
                gnorm = GradClip.clip(params, cfg.clip());
                opt.step();
            }
            step++;
            double bits = lossNats / LN2;
            if (log != null) log.step(step, bits, gnorm, lr, (long) b * n, FlopCounter.total() - f0);
            boolean epochEnd = step % stepsPerEpoch == 0;
            List<Object> row = new ArrayList<>(List.of(step, step / (double) stepsPerEpoch, bits, lr, gnorm, ""));
            if (files && (epochEnd || step == total)) {
                val = evaluate(model, data.test(), n, 256, ws);
                row.set(5, val.bitsPerToken());
                if (log != null) log.message(String.format(java.util.Locale.ROOT, "epoch %d: val %.4f bits/token", step / stepsPerEpoch, val.bitsPerToken()));
            }
            curve.add(row);
            boolean stop = files && cfg.stopAfter() > 0 && step >= cfg.stopAfter();
            if (files && (epochEnd || step == total || stop)) {
                double secs = priorSeconds + (System.nanoTime() - t0) / 1e9;
                long flops = priorFlops + FlopCounter.total() - flops0;
                save(ckpt, model, opt, cfg, batcher, step, secs, flops, tokensFile);
                Csv.write(out.resolve("loss.csv"), List.of("step", "epoch", "train_bits", "lr", "grad_norm", "val_bits"), curve);
            }
            if (stop && step < total) {
                if (log != null) log.message("stopped after step " + step + " as asked; continue with --resume " + out);
                return new Result(step, priorSeconds + (System.nanoTime() - t0) / 1e9, 0, priorFlops + FlopCounter.total() - flops0, val, null, false);
            }
        }
        double secs = priorSeconds + (System.nanoTime() - t0) / 1e9;
        long flops = priorFlops + FlopCounter.total() - flops0;
        double tokPerSec = (step - startStep) * (double) b * n / Math.max(1e-9, (System.nanoTime() - t0) / 1e9);
        if (!files) return new Result(step, secs, tokPerSec, flops, null, null, true);
        if (val == null) val = evaluate(model, data.test(), n, 256, ws);
        TokenFile.Split trainSub = subset(data.train(), n, Math.min(data.train().size(), data.test().size()));
        Eval tr = evaluate(model, trainSub, n, 256, ws);
        return new Result(step, secs, tokPerSec, flops, val, tr, true);
    }

    /**
     * Throws a one-line IllegalArgumentException naming each of vocabulary (codebook size), length (tokens per image)
     * and classes where the token file differs from the model, with both values; {@code file} (may be null) is named.
     */
    public static void checkFits(GptConfig mc, TokenFile data, Path file) {
        List<String> diff = new ArrayList<>();
        if (mc.vocab() != data.vocab()) diff.add("vocabulary " + data.vocab() + " (the model's: " + mc.vocab() + ")");
        if (mc.length() != data.length()) diff.add("length " + data.length() + " tokens (the model's: " + mc.length() + ")");
        if (mc.classes() != data.classes()) diff.add(data.classes() + " classes (the model's: " + mc.classes() + ")");
        if (!diff.isEmpty())
            throw new IllegalArgumentException("the token file" + (file == null ? "" : " " + file) + " does not fit the model "
                    + mc.name() + ": it has " + String.join(", ", diff));
    }

    /** Copies a batch of sequences and labels, dropping labels to the null class with Philox(seed, step, row). */
    static void fillBatch(TokenFile.Split split, int n, int[] idx, long seed, long step, GptConfig mc, Tensor tokens, Tensor labels) {
        int[] tk = tokens.ints(), lb = labels.ints();
        for (int r = 0; r < idx.length; r++) {
            System.arraycopy(split.tokens(), idx[r] * n, tk, tokens.offset() + r * n, n);
            boolean drop = mc.classDropout() > 0 && Philox.uniform(seed ^ 0x5EEDC1A55L, step * idx.length + r) < mc.classDropout();
            lb[labels.offset() + r] = drop ? mc.nullClass() : split.labels()[idx[r]];
        }
    }

    /** Mean cross-entropy in bits per token, overall and per position, without recording gradients. */
    public static Eval evaluate(Gpt model, TokenFile.Split split, int n, int batch, Workspace ws) {
        boolean wasTraining = model.training();
        model.eval();
        double[] perPos = new double[n];
        var be = Backends.of(model.device());
        try (var ignored = Tape.noGrad()) {
            for (int s = 0; s < split.size(); s += batch) {
                int bs = Math.min(batch, split.size() - s);
                try (Workspace w = ws.open()) {
                    Tensor tokens = Ops.to(Tensor.ofInts(java.util.Arrays.copyOfRange(split.tokens(), s * n, (s + bs) * n), bs, n),
                            model.device()); // the logits' device: the losses below read them there
                    Tensor labels = Tensor.ofInts(java.util.Arrays.copyOfRange(split.labels(), s, s + bs), bs);
                    Tensor logits = model.forward(labels, tokens);
                    Tensor losses = be.empty(DType.F32, bs * n);
                    be.crossEntropy(logits.reshape(bs * n, model.config.vocab()), tokens.reshape(bs * n), -100, losses, null);
                    float[] l = losses.toFloatArray();
                    for (int i = 0; i < l.length; i++) perPos[i % n] += l[i];
                }
            }
        }
        model.train(wasTraining);
        double total = 0;
        for (int p = 0; p < n; p++) {
            perPos[p] = perPos[p] / split.size() / LN2;
            total += perPos[p];
        }
        return new Eval(total / n, perPos);
    }

    static TokenFile.Split subset(TokenFile.Split s, int n, int count) {
        return new TokenFile.Split(java.util.Arrays.copyOf(s.tokens(), count * n), java.util.Arrays.copyOf(s.labels(), count));
    }

    static void save(Path file, Gpt model, AdamW opt, Config cfg, Batcher batcher, long step, double secs, long flops, Path tokensFile) {
        Map<String, Tensor> t = new LinkedHashMap<>(model.stateDict());
        t.putAll(opt.stateDict());
        Map<String, Object> config = new LinkedHashMap<>();
        config.put("model", model.config.toJson());
        config.put("train", cfg.toJson());
        config.put("tokens", tokensFile == null ? "" : tokensFile.toAbsolutePath().toString());
        Map<String, Object> rng = Checkpoint.progress(batcher.epoch(), batcher.position(), secs, flops);
        Checkpoint.save(file, t, Checkpoint.meta(config, step, rng));
    }


    /** The model config and training config stored in a run directory's checkpoint. */
    public static Json.Obj storedConfig(Path dir) {
        return Checkpoint.load(dir.resolve(CHECKPOINT)).config();
    }

    /** Loads the trained model of a run directory (weights only). */
    public static Gpt load(Path dir) {
        Path file = dir.resolve(CHECKPOINT);
        if (!Files.exists(file))
            throw new IllegalArgumentException("no stage-2 model at " + file + ": train one with tessella train-ar --out " + dir);
        Checkpoint c = Checkpoint.load(file);
        Gpt m = new Gpt(GptConfig.fromJson(c.config().object("model")), 0);
        try {
            m.loadStateDict(c.without("optim."));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        }
        m.eval();
        return m;
    }

    /** The training config stored in a run directory, with a new stop-after step. */
    public static Config resumeConfig(Path dir, long stopAfter) {
        return Config.fromJson(storedConfig(dir).object("train"), stopAfter);
    }
}
