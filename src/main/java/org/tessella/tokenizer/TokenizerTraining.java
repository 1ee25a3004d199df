package org.tessella.tokenizer;

import org.tessella.autograd.Functional;
import org.tessella.autograd.Ops;
import org.tessella.autograd.Tape;
import org.tessella.backend.Backends;
import org.tessella.backend.FlopCounter;
import org.tessella.data.Batcher;
import org.tessella.data.Dataset;
import org.tessella.io.Checkpoint;
import org.tessella.io.Csv;
import org.tessella.io.Json;
import org.tessella.io.Png;
import org.tessella.io.TrainingLog;
import org.tessella.nn.Init;
import org.tessella.nn.Parameter;
import org.tessella.optim.AdamW;
import org.tessella.optim.GradClip;
import org.tessella.optim.LrSchedule;
import org.tessella.tensor.DType;
import org.tessella.tensor.Device;
import org.tessella.tensor.Tensor;
import org.tessella.tensor.Workspace;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * Stage-1 training of a {@link VqTokenizer} on 1x32x32 images in [-1, 1] (papers/crt.md).
 *
 * <p>Loss per step: {@code mse(reconstruction, images) + codebookLoss + commitment * commitLoss + lambda_t * crt},
 * where {@code crt} is the {@link CrtRegularizer}'s next-latent regression on the quantizer's normalised
 * pre-quantization latents ({@link VectorQuantizer.Output#latents()}; its gradient reaches the encoder directly, not
 * through the quantizer) and {@code lambda_t = CrtRegularizer.lambdaAt(crtWeight, step, crtRampSteps)} with the 1-based
 * number of the step being taken (so lambda is already positive at the first step). With {@code crtWeight = 0} the
 * regularizer is not built or run at all (the baseline).
 *
 * <p>The regularizer has its own AdamW (betas 0.9/0.95, weight decay 0.05 on matrices) with its own learning rate
 * {@code crtLr}, warmup and cosine decay over the same steps. It learns its own loss at full strength: after the joint
 * backward pass its gradients (which carry the factor lambda_t) are divided by lambda_t, then clipped separately. The
 * tokenizer's AdamW uses betas 0.9/0.95, global-norm clipping and warmup then cosine decay from {@code lr} to
 * {@code minLr}.
 *
 * <p>Codebook upkeep: every step's codes go to {@link VectorQuantizer#recordUsage} (with the 1-based step); every
 * {@code restartEvery} steps, codes unused for {@code deadAfter} steps are re-seeded from that step's normalised latents
 * by {@link VectorQuantizer#restartDeadCodes} keyed by (seed, step), so restarts are deterministic. With
 * {@code entropyWeight > 0} the loss also gets that times {@link VectorQuantizer#entropyLoss} (temperature 0.01), which
 * pushes each batch to spread over the codebook: the counterweight to a regularizer that rewards predictable latents.
 *
 * <p>Checkpoint ({@link #CHECKPOINT}, written atomically at every epoch end and at {@code stopAfter}): tokenizer weights
 * under their module names, tokenizer optimizer moments under {@code optim.}, regularizer weights and moments under
 * {@code crt.} (e.g. {@code crt.in_proj.weight}, {@code crt.optim.exp_avg.in_proj.weight}), the quantizer's per-code
 * last-used steps as {@code usage.last_used} (I32 [K]; they decide which codes are dead, so they must survive a
 * resume), and metadata: configs, step, batcher epoch/position, seconds and FLOPs so far. A resumed run therefore
 * takes the same batches, the same lambda, learning rates and restarts, and ends with the same bits as an uninterrupted
 * one. The usage window's counts are not saved: training never reads them (test-set usage is counted separately).
 * {@link VqTokenizer#load} reads only the tokenizer's weights and ignores the other prefixes.
 *
 * <p>{@code trainSeconds}, {@code imagesPerSecond} and {@code trainFlops} count training steps only: the test-set
 * evaluations at epoch ends are timed and counted apart and left out.
 *
 * <p>Metrics of this class: test MSE and PSNR, codebook usage and code entropy on the test set, the regularizer's
 * held-out loss. The stage-2 probe (bits per token of a small transformer trained on the tokens) is not computed here:
 * {@code eval.TokenProbe} runs it on the encoded token file ({@code tessella train-tokenizer} does so when it ends).
 */
public final class TokenizerTraining {
    private TokenizerTraining() {}

    public static final String CHECKPOINT = "checkpoint.safetensors";
    public static final String OPTIM_PREFIX = "optim.", CRT_PREFIX = "crt.", USAGE_PREFIX = "usage.", DISC_PREFIX = "disc.";
    public static final String LAST_USED = "usage.last_used";
    private static final long RESTART_SEED_SALT = 0x7E57A7C0DE5L;
    private static final int EVAL_BATCH = 200;
    /** LlamaGen's entropy-loss temperature on squared distances between unit vectors. */
    static final float ENTROPY_TEMPERATURE = 0.01f;

    public record Config(int epochs, int batch, float lr, float minLr, float weightDecay, double clip, int warmupSteps,
                         long seed, float crtWeight, long crtRampSteps, boolean crtDetach, float crtLr,
                         int restartEvery, int deadAfter, float entropyWeight, ExtraLosses extra, long stopAfter) {
        /**
         * CPU defaults: 5 epochs of 64 images, lr 1e-3 to 1e-4, no weight decay, clip 1, warmup 100, no CRT, no entropy
         * loss; dead codes (unused for 50 steps, i.e. 200k tokens at 64 tokens x 64 images) restarted every 20 steps, so
         * that restarts act in short runs too.
         */
        public static Config defaults() {
            return new Config(5, 64, 1e-3f, 1e-4f, 0f, 1.0, 100, 1, 0f, 1000, false, 1e-3f, 20, 50, 0f, ExtraLosses.NONE, 0);
        }

        public Config withExtra(ExtraLosses e) {
            return new Config(epochs, batch, lr, minLr, weightDecay, clip, warmupSteps, seed, crtWeight, crtRampSteps, crtDetach, crtLr,
                    restartEvery, deadAfter, entropyWeight, e, stopAfter);
        }

        public Config withCrt(float weight, boolean detach) {
            return new Config(epochs, batch, lr, minLr, weightDecay, clip, warmupSteps, seed, weight, crtRampSteps, detach, crtLr,
                    restartEvery, deadAfter, entropyWeight, extra, stopAfter);
        }

        public Config withStopAfter(long step) {
            return new Config(epochs, batch, lr, minLr, weightDecay, clip, warmupSteps, seed, crtWeight, crtRampSteps, crtDetach, crtLr,
                    restartEvery, deadAfter, entropyWeight, extra, step);
        }

        public Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("epochs", epochs);
            m.put("batch", batch);
            m.put("lr", lr);
            m.put("min_lr", minLr);
            m.put("weight_decay", weightDecay);
            m.put("clip", clip);
            m.put("warmup_steps", warmupSteps);
            m.put("seed", seed);
            m.put("crt_weight", crtWeight);
            m.put("crt_ramp_steps", crtRampSteps);
            m.put("crt_detach", crtDetach);
            m.put("crt_lr", crtLr);
            m.put("restart_every", restartEvery);
            m.put("dead_after", deadAfter);
            m.put("entropy_weight", entropyWeight);
            m.put("l1_weight", extra.l1());
            m.put("perceptual_weight", extra.perceptual());
            m.put("adversarial_weight", extra.adversarial());
            m.put("adversarial_start", extra.adversarialStart());
            return m;
        }

        public static Config fromJson(Json.Obj o, long stopAfter) {
            return new Config(o.integer("epochs"), o.integer("batch"), (float) o.number("lr"), (float) o.number("min_lr"),
                    (float) o.number("weight_decay"), o.number("clip"), o.integer("warmup_steps"), o.longValue("seed"),
                    (float) o.number("crt_weight"), o.longValue("crt_ramp_steps"), o.bool("crt_detach", false),
                    (float) o.number("crt_lr"), o.integer("restart_every"), o.integer("dead_after"),
                    o.has("entropy_weight") ? (float) o.number("entropy_weight") : 0f,
                    new ExtraLosses(o.has("l1_weight") ? (float) o.number("l1_weight") : 0f,
                            o.has("perceptual_weight") ? (float) o.number("perceptual_weight") : 0f,
                            o.has("adversarial_weight") ? (float) o.number("adversarial_weight") : 0f,
                            o.has("adversarial_start") ? o.longValue("adversarial_start") : 0L), stopAfter);
        }
    }

    /**
     * Optional reconstruction terms beyond MSE (all off by default: on this CPU budget they cost PSNR or time; see the
     * README): {@code l1} x mean |recon - image|; {@code perceptual} x the MSE between the Fashion-MNIST classifier's
     * penultimate features of the reconstruction and of the image (the classifier frozen, passed to {@link #train});
     * {@code adversarial} x the hinge generator loss of a {@link PatchDiscriminator}, from step
     * {@code adversarialStart} on, the discriminator then trained on each batch (real images vs detached
     * reconstructions) by its own AdamW with the tokenizer's learning rate.
     */
    public record ExtraLosses(float l1, float perceptual, float adversarial, long adversarialStart) {
        public static final ExtraLosses NONE = new ExtraLosses(0f, 0f, 0f, 0L);

        public ExtraLosses {
            if (!(l1 >= 0) || !(perceptual >= 0) || !(adversarial >= 0) || Float.isInfinite(l1 + perceptual + adversarial))
                throw new IllegalArgumentException("loss weights must be finite and >= 0: l1 " + l1 + ", perceptual " + perceptual
                        + ", adversarial " + adversarial);
            if (adversarialStart < 0) throw new IllegalArgumentException("the adversarial start step must be >= 0, got " + adversarialStart);
        }
    }

    /**
     * Test-set evaluation. PSNR is {@code 10 log10(2^2 / mse)} (peak-to-peak 2 on [-1, 1] images) of the mean squared
     * error over all test pixels; usage is the fraction of codes picked at least once on the test set; entropy is that
     * of the test set's code histogram in bits; crtLoss the regularizer's mean loss on the test latents (NaN without a
     * regularizer). {@code positionEntropyBits} is the code entropy given the position, H(code | position): the mean
     * over the N positions of the entropy of that position's histogram. {@code entropyBits - positionEntropyBits} is
     * how much the codes say about where they are rather than what is there; a tokenizer whose codes encode position
     * would look easy to a stage-2 model (which knows the position) without its tokens carrying simpler content.
     */
    public record Eval(double mse, double psnrDb, double codebookUsage, double entropyBits, double positionEntropyBits,
                       double crtLoss, long[] counts) {}

    public record Result(long steps, double trainSeconds, double imagesPerSecond, long trainFlops, Eval test,
                         double finalTrainLoss, int codesRestarted, boolean finished) {}

    /** 10 log10(4 / mse): PSNR of images in [-1, 1]. */
    public static double psnr(double mse) { return 10 * Math.log10(4.0 / mse); }

    /** The regularizer built for a run of this config (null for the baseline), seeded apart from the tokenizer. */
    public static CrtRegularizer regularizer(VqConfig vc, Config cfg) {
        return cfg.crtWeight() > 0 ? new CrtRegularizer(vc.codeDim(), new Init(cfg.seed() ^ 0xC47C47L)) : null;
    }

    static void checkImages(Dataset d, String what) {
        if (d.channels() != 1 || d.height() != VqConfig.IMAGE_SIZE || d.width() != VqConfig.IMAGE_SIZE)
            throw new IllegalArgumentException("the tokenizer wants 1x32x32 " + what + " images, got " + d.channels() + "x"
                    + d.height() + "x" + d.width());
        if (d.size() == 0) throw new IllegalArgumentException("no " + what + " images");
    }

    /**
     * Trains {@code model} (freshly initialised, or to be overwritten from the checkpoint when {@code resume}) and writes
     * the checkpoint and loss.csv into {@code out} (which must exist). Returns at {@code cfg.stopAfter()} when that comes
     * before the end, with {@code finished} false.
     */
    public static Result train(VqTokenizer model, Dataset train, Dataset test, Config cfg, Path out, boolean resume,
                               TrainingLog log) {
        return train(model, train, test, cfg, out, resume, log, null);
    }

    /**
     * {@link #train(VqTokenizer, Dataset, Dataset, Config, Path, boolean, TrainingLog)} with the feature extractor of
     * the perceptual loss ({@code images [B,1,32,32] -> features [B, F]}, its weights frozen), required when
     * {@code cfg.extra().perceptual() > 0}.
     */
    public static Result train(VqTokenizer model, Dataset train, Dataset test, Config cfg, Path out, boolean resume,
                               TrainingLog log, UnaryOperator<Tensor> perceptualFeatures) {
        if (cfg.extra().perceptual() > 0 && perceptualFeatures == null)
            throw new IllegalArgumentException("the perceptual loss needs the Fashion-MNIST classifier's features: pass --classifier DIR");
        checkImages(train, "training");
        checkImages(test, "test");
        int b = cfg.batch();
        int stepsPerEpoch = train.size() / b;
        if (stepsPerEpoch == 0)
            throw new IllegalArgumentException("batch " + b + " is larger than the " + train.size() + " training images");
        long total = (long) stepsPerEpoch * cfg.epochs();
        Device device = model.device(); // the regularizer and the discriminator train where the tokenizer does
        CrtRegularizer crt = regularizer(model.config, cfg);
        if (crt != null) crt.to(device);
        List<Parameter> params = model.parameters();
        AdamW opt = new AdamW(params, cfg.lr(), 0.9f, 0.95f, 1e-8f, cfg.weightDecay());
        LrSchedule schedule = LrSchedule.warmupCosine(cfg.lr(), cfg.minLr(), cfg.warmupSteps(), total);
        List<Parameter> crtParams = crt == null ? List.of() : crt.parameters();
        AdamW crtOpt = crt == null ? null : new AdamW(crtParams, cfg.crtLr(), 0.9f, 0.95f, 1e-8f, 0.05f);
        PatchDiscriminator disc = cfg.extra().adversarial() > 0 ? new PatchDiscriminator(new Init(cfg.seed() ^ 0xD15CL)) : null;
        if (disc != null) disc.to(device);
        List<Parameter> discParams = disc == null ? List.of() : disc.parameters();
        AdamW discOpt = disc == null ? null : new AdamW(discParams, cfg.lr(), 0.5f, 0.9f, 1e-8f, 0f);
        LrSchedule crtSchedule = LrSchedule.warmupCosine(cfg.crtLr(), cfg.crtLr() * 0.1f, cfg.warmupSteps(), total);
        model.quantizer.setDeadAfterSteps(cfg.deadAfter());
        Batcher batcher = new Batcher(train.size(), b, cfg.seed(), true);
        List<List<Object>> curve = new ArrayList<>();
        long step = 0;
        double priorSeconds = 0;
        long priorFlops = 0;
        int restarted = 0;
        Path ckpt = out.resolve(CHECKPOINT);
        if (resume) {
            Checkpoint c = Checkpoint.load(ckpt);
            try {
                model.loadStateDict(c.without(OPTIM_PREFIX, CRT_PREFIX, USAGE_PREFIX, DISC_PREFIX));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(ckpt + ": " + e.getMessage(), e);
            }
            step = c.step();
            opt.loadStateDict(c.tensors(), step);
            if (crt != null) {
                Map<String, Tensor> cs = c.withPrefix(CRT_PREFIX);
                crt.loadStateDict(cs, OPTIM_PREFIX);
                crtOpt.loadStateDict(cs, step);
            }
            if (disc != null) {
                Map<String, Tensor> ds = c.withPrefix(DISC_PREFIX);
                disc.loadStateDict(ds, OPTIM_PREFIX);
                // it has stepped only after adversarialStart: its own count sets AdamW's bias correction
                discOpt.loadStateDict(ds, Math.max(0, step - cfg.extra().adversarialStart()));
            }
            restoreLastUsed(model.quantizer, c.tensor(LAST_USED));
            Json.Obj rng = c.rng();
            batcher.seek(rng.longValue("epoch"), rng.integer("position"));
            priorSeconds = rng.number("train_seconds", 0);
            priorFlops = rng.longValue("train_flops", 0);
            restarted = rng.integer("codes_restarted", 0);
            for (List<String> row : Csv.readBody(out.resolve("loss.csv")))
                if (Long.parseLong(row.get(0)) <= step) curve.add(new ArrayList<>(row));
            if (log != null) log.message("resumed from " + ckpt + " at step " + step + "/" + total);
        }
        Tensor hostX = Tensor.persistent(DType.F32, b, 1, VqConfig.IMAGE_SIZE, VqConfig.IMAGE_SIZE);
        Tensor y = Tensor.persistent(DType.I32, b);
        Workspace ws = new Workspace();
        long flops0 = FlopCounter.total(), t0 = System.nanoTime(), startStep = step;
        Eval eval = null;
        double lastLoss = Double.NaN;
        long evalNanos = 0, evalFlops = 0;
        model.train(true);
        if (crt != null) crt.train(true);
        while (step < total) {
            batcher.next(train, hostX, y);
            long now = step + 1;
            float lr = schedule.at(step);
            opt.setLearningRate(lr);
            if (crtOpt != null) crtOpt.setLearningRate(crtSchedule.at(step));
            float lambda = crt == null ? 0f : CrtRegularizer.lambdaAt(cfg.crtWeight(), now, cfg.crtRampSteps());
            long f0 = FlopCounter.total();
            double loss, rec, crtValue = Double.NaN, gnorm;
            try (Workspace w = ws.open()) {
                Tensor x = Ops.to(hostX, device); // the batch, uploaded once for the step
                VqTokenizer.Output o = model.forward(x);
                Tensor total0 = o.loss();
                if (cfg.entropyWeight() > 0)
                    total0 = Ops.add(total0, Ops.mulScalar(model.quantizer.entropyLoss(o.quant().latents(), ENTROPY_TEMPERATURE), cfg.entropyWeight()));
                if (crt != null) {
                    Tensor cl = crt.loss(o.quant().latents(), cfg.crtDetach());
                    crtValue = cl.item();
                    total0 = Ops.add(total0, Ops.mulScalar(cl, lambda));
                }
                ExtraLosses ex = cfg.extra();
                Tensor recon = o.reconstruction();
                if (ex.l1() > 0) total0 = Ops.add(total0, Ops.mulScalar(Ops.mean(Ops.abs(Ops.sub(recon, x))), ex.l1()));
                if (ex.perceptual() > 0) {
                    Tensor target;
                    try (var ignored = Tape.noGrad()) { target = perceptualFeatures.apply(x); }
                    total0 = Ops.add(total0, Ops.mulScalar(Functional.mse(perceptualFeatures.apply(recon), target), ex.perceptual()));
                }
                boolean adversarial = disc != null && now > ex.adversarialStart();
                if (adversarial) total0 = Ops.add(total0, Ops.mulScalar(PatchDiscriminator.generatorLoss(disc.forward(recon)), ex.adversarial()));
                loss = total0.item();
                rec = o.reconstructionLoss().item();
                if (!Double.isFinite(loss))
                    throw new IllegalStateException("loss became " + loss + " at step " + now + "; lower --lr; the last good checkpoint is "
                            + (Files.exists(ckpt) ? ckpt : "not written yet"));
                opt.zeroGrad();
                if (crtOpt != null) crtOpt.zeroGrad();
                Tape.backward(total0);
                gnorm = GradClip.clip(params, cfg.clip());
                if (crt != null) {
                    if (lambda > 0 && lambda != 1f) {
                        for (Parameter p : crtParams) {
                            Tensor g = p.tensor().grad();
                            if (g != null) Backends.of(g.device()).affine(g, 1f / lambda, 0f, g);
                        }
                    }
                    GradClip.clip(crtParams, cfg.clip());
                    crtOpt.step();
                }
                opt.step();
                if (adversarial) { // the generator's pass left gradients in the discriminator: start it from zero
                    discOpt.zeroGrad();
                    Tape.backward(PatchDiscriminator.hingeLoss(disc.forward(x), disc.forward(Ops.detach(recon))));
                    GradClip.clip(discParams, cfg.clip());
                    discOpt.step();
                }
                model.quantizer.recordUsage(o.quant().indices(), now);
                if (cfg.restartEvery() > 0 && now % cfg.restartEvery() == 0)
                    restarted += model.quantizer.restartDeadCodes(o.quant().latents(), cfg.seed() ^ RESTART_SEED_SALT, now);
            }
            step = now;
            lastLoss = loss;
            if (log != null) log.step(step, loss, gnorm, lr, b, FlopCounter.total() - f0);
            boolean epochEnd = step % stepsPerEpoch == 0;
            List<Object> row = new ArrayList<>(List.of(step, step / (double) stepsPerEpoch, loss, rec,
                    crt == null ? "" : (Object) crtValue, lambda, lr, gnorm, restarted, "", ""));
            if (epochEnd || step == total) {
                long e0 = System.nanoTime(), ef0 = FlopCounter.total();
                eval = evaluate(model, crt, test, ws);
                evalNanos += System.nanoTime() - e0;
                evalFlops += FlopCounter.total() - ef0;
                row.set(9, eval.mse());
                row.set(10, eval.psnrDb());
                if (log != null) log.message(String.format(Locale.ROOT, "epoch %d: test mse %.5f, psnr %.2f dB, usage %.3f, entropy %.2f bits%s",
                        step / stepsPerEpoch, eval.mse(), eval.psnrDb(), eval.codebookUsage(), eval.entropyBits(),
                        crt == null ? "" : String.format(Locale.ROOT, ", crt %.5f", eval.crtLoss())));
            }
            curve.add(row);
            boolean stop = cfg.stopAfter() > 0 && step >= cfg.stopAfter();
            if (epochEnd || step == total || stop) {
                double secs = priorSeconds + (System.nanoTime() - t0 - evalNanos) / 1e9;
                long flops = priorFlops + FlopCounter.total() - flops0 - evalFlops;
                save(ckpt, model, opt, crt, crtOpt, disc, discOpt, cfg, batcher, step, secs, flops, restarted, train.size());
                Csv.write(out.resolve("loss.csv"), List.of("step", "epoch", "train_loss", "train_mse", "crt_loss", "crt_lambda", "lr",
                        "grad_norm", "codes_restarted", "test_mse", "test_psnr_db"), curve);
            }
            if (stop && step < total) {
                if (log != null) log.message("stopped after step " + step + " as asked; continue with --resume " + out);
                return new Result(step, priorSeconds + (System.nanoTime() - t0 - evalNanos) / 1e9, 0,
                        priorFlops + FlopCounter.total() - flops0 - evalFlops, eval, lastLoss, restarted, false);
            }
        }
        double secs = priorSeconds + (System.nanoTime() - t0 - evalNanos) / 1e9;
        long flops = priorFlops + FlopCounter.total() - flops0 - evalFlops;
        double ips = (step - startStep) * (double) b / Math.max(1e-9, (System.nanoTime() - t0 - evalNanos) / 1e9);
        if (eval == null) eval = evaluate(model, crt, test, ws);
        model.eval();
        return new Result(step, secs, ips, flops, eval, lastLoss, restarted, true);
    }

    /** Test-set metrics without recording gradients (see {@link Eval}); {@code crt} may be null. */
    public static Eval evaluate(VqTokenizer model, CrtRegularizer crt, Dataset data, Workspace ws) {
        boolean wasTraining = model.training();
        model.eval();
        if (crt != null) crt.eval();
        int k = model.config.codebookSize(), img = data.imageSize();
        long[] counts = new long[k];
        int positions = model.tokens();
        long[][] byPosition = new long[positions][k];
        double sqSum = 0, crtSum = 0;
        try (var ignored = Tape.noGrad()) {
            for (int s = 0; s < data.size(); s += EVAL_BATCH) {
                int bs = Math.min(EVAL_BATCH, data.size() - s);
                try (Workspace w = ws.open()) {
                    Tensor images = Tensor.of(Arrays.copyOfRange(data.images(), s * img, (s + bs) * img), bs, 1, VqConfig.IMAGE_SIZE, VqConfig.IMAGE_SIZE);
                    VqTokenizer.Output o = model.forward(images);
                    sqSum += o.reconstructionLoss().item() * (double) bs;
                    int[] codes = o.quant().indices().toIntArray();
                    for (int i = 0; i < codes.length; i++) {
                        counts[codes[i]]++;
                        byPosition[i % positions][codes[i]]++;
                    }
                    if (crt != null) crtSum += crt.loss(o.quant().latents()).item() * (double) bs;
                }
            }
        }
        model.train(wasTraining);
        if (crt != null) crt.train(wasTraining);
        int used = 0;
        for (long c : counts) if (c > 0) used++;
        double mse = sqSum / data.size(), positionEntropy = 0;
        for (long[] h : byPosition) positionEntropy += VectorQuantizer.entropyBits(h) / positions;
        return new Eval(mse, psnr(mse), (double) used / k, VectorQuantizer.entropyBits(counts), positionEntropy,
                crt == null ? Double.NaN : crtSum / data.size(), counts);
    }


    /**
     * Code indices of every image of {@code data} (1x32x32 in [-1, 1]), row-major [n, tokensPerImage], in batches
     * without recording gradients.
     */
    public static int[] encodeTokens(VqTokenizer model, Dataset data) {
        checkImages(data, "input");
        int n = model.tokens(), img = data.imageSize();
        int[] tokens = new int[data.size() * n];
        Workspace ws = new Workspace();
        boolean wasTraining = model.training();
        model.eval();
        for (int s = 0; s < data.size(); s += EVAL_BATCH) {
            int bs = Math.min(EVAL_BATCH, data.size() - s);
            try (Workspace w = ws.open()) {
                Tensor images = Tensor.of(Arrays.copyOfRange(data.images(), s * img, (s + bs) * img), bs, 1, VqConfig.IMAGE_SIZE, VqConfig.IMAGE_SIZE);
                int[] idx = model.encodeIndices(images).toIntArray();
                System.arraycopy(idx, 0, tokens, s * n, bs * n);
            }
        }
        model.train(wasTraining);
        return tokens;
    }

    /**
     * Writes a grid PNG of the first {@code count} images (at most 8 per row) with their reconstructions: each row of
     * originals is followed by the row of their reconstructions. The grid is {@code cols = min(8, n)} images wide and
     * {@code 2 * ceil(n / cols)} high, 32x32 cells with 2-pixel white gaps. Returns the mean squared error of those
     * reconstructions (on [-1, 1] images).
     */
    public static double writeReconstructions(Path file, VqTokenizer model, Dataset data, int count) {
        checkImages(data, "input");
        if (count < 1) throw new IllegalArgumentException("reconstructions: count must be at least 1, got " + count);
        int n = Math.min(count, data.size()), cols = Math.min(8, n), img = data.imageSize();
        int rows = (n + cols - 1) / cols;
        float[] recon;
        boolean wasTraining = model.training();
        model.eval();
        try (var ignored = Tape.noGrad(); Workspace w = new Workspace().open()) {
            Tensor images = Tensor.of(Arrays.copyOf(data.images(), n * img), n, 1, VqConfig.IMAGE_SIZE, VqConfig.IMAGE_SIZE);
            recon = model.forward(images).reconstruction().toFloatArray();
        }
        model.train(wasTraining);
        double sq = 0;
        for (int i = 0; i < n * img; i++) {
            double d = recon[i] - data.images()[i];
            sq += d * d;
        }
        float[] grid = new float[2 * rows * cols * img];
        Arrays.fill(grid, 1f);
        for (int i = 0; i < n; i++) {
            int r = i / cols, c = i % cols;
            System.arraycopy(data.images(), i * img, grid, ((2 * r) * cols + c) * img, img);
            System.arraycopy(recon, i * img, grid, ((2 * r + 1) * cols + c) * img, img);
        }
        Png.writeGrid(file, grid, 2 * rows * cols, VqConfig.IMAGE_SIZE, VqConfig.IMAGE_SIZE, 2 * rows, cols, 2, Png.Range.MINUS_ONE_ONE);
        return sq / ((double) n * img);
    }

    static void save(Path file, VqTokenizer model, AdamW opt, CrtRegularizer crt, AdamW crtOpt, PatchDiscriminator disc, AdamW discOpt,
                     Config cfg, Batcher batcher, long step, double secs, long flops, int restarted, int trainImages) {
        Map<String, Tensor> t = new LinkedHashMap<>(model.stateDict());
        t.putAll(opt.stateDict());
        if (crt != null) {
            for (Map.Entry<String, Tensor> e : crt.stateDict().entrySet()) t.put(CRT_PREFIX + e.getKey(), e.getValue());
            for (Map.Entry<String, Tensor> e : crtOpt.stateDict().entrySet()) t.put(CRT_PREFIX + e.getKey(), e.getValue());
        }
        if (disc != null) {
            for (Map.Entry<String, Tensor> e : disc.stateDict().entrySet()) t.put(DISC_PREFIX + e.getKey(), e.getValue());
            for (Map.Entry<String, Tensor> e : discOpt.stateDict().entrySet()) t.put(DISC_PREFIX + e.getKey(), e.getValue());
        }
        int k = model.config.codebookSize();
        int[] last = new int[k];
        for (int i = 0; i < k; i++) last[i] = Math.toIntExact(model.quantizer.lastUsedStep(i));
        t.put(LAST_USED, Tensor.ofInts(last, k));
        Map<String, Object> config = new LinkedHashMap<>();
        config.put("tokenizer", model.config.toJson());
        config.put("train", cfg.toJson());
        config.put("train_images", trainImages);
        Map<String, Object> rng = Checkpoint.progress(batcher.epoch(), batcher.position(), secs, flops);
        rng.put("codes_restarted", restarted);
        Checkpoint.save(file, t, Checkpoint.meta(config, step, rng));
    }

    /** Sets each code's last-used step from a saved I32 [K] tensor (the usage window is left empty). */
    static void restoreLastUsed(VectorQuantizer q, Tensor lastUsed) {
        int[] last = lastUsed.toIntArray();
        if (last.length != q.codebookSize)
            throw new IllegalArgumentException("checkpoint's " + LAST_USED + " has " + last.length + " codes, the quantizer " + q.codebookSize);
        for (int k = 0; k < last.length; k++)
            if (last[k] > q.lastUsedStep(k)) q.recordUsage(Tensor.ofInts(new int[]{k}, 1), last[k]);
        q.resetUsageWindow();
    }


    /** The configs stored in a run directory's checkpoint ({@code tokenizer}, {@code train}, {@code train_images}). */
    public static Json.Obj storedConfig(Path dir) {
        return Checkpoint.load(dir.resolve(CHECKPOINT)).config();
    }
}
