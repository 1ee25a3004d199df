package org.tessella.diffusion;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tessella.autograd.Functional;
import org.tessella.autograd.Ops;
import org.tessella.autograd.Tape;
import org.tessella.backend.Backend;
import org.tessella.backend.Backends;
import org.tessella.backend.BinaryOp;
import org.tessella.backend.FlopCounter;
import org.tessella.data.Batcher;
import org.tessella.data.Dataset;
import org.tessella.io.Checkpoint;
import org.tessella.io.Csv;
import org.tessella.io.Json;
import org.tessella.io.TrainingLog;
import org.tessella.nn.Init;
import org.tessella.nn.Parameter;
import org.tessella.optim.AdamW;
import org.tessella.optim.GradClip;
import org.tessella.optim.LrSchedule;
import org.tessella.tensor.DType;
import org.tessella.tensor.Philox;
import org.tessella.tensor.Tensor;
import org.tessella.tensor.Workspace;

/**
 * DiT training on images in [-1, 1]: each step draws per image a timestep uniform in [0, 1000), Gaussian noise, and a
 * label dropped to the null label with probability {@code classDropout} (for classifier-free guidance), all from
 * counter-based streams keyed by (seed, step, row), so the data order and the noise are the same on every machine and
 * after a resume; loss = MSE between predicted and true noise; AdamW (betas 0.9/0.999, DiT's), global-norm clipping,
 * warmup then constant learning rate, and an EMA of the weights ({@code ema.} in the checkpoint, the weights sampling
 * uses). Checkpoint {@link #CHECKPOINT}, written atomically at every epoch end and at {@code stopAfter}: weights, EMA,
 * optimizer moments, configs, step, batcher position, seconds and FLOPs; a resumed run ends with the same bits.
 */
public final class DitTraining {
    private DitTraining() {}

    public static final String CHECKPOINT = "checkpoint.safetensors", EMA_PREFIX = "ema.", OPTIM_PREFIX = "optim.";
    private static final long NOISE_SALT = 0xD1FF05E5L, TIME_SALT = 0x71AE5L, DROP_SALT = 0xD50DL;

    public record Config(int epochs, int batch, float lr, float weightDecay, double clip, int warmupSteps, long seed,
                         float classDropout, float emaDecay, long stopAfter) {
        /** CPU defaults: 10 epochs of 64 images, lr 2e-4 after 100 warmup steps, no weight decay, clip 1, EMA 0.999. */
        public static Config defaults() { return new Config(10, 64, 2e-4f, 0f, 1.0, 100, 1, 0.1f, 0.999f, 0); }

        public Config withStopAfter(long step) {
            return new Config(epochs, batch, lr, weightDecay, clip, warmupSteps, seed, classDropout, emaDecay, step);
        }

        public Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("epochs", epochs);
            m.put("batch", batch);
            m.put("lr", lr);
            m.put("weight_decay", weightDecay);
            m.put("clip", clip);
            m.put("warmup_steps", warmupSteps);
            m.put("seed", seed);
            m.put("class_dropout", classDropout);
            m.put("ema_decay", emaDecay);
            return m;
        }

        public static Config fromJson(Json.Obj o, long stopAfter) {
            return new Config(o.integer("epochs"), o.integer("batch"), (float) o.number("lr"), (float) o.number("weight_decay"),
                    o.number("clip"), o.integer("warmup_steps"), o.longValue("seed"), (float) o.number("class_dropout"),
                    (float) o.number("ema_decay"), stopAfter);
        }
    }

    public record Result(long steps, double trainSeconds, double imagesPerSecond, long trainFlops, double finalLoss, boolean finished) {}

    /** The EMA weights, named like the model's parameters (initialised as copies of them). */
    static Map<String, Tensor> emaCopy(Dit model) {
        Map<String, Tensor> ema = new LinkedHashMap<>();
        for (Parameter p : model.parameters()) {
            Tensor e = Backends.of(p.tensor().device()).persistent(DType.F32, p.tensor().shape());
            Backends.of(p.tensor().device()).copy(p.tensor(), e);
            ema.put(p.name(), e);
        }
        return ema;
    }

    /** ema = decay * ema + (1 - decay) * p, in that order of operations. */
    static void updateEma(Dit model, Map<String, Tensor> ema, float decay) {
        for (Parameter p : model.parameters()) {
            Backend be = Backends.of(p.tensor().device());
            Tensor e = ema.get(p.name()), tmp = be.empty(DType.F32, p.tensor().shape());
            be.affine(p.tensor(), 1f - decay, 0f, tmp);
            be.affine(e, decay, 0f, e);
            be.binary(BinaryOp.ADD, e, tmp, e);
        }
    }

    /** Trains (or resumes from {@code out}'s checkpoint) and writes the checkpoint and loss.csv into {@code out}. */
    public static Result train(Dit model, Dataset train, Config cfg, Path out, boolean resume, TrainingLog log) {
        DitConfig mc = model.config;
        if (train.channels() != mc.channels() || train.height() != mc.imageSize() || train.width() != mc.imageSize())
            throw new IllegalArgumentException("the DiT wants " + mc.channels() + "x" + mc.imageSize() + "x" + mc.imageSize()
                    + " images, got " + train.channels() + "x" + train.height() + "x" + train.width());
        int b = cfg.batch(), stepsPerEpoch = train.size() / b;
        if (stepsPerEpoch == 0) throw new IllegalArgumentException("batch " + b + " is larger than the " + train.size() + " training images");
        long total = (long) stepsPerEpoch * cfg.epochs();
        if (!resume && !sameWeights(model, new Dit(mc, new Init(cfg.seed()))))
            throw new IllegalArgumentException("a new DiT run must start from new Dit(config, new Init(" + cfg.seed() + ")), the seed of its "
                    + "config: the EMA starts at those weights and sampling removes them again (see load)");
        List<Parameter> params = model.parameters();
        AdamW opt = new AdamW(params, cfg.lr(), 0.9f, 0.999f, 1e-8f, cfg.weightDecay());
        LrSchedule schedule = LrSchedule.warmupCosine(cfg.lr(), cfg.lr(), cfg.warmupSteps(), total);
        Map<String, Tensor> ema = emaCopy(model);
        GaussianDiffusion diffusion = new GaussianDiffusion();
        Batcher batcher = new Batcher(train.size(), b, cfg.seed(), true);
        List<List<Object>> curve = new ArrayList<>();
        long step = 0, priorFlops = 0;
        double priorSeconds = 0;
        Path ckpt = out.resolve(CHECKPOINT);
        if (resume) {
            Checkpoint c = Checkpoint.load(ckpt);
            try {
                model.loadStateDict(c.without(OPTIM_PREFIX, EMA_PREFIX));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(ckpt + ": " + e.getMessage(), e);
            }
            step = c.step();
            opt.loadStateDict(c.tensors(), step);
            for (Map.Entry<String, Tensor> e : c.withPrefix(EMA_PREFIX).entrySet()) {
                Tensor dst = ema.get(e.getKey());
                if (dst == null) throw new IllegalArgumentException(ckpt + ": EMA tensor " + e.getKey() + " is not a parameter of this DiT");
                Backends.of(dst.device()).copy(e.getValue(), dst);
            }
            Json.Obj rng = c.rng();
            batcher.seek(rng.longValue("epoch"), rng.integer("position"));
            priorSeconds = rng.number("train_seconds", 0);
            priorFlops = rng.longValue("train_flops", 0);
            for (List<String> row : Csv.readBody(out.resolve("loss.csv")))
                if (Long.parseLong(row.get(0)) <= step) curve.add(new ArrayList<>(row));
            if (log != null) log.message("resumed from " + ckpt + " at step " + step + "/" + total);
        }
        int img = mc.channels() * mc.imageSize() * mc.imageSize();
        float[] images = new float[b * img];
        int[] labels = new int[b], ts = new int[b];
        float[] tf = new float[b];
        Workspace ws = new Workspace();
        long flops0 = FlopCounter.total(), t0 = System.nanoTime(), startStep = step;
        double lastLoss = Double.NaN;
        model.train(true);
        while (step < total) {
            batcher.next(train, images, labels);
            long now = step + 1;
            for (int r = 0; r < b; r++) {
                long row = step * b + r;
                ts[r] = Philox.below(cfg.seed() ^ TIME_SALT, row, GaussianDiffusion.STEPS);
                tf[r] = ts[r];
                if (cfg.classDropout() > 0 && Philox.uniform(cfg.seed() ^ DROP_SALT, row) < cfg.classDropout()) labels[r] = model.nullClass();
            }
            float lr = schedule.at(step);
            opt.setLearningRate(lr);
            long f0 = FlopCounter.total();
            double loss, gnorm;
            try (Workspace w = ws.open()) {
                // drawn on the host (the same bits on every device), uploaded once
                Tensor x0 = Ops.to(Tensor.of(images, b, mc.channels(), mc.imageSize(), mc.imageSize()), model.device());
                Tensor eps = Ops.to(Ops.randn(cfg.seed() ^ NOISE_SALT, step * (long) b * img, b, mc.channels(), mc.imageSize(), mc.imageSize()),
                        model.device());
                Tensor l = Functional.mse(model.forward(diffusion.noised(x0, eps, ts), tf, Tensor.ofInts(labels, b)), eps);
                loss = l.item();
                if (!Double.isFinite(loss))
                    throw new IllegalStateException("loss became " + loss + " at step " + now + "; lower --lr; the last good checkpoint is "
                            + (Files.exists(ckpt) ? ckpt : "not written yet"));
                opt.zeroGrad();
                Tape.backward(l);
                gnorm = GradClip.clip(params, cfg.clip());
                opt.step();
                updateEma(model, ema, cfg.emaDecay());
            }
            step = now;
            lastLoss = loss;
            if (log != null) log.step(step, loss, gnorm, lr, b, FlopCounter.total() - f0);
            curve.add(List.of(step, step / (double) stepsPerEpoch, loss, lr, gnorm));
            boolean epochEnd = step % stepsPerEpoch == 0, stop = cfg.stopAfter() > 0 && step >= cfg.stopAfter();
            if (epochEnd || step == total || stop) {
                save(ckpt, model, ema, opt, cfg, batcher, step, priorSeconds + (System.nanoTime() - t0) / 1e9,
                        priorFlops + FlopCounter.total() - flops0, train.size());
                Csv.write(out.resolve("loss.csv"), List.of("step", "epoch", "train_loss", "lr", "grad_norm"), curve);
            }
            if (stop && step < total) {
                if (log != null) log.message("stopped after step " + step + " as asked; continue with --resume " + out);
                return new Result(step, priorSeconds + (System.nanoTime() - t0) / 1e9, 0, priorFlops + FlopCounter.total() - flops0, lastLoss, false);
            }
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        return new Result(step, priorSeconds + secs, (step - startStep) * (double) b / Math.max(1e-9, secs),
                priorFlops + FlopCounter.total() - flops0, lastLoss, true);
    }

    static void save(Path file, Dit model, Map<String, Tensor> ema, AdamW opt, Config cfg, Batcher batcher, long step, double secs,
                     long flops, int trainImages) {
        Map<String, Tensor> t = new LinkedHashMap<>(model.stateDict());
        for (Map.Entry<String, Tensor> e : ema.entrySet()) t.put(EMA_PREFIX + e.getKey(), e.getValue());
        t.putAll(opt.stateDict());
        Map<String, Object> config = new LinkedHashMap<>();
        config.put("model", model.config.toJson());
        config.put("train", cfg.toJson());
        config.put("train_images", trainImages);
        Map<String, Object> rng = Checkpoint.progress(batcher.epoch(), batcher.position(), secs, flops);
        Checkpoint.save(file, t, Checkpoint.meta(config, step, rng));
    }


    private static boolean sameWeights(Dit a, Dit b) {
        Map<String, Tensor> x = a.stateDict(), y = b.stateDict();
        for (Map.Entry<String, Tensor> e : x.entrySet())
            if (!java.util.Arrays.equals(e.getValue().toFloatArray(), y.get(e.getKey()).toFloatArray())) return false;
        return true;
    }

    /**
     * A run directory's DiT ready to sample: with {@code emaWeights}, the bias-corrected EMA
     * {@code (ema_t - d^t w_0) / (1 - d^t)} after t steps at decay d, w_0 the run's initial weights (recreated from its
     * seed); else the raw weights. The EMA starts at w_0, as in DiT, and in a run of a few thousand steps w_0 still
     * weighs d^t (39% after 937 steps at 0.999), which shrinks the zero-initialised outputs toward zero and leaves the
     * samples as noise; removing that share, as Adam does for its moments, leaves the normalised average of the
     * trained weights. Long runs (d^t near 0) are unchanged.
     */
    public static Dit load(Path dir, boolean emaWeights) {
        Path file = dir.resolve(CHECKPOINT);
        if (!Files.exists(file)) throw new IllegalArgumentException("no DiT at " + file + ": train one with tessella train-dit --out " + dir);
        Checkpoint c = Checkpoint.load(file);
        DitConfig mc = DitConfig.fromJson(c.config().object("model"));
        Dit m = new Dit(mc, new Init(0));
        try {
            if (!emaWeights) m.loadStateDict(c.without(OPTIM_PREFIX, EMA_PREFIX));
            else m.loadStateDict(debiasedEma(c, mc));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        }
        m.eval();
        return m;
    }

    private static Map<String, Tensor> debiasedEma(Checkpoint c, DitConfig mc) {
        Json.Obj train = c.config().object("train");
        double decay = train.number("ema_decay"), bias = Math.pow(decay, c.step());
        Map<String, Tensor> initial = new Dit(mc, new Init(train.longValue("seed"))).stateDict(), out = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : c.withPrefix(EMA_PREFIX).entrySet()) {
            Tensor w0 = initial.get(e.getKey());
            if (w0 == null || bias == 0) {
                out.put(e.getKey(), e.getValue());
                continue;
            }
            float[] v = e.getValue().toFloatArray(), v0 = w0.toFloatArray();
            for (int i = 0; i < v.length; i++) v[i] = bias >= 1 ? v0[i] : (float) ((v[i] - bias * v0[i]) / (1 - bias));
            out.put(e.getKey(), Tensor.of(v, e.getValue().shape()));
        }
        return out;
    }

    /**
     * Writes a sampling-only copy of the run in {@code runDir} to {@code outDir}: the EMA weights and the configs,
     * without the raw weights and the optimizer moments (a quarter of the size). {@link #load} reads it with
     * {@code emaWeights = true}; it cannot be resumed.
     */
    public static void exportEma(Path runDir, Path outDir) {
        Path file = runDir.resolve(CHECKPOINT);
        if (!Files.exists(file)) throw new IllegalArgumentException("no DiT at " + file + ": train one with tessella train-dit --out " + runDir);
        Checkpoint c = Checkpoint.load(file);
        Map<String, Tensor> ema = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : c.withPrefix(EMA_PREFIX).entrySet()) ema.put(EMA_PREFIX + e.getKey(), e.getValue());
        if (ema.isEmpty()) throw new IllegalArgumentException(file + " holds no EMA weights (" + EMA_PREFIX + "*)");
        Checkpoint.save(outDir.resolve(CHECKPOINT), ema, c.meta());
    }
}
