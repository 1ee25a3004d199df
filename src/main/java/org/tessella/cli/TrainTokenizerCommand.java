package org.tessella.cli;

import org.tessella.ar.TokenFile;
import org.tessella.cpu.WorkerPool;
import org.tessella.data.Dataset;
import org.tessella.data.FashionMnist;
import org.tessella.eval.FashionClassifier;
import org.tessella.eval.TokenProbe;
import org.tessella.io.Json;
import org.tessella.io.TrainingLog;
import org.tessella.nn.Init;
import org.tessella.tensor.Device;
import org.tessella.tokenizer.TokenizerTraining;
import org.tessella.tokenizer.VqConfig;
import org.tessella.tokenizer.VqTokenizer;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/** {@code tessella train-tokenizer}: stage 1, the VQ tokenizer, with or without the CRT regularizer. */
final class TrainTokenizerCommand implements Command {
    @Override public String name() { return "train-tokenizer"; }

    @Override public String summary() { return "train the stage-1 VQ tokenizer (optionally with the CRT regularizer)"; }

    @Override public String help() {
        return """
                usage: tessella train-tokenizer --out DIR [options]
                       tessella train-tokenizer --resume DIR [--stop-after N]
                  Trains a VQ tokenizer on Fashion-MNIST: reconstruction MSE + codebook + commitment losses, plus
                  lambda x the CRT causal regularizer's loss when --crt-weight > 0 (lambda ramps up over 1000 steps).
                  Writes DIR/checkpoint.safetensors (atomically, every epoch), DIR/tokenizer.safetensors (weights and
                  config, read by tessella encode), DIR/loss.csv, DIR/train.log, DIR/reconstructions.png (test
                  images, each row followed by their reconstructions), DIR/tokens.safetensors (the training images
                  it trained on and the test images as tokens, for train-ar --tokens), DIR/probe.log and
                  DIR/metrics.json: test PSNR/MSE, codebook usage, code entropy, CRT loss, seconds, images/s, FLOPs,
                  and probe_bits_per_token: the test bits per token of a fixed stage-2 probe (gpt-xs, seed 1,
                  --probe-steps steps) trained on the tokens. It says whether the tokens got easier to model: compare
                  baseline and CRT runs of equal token count and codebook (tessella probe runs it alone).
                options:
                  --out DIR            output directory (required unless --resume)
                  --model NAME         vq-s (64 tokens, default) or vq-s16 (16 tokens)
                  --codebook K         codebook size (default 1024)
                  --tokens N           tokens per image: 64 or 16 (one stride-2 stage fewer or more), 256, 4, 1
                  --code-dim D         code dimension (default 8)
                  --width C            channels of the first stage (default 64; a multiple of the 32 GroupNorm groups)
                  --config FILE        the model as JSON instead of --model: {"channels": 64, "tokens_per_image": 64,
                                       "codebook_size": 1024, "code_dim": 8, "groups": 32, "commitment": 0.25}
                  --crt-weight L       CRT regularizer weight lambda (default 0: baseline, regularizer not run)
                  --crt-detach         detach the regularizer's target latents
                  --crt-ramp N         steps over which the CRT weight ramps up from 0 (default: 1000, or a fifth
                                       of the run when that is shorter)
                  --entropy-weight W   weight of the quantizer's entropy loss (default 0), which spreads each
                                       batch over the codebook: a counterweight to CRT's pull toward few codes
                  --l1-weight W        add W x mean |reconstruction - image| (default 0)
                  --perceptual-weight W  add W x the MSE of the classifier's features of reconstruction and image
                                       (default 0; needs --classifier DIR, also when resuming)
                  --classifier DIR     the Fashion-MNIST classifier for the perceptual loss
                  --adversarial-weight W  add W x a PatchGAN discriminator's hinge generator loss (default 0); the
                                       discriminator trains on every batch from --adversarial-start on
                  --adversarial-start N  first step of the adversarial term (default 0)
                  --epochs N           epochs (default 5)
                  --batch N            images per step (default 64)
                  --lr X               peak learning rate (default 1e-3), warmup 100 steps then cosine to lr/10
                  --seed S             seed for initialisation, data order and code restarts (default 1)
                  --limit N            train on the first N training images only
                  --data DIR           directory with the Fashion-MNIST IDX files
                                       (default /usr/share/datasets/fashion-mnist, Debian package dataset-fashion-mnist)
                  --probe-steps N      steps of the stage-2 probe (default %d; 0 = no probe)
                  --probe-model NAME   the probe's model: gpt-xs (default), gpt-s or gpt-m
                  --resume DIR         continue the run in DIR from its checkpoint, to the same bits
                  --stop-after N       stop (with a checkpoint) after step N, as an interrupted run would
                  --threads N          worker threads
                  --device D           cpu (default) or cuda[:N]: train (and encode) on that device; checkpoints do
                                       not depend on it. The probe trains on the CPU.""".formatted(TokenProbe.DEFAULT_STEPS);
    }

    @Override public int run(String[] argv) throws Exception {
        Args a = Args.parse(name(), argv, Set.of("out", "model", "codebook", "crt-weight", "epochs", "batch", "lr", "seed", "limit",
                "data", "resume", "stop-after", "probe-steps", "probe-model", "crt-ramp", "entropy-weight", "threads",
                "l1-weight", "perceptual-weight", "adversarial-weight", "adversarial-start", "classifier", "config", "width", "tokens", "code-dim",
                "device"), Set.of("crt-detach"));
        Main.configureThreads(a);
        Device device = Main.device(a);
        TokenProbe.Options probe = ProbeCommand.options(a, TokenProbe.Options.defaults(), "probe-steps", "probe-model");
        boolean resume = a.has("resume");
        Path out = resume ? a.requiredPath(name(), "resume") : a.requiredPath(name(), "out");
        VqConfig vc;
        TokenizerTraining.Config cfg;
        int limit;
        if (resume) {
            if (!Files.exists(out.resolve(TokenizerTraining.CHECKPOINT)))
                throw new UsageException("no run to resume: " + out.resolve(TokenizerTraining.CHECKPOINT) + " does not exist");
            Json.Obj stored = TokenizerTraining.storedConfig(out);
            vc = VqConfig.fromJson(stored.object("tokenizer"));
            cfg = TokenizerTraining.Config.fromJson(stored.object("train"), a.longValue("stop-after", 0));
            limit = stored.integer("train_images", FashionMnist.Split.TRAIN.count());
        } else {
            try {
                vc = modelConfig(a);
            } catch (IllegalArgumentException e) {
                throw new UsageException(e.getMessage());
            }
            TokenizerTraining.Config d = TokenizerTraining.Config.defaults();
            float lr = a.number("lr", d.lr());
            float crtWeight = a.number("crt-weight", 0f);
            if (!(crtWeight >= 0) || Float.isInfinite(crtWeight)) throw new UsageException("--crt-weight must be finite and >= 0");
            float entropyWeight = a.number("entropy-weight", d.entropyWeight());
            if (!(entropyWeight >= 0) || Float.isInfinite(entropyWeight)) throw new UsageException("--entropy-weight must be finite and >= 0");
            int epochs = a.integer("epochs", d.epochs()), batch = a.integer("batch", d.batch());
            if (epochs < 1 || batch < 1) throw new UsageException("--epochs and --batch must be at least 1");
            limit = a.integer("limit", FashionMnist.Split.TRAIN.count());
            if (limit < 1) throw new UsageException("--limit must be at least 1");
            // the ramp is capped at a fifth of the run (like the warmup), so short runs reach the full weight
            long steps = (long) Math.min(limit, FashionMnist.Split.TRAIN.count()) / batch * epochs;
            long ramp = a.longValue("crt-ramp", Math.min(d.crtRampSteps(), Math.max(1, steps / 5)));
            if (ramp < 0) throw new UsageException("--crt-ramp must be >= 0");
            cfg = new TokenizerTraining.Config(epochs, batch, lr, lr * 0.1f, d.weightDecay(), d.clip(), d.warmupSteps(),
                    a.longValue("seed", d.seed()), crtWeight, ramp, a.flag("crt-detach"), d.crtLr(), d.restartEvery(), d.deadAfter(), entropyWeight,
                    extraLosses(a), a.longValue("stop-after", 0));
            if (Files.exists(out.resolve(TokenizerTraining.CHECKPOINT)))
                throw new UsageException(out + " already holds a run; continue it with --resume " + out + " or choose another --out");
        }
        Dataset train = FashionMnist.load(a.path("data"), FashionMnist.Split.TRAIN, limit);
        Dataset test = FashionMnist.load(a.path("data"), FashionMnist.Split.TEST);
        Files.createDirectories(out);
        VqTokenizer model = new VqTokenizer(vc, new Init(cfg.seed())); // built on the CPU: the same weights on every device
        model.to(device);
        long steps = (long) (train.size() / cfg.batch()) * cfg.epochs();
        System.out.printf("train-tokenizer: %s (%d tokens, codebook %d), %,d parameters, crt weight %s, %d train / %d test images, %d steps, %s%n",
                vc.name(), vc.tokensPerImage(), vc.codebookSize(), model.parameterCount(), cfg.crtWeight(), train.size(), test.size(), steps,
                Main.where(device));
        TokenizerTraining.Result r;
        try (TrainingLog log = new TrainingLog("tokenizer", "img", steps, out.resolve("train.log"))) {
            r = TokenizerTraining.train(model, train, test, cfg, out, resume, log, perceptualFeatures(a, cfg, device));
        }
        if (!r.finished()) return 0;
        model.save(out, r.steps());
        TokenizerTraining.writeReconstructions(out.resolve("reconstructions.png"), model, test, 16);
        Map<String, Object> m = metrics(model, cfg, r, train.size());
        System.out.printf(Locale.ROOT, "test psnr %.2f dB (mse %.5f), codebook usage %.3f, entropy %.2f bits, %.0f images/s, %.1f s%n",
                r.test().psnrDb(), r.test().mse(), r.test().codebookUsage(), r.test().entropyBits(), r.imagesPerSecond(), r.trainSeconds());
        TrainClassifierCommand.writeJson(out.resolve("metrics.json"), m); // written again with the probe's numbers
        m.putAll(tokensAndProbe(model, train, test, out, probe));
        TrainClassifierCommand.writeJson(out.resolve("metrics.json"), m);
        System.out.println("wrote " + out.resolve("metrics.json"));
        return 0;
    }

    /** The preset (or --config JSON) with --codebook, --code-dim, --width and --tokens applied on top. */
    static VqConfig modelConfig(Args a) throws java.io.IOException {
        VqConfig base;
        if (a.has("config")) {
            Path f = a.requiredPath("train-tokenizer", "config");
            if (!Files.isRegularFile(f)) throw new UsageException("--config " + f + " is not a file");
            base = VqConfig.fromJson(Json.parseObject(Files.readString(f), f.toString()));
        } else {
            base = VqConfig.preset(a.string("model", "vq-s"));
        }
        return new VqConfig(base.name(), a.integer("width", base.channels()), a.integer("tokens", base.tokensPerImage()),
                a.integer("codebook", base.codebookSize()), a.integer("code-dim", base.codeDim()), base.groups(), base.commitment());
    }

    static TokenizerTraining.ExtraLosses extraLosses(Args a) {
        try {
            return new TokenizerTraining.ExtraLosses(a.number("l1-weight", 0f), a.number("perceptual-weight", 0f),
                    a.number("adversarial-weight", 0f), a.longValue("adversarial-start", 0));
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage());
        }
    }

    /** The frozen classifier's penultimate features when the run has a perceptual term, else null. */
    static java.util.function.UnaryOperator<org.tessella.tensor.Tensor> perceptualFeatures(Args a, TokenizerTraining.Config cfg, Device device) {
        if (cfg.extra().perceptual() <= 0) return null;
        if (!a.has("classifier"))
            throw new UsageException("--perceptual-weight needs the Fashion-MNIST classifier: pass --classifier DIR (tessella train-classifier makes one)");
        FashionClassifier c = FashionClassifier.load(a.requiredPath("train-tokenizer", "classifier"));
        for (org.tessella.nn.Parameter p : c.parameters()) p.tensor().requiresGrad(false);
        c.eval();
        c.to(device); // beside the tokenizer: its features of the reconstructions stay on the device
        return c::features;
    }

    /** Token file name in a tokenizer run directory. */
    static final String TOKENS = "tokens.safetensors";

    /**
     * Encodes both sets into {@code out/tokens.safetensors}, then runs the probe (unless {@code probe} is null) on
     * them; returns the metrics.json entries (encode seconds and, with a probe, the probe_* keys).
     */
    static Map<String, Object> tokensAndProbe(VqTokenizer model, Dataset train, Dataset test, Path out, TokenProbe.Options probe) {
        Map<String, Object> m = new LinkedHashMap<>();
        long t0 = System.nanoTime();
        TokenFile tokens = EncodeCommand.tokenFile(model, train, test, out);
        tokens.write(out.resolve(TOKENS));
        double encodeSecs = (System.nanoTime() - t0) / 1e9;
        m.put("encode_seconds", encodeSecs);
        System.out.printf(Locale.ROOT, "encoded %d train / %d test images in %.1f s; wrote %s%n", train.size(), test.size(), encodeSecs,
                out.resolve(TOKENS));
        if (probe == null) return m;
        TokenProbe.Result p;
        try (TrainingLog log = new TrainingLog("probe", "tok", probe.steps(), out.resolve("probe.log"))) {
            p = TokenProbe.run(tokens, probe, log);
        }
        m.putAll(p.metrics());
        System.out.println(p.summary());
        return m;
    }

    /** metrics.json; {@code crt_loss} is present only when the regularizer ran (crt_weight > 0). */
    static Map<String, Object> metrics(VqTokenizer model, TokenizerTraining.Config cfg, TokenizerTraining.Result r, int trainImages) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("test_psnr_db", r.test().psnrDb());
        m.put("test_mse", r.test().mse());
        m.put("codebook_usage", r.test().codebookUsage());
        m.put("code_entropy_bits", r.test().entropyBits());
        m.put("code_entropy_given_position_bits", r.test().positionEntropyBits());
        m.put("tokens_per_image", model.config.tokensPerImage());
        m.put("codebook_size", model.config.codebookSize());
        m.put("crt_weight", cfg.crtWeight());
        m.put("entropy_weight", cfg.entropyWeight());
        m.put("l1_weight", cfg.extra().l1());
        m.put("perceptual_weight", cfg.extra().perceptual());
        m.put("adversarial_weight", cfg.extra().adversarial());
        if (Double.isFinite(r.test().crtLoss())) m.put("crt_loss", r.test().crtLoss());
        m.put("crt_detach", cfg.crtDetach());
        m.put("codes_restarted", r.codesRestarted());
        m.put("final_train_loss", r.finalTrainLoss());
        m.put("train_seconds", r.trainSeconds());
        m.put("images_per_second", r.imagesPerSecond());
        m.put("train_flops", r.trainFlops());
        m.put("steps", r.steps());
        m.put("train_images", trainImages);
        m.put("parameters", model.parameterCount());
        m.put("threads", WorkerPool.global().threads());
        m.put("device", model.device().toString());
        m.put("tokenizer", model.config.toJson());
        m.put("train", cfg.toJson());
        return m;
    }
}
