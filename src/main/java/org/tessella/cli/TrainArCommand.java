package org.tessella.cli;

import org.tessella.ar.ArTraining;
import org.tessella.ar.Gpt;
import org.tessella.ar.GptConfig;
import org.tessella.ar.TokenFile;
import org.tessella.io.Json;
import org.tessella.io.TrainingLog;
import org.tessella.tensor.Device;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/** {@code tessella train-ar}: trains the stage-2 transformer on a token file. */
final class TrainArCommand implements Command {
    @Override public String name() { return "train-ar"; }

    @Override public String summary() { return "train the stage-2 autoregressive transformer on a token file"; }

    @Override public String help() {
        return """
                usage: tessella train-ar --tokens FILE --out DIR [options]
                       tessella train-ar --resume DIR [--stop-after N] [--tokens FILE]
                  Trains a LlamaGen-style transformer on the token file (from tessella encode, train-tokenizer's
                  DIR/tokens.safetensors, or synth-tokens).
                  Writes DIR/checkpoint.safetensors (atomically, every epoch), DIR/loss.csv, DIR/train.log and
                  DIR/metrics.json (val/train bits per token, bits per position, tokens/s, FLOPs, parameters, seconds).
                options:
                  --tokens FILE        token file (required unless --resume)
                  --out DIR            output directory (required unless --resume)
                  --model NAME         gpt-xs, gpt-s (default) or gpt-m, or --config FILE with a JSON model config
                  --config FILE        JSON model config (keys as in metrics.json's "model")
                  --rope-2d            2-D rotary embeddings over the token grid (default 1-D)
                  --epochs N           epochs (default 10)
                  --batch N            sequences per step (default 64)
                  --lr X               peak learning rate (default 1e-3), warmup then cosine to --min-lr (default 1e-4)
                  --weight-decay X     AdamW weight decay on matrices (default 0.05)
                  --warmup N           warmup steps (default 100)
                  --class-dropout P    probability of training with the null class (default 0.1)
                  --seed S             seed for initialisation, data order and class dropout (default 1)
                  --resume DIR         continue the run in DIR from its checkpoint, to the same bits; with --tokens,
                                       on that token file instead of the run's (same vocabulary, length, classes)
                  --stop-after N       stop (with a checkpoint) after step N, as an interrupted run would
                  --threads N          worker threads
                  --device D           cpu (default) or cuda[:N]: train on that device; checkpoints do not depend on
                                       it (a run may resume on another device)""";
    }

    @Override public int run(String[] argv) throws Exception {
        Args a = Args.parse(name(), argv, Set.of("tokens", "out", "model", "config", "epochs", "batch", "lr", "min-lr",
                "weight-decay", "warmup", "class-dropout", "seed", "resume", "stop-after", "threads", "device"), Set.of("rope-2d"));
        Main.configureThreads(a);
        Device device = Main.device(a);
        boolean resume = a.has("resume");
        Path out = resume ? a.requiredPath(name(), "resume") : a.requiredPath(name(), "out");
        Gpt model = null;
        ArTraining.Config cfg;
        Path tokensPath;
        if (resume) {
            if (!Files.exists(out.resolve(ArTraining.CHECKPOINT)))
                throw new UsageException("no run to resume: " + out.resolve(ArTraining.CHECKPOINT) + " does not exist");
            Json.Obj stored = ArTraining.storedConfig(out);
            tokensPath = a.path("tokens").orElse(Path.of(stored.string("tokens")));
            if (!a.has("tokens") && !Files.exists(tokensPath))
                throw new UsageException("the run's token file " + tokensPath + " is gone: pass --tokens FILE (same vocabulary, length and classes)");
            model = new Gpt(GptConfig.fromJson(stored.object("model")), stored.object("train").longValue("seed"));
            cfg = ArTraining.resumeConfig(out, a.longValue("stop-after", 0));
        } else {
            tokensPath = a.requiredPath(name(), "tokens");
            ArTraining.Config d = ArTraining.Config.defaults();
            cfg = new ArTraining.Config(a.integer("epochs", d.epochs()), a.integer("batch", d.batch()), a.number("lr", d.lr()),
                    a.number("min-lr", d.minLr()), a.number("weight-decay", d.weightDecay()), d.clip(), a.integer("warmup", d.warmupSteps()),
                    a.longValue("seed", d.seed()), a.longValue("stop-after", 0));
            if (cfg.epochs() < 1 || cfg.batch() < 1) throw new UsageException("--epochs and --batch must be at least 1");
        }
        TokenFile data = TokenFile.read(tokensPath);
        if (resume) ArTraining.checkFits(model.config, data, tokensPath);
        if (!resume) {
            GptConfig mc;
            if (a.has("config")) mc = GptConfig.fromJson(Json.parseObject(Files.readString(a.path("config").get()), a.string("config", "")));
            else mc = GptConfig.preset(a.string("model", "gpt-s"), data.vocab(), data.length(), data.gridH(), data.gridW(), data.classes());
            if (a.flag("rope-2d")) mc = mc.withRope2d(true);
            if (a.has("class-dropout")) mc = mc.withClassDropout(a.number("class-dropout", 0.1f));
            ArTraining.checkFits(mc, data, tokensPath);
            model = new Gpt(mc, cfg.seed());
            if (Files.exists(out.resolve(ArTraining.CHECKPOINT)))
                throw new UsageException(out + " already holds a run; continue it with --resume " + out + " or choose another --out");
            Files.createDirectories(out);
        }
        model.to(device); // built on the CPU from the seed, so a run starts from the same weights on every device
        Path logFile = out.resolve("train.log");
        long steps = (long) (data.train().size() / cfg.batch()) * cfg.epochs();
        System.out.printf("train-ar: %s, %,d parameters, %d train / %d test sequences of %d tokens (vocabulary %d), %d steps, %s%n",
                model.config.name(), model.parameterCount(), data.train().size(), data.test().size(), data.length(), data.vocab(), steps,
                Main.where(device));
        ArTraining.Result r;
        try (TrainingLog log = new TrainingLog("train-ar", "tok", steps, logFile)) {
            r = ArTraining.train(model, data, cfg, out, resume, log, tokensPath);
        }
        if (!r.finished()) return 0;
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("val_bits_per_token", r.val().bitsPerToken());
        m.put("train_bits_per_token", r.train().bitsPerToken());
        m.put("val_bits_per_position", r.val().bitsPerPosition());
        m.put("tokens_per_second", r.tokensPerSecond());
        m.put("train_flops", r.trainFlops());
        m.put("parameters", model.parameterCount());
        m.put("train_seconds", r.trainSeconds());
        m.put("steps", r.steps());
        m.put("model", model.config.toJson());
        m.put("tokens", tokensPath.toString());
        m.put("device", device.toString());
        if (data.extra().containsKey("true_bits_per_token")) m.put("source_true_bits_per_token", Double.parseDouble(data.extra().get("true_bits_per_token")));
        TrainClassifierCommand.writeJson(out.resolve("metrics.json"), m);
        System.out.printf(java.util.Locale.ROOT, "val %.4f bits/token, train %.4f bits/token, %.0f tokens/s; wrote %s%n",
                r.val().bitsPerToken(), r.train().bitsPerToken(), r.tokensPerSecond(), out.resolve("metrics.json"));
        return 0;
    }
}
