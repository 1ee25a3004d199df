package org.tessella.cli;

import org.tessella.data.Dataset;
import org.tessella.data.FashionMnist;
import org.tessella.diffusion.Dit;
import org.tessella.diffusion.DitConfig;
import org.tessella.diffusion.DitTraining;
import org.tessella.io.Checkpoint;
import org.tessella.io.Json;
import org.tessella.io.TrainingLog;
import org.tessella.nn.Init;
import org.tessella.tensor.Device;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/** {@code tessella train-dit}: the diffusion stage 2 on Fashion-MNIST pixels. */
final class TrainDitCommand implements Command {
    @Override public String name() { return "train-dit"; }

    @Override public String summary() { return "train the DiT (diffusion stage 2) on Fashion-MNIST"; }

    @Override public String help() {
        DitTraining.Config d = DitTraining.Config.defaults();
        return """
                usage: tessella train-dit --out DIR [options]
                       tessella train-dit --resume DIR [--stop-after N]
                  Trains a class-conditional DiT (epsilon prediction, 1000-step linear-beta schedule, labels dropped to
                  the null label with p 0.1 for guidance, EMA of the weights) on the padded 32x32 training images.
                  Writes DIR/checkpoint.safetensors (atomically, every epoch: weights, EMA, optimizer), DIR/loss.csv,
                  DIR/train.log and DIR/metrics.json (final loss, seconds, images/s, FLOPs).
                options:
                  --model NAME         dit-s (default) or dit-xs
                  --epochs N           epochs (default %d)
                  --batch N            images per step (default %d)
                  --lr X               learning rate after warmup (default %s)
                  --ema D              EMA decay (default %s)
                  --seed S             seed for initialisation, data order, timesteps and noise (default 1)
                  --limit N            train on the first N training images only
                  --data DIR           directory with the Fashion-MNIST IDX files
                  --resume DIR         continue the run in DIR from its checkpoint, to the same bits
                  --stop-after N       stop (with a checkpoint) after step N
                  --threads N          worker threads
                  --device D           cpu (default) or cuda[:N]: train on that device; the noise, timesteps and label
                                       drops are drawn on the host, so every device trains on the same draws;
                                       checkpoints do not depend on it (a run may resume on another device)""".formatted(d.epochs(), d.batch(), d.lr(), d.emaDecay());
    }

    @Override public int run(String[] argv) throws Exception {
        Args a = Args.parse(name(), argv, Set.of("out", "model", "epochs", "batch", "lr", "ema", "seed", "limit", "data", "resume",
                "stop-after", "threads", "device"), Set.of());
        Main.configureThreads(a);
        Device device = Main.device(a);
        boolean resume = a.has("resume");
        Path out = resume ? a.requiredPath(name(), "resume") : a.requiredPath(name(), "out");
        DitConfig mc;
        DitTraining.Config cfg;
        int limit;
        if (resume) {
            if (!Files.exists(out.resolve(DitTraining.CHECKPOINT)))
                throw new UsageException("no run to resume: " + out.resolve(DitTraining.CHECKPOINT) + " does not exist");
            Json.Obj stored = Checkpoint.load(out.resolve(DitTraining.CHECKPOINT)).config();
            mc = DitConfig.fromJson(stored.object("model"));
            cfg = DitTraining.Config.fromJson(stored.object("train"), a.longValue("stop-after", 0));
            limit = stored.integer("train_images", FashionMnist.Split.TRAIN.count());
        } else {
            try {
                mc = DitConfig.preset(a.string("model", "dit-s"));
            } catch (IllegalArgumentException e) {
                throw new UsageException(e.getMessage());
            }
            DitTraining.Config d = DitTraining.Config.defaults();
            int epochs = a.integer("epochs", d.epochs()), batch = a.integer("batch", d.batch());
            float lr = a.number("lr", d.lr()), ema = a.number("ema", d.emaDecay());
            if (epochs < 1 || batch < 1) throw new UsageException("--epochs and --batch must be at least 1");
            if (!(lr > 0) || !(ema >= 0 && ema < 1)) throw new UsageException("--lr must be > 0 and --ema in [0, 1)");
            limit = a.integer("limit", FashionMnist.Split.TRAIN.count());
            if (limit < 1) throw new UsageException("--limit must be at least 1");
            cfg = new DitTraining.Config(epochs, batch, lr, d.weightDecay(), d.clip(), d.warmupSteps(), a.longValue("seed", d.seed()),
                    d.classDropout(), ema, a.longValue("stop-after", 0));
            if (Files.exists(out.resolve(DitTraining.CHECKPOINT)))
                throw new UsageException(out + " already holds a run; continue it with --resume " + out + " or choose another --out");
        }
        Dataset train = FashionMnist.load(a.path("data"), FashionMnist.Split.TRAIN, limit);
        Files.createDirectories(out);
        Dit model = new Dit(mc, new Init(cfg.seed()));
        model.to(device); // built on the CPU from the seed, so a run starts from the same weights on every device
        long steps = (long) (train.size() / cfg.batch()) * cfg.epochs();
        System.out.printf("train-dit: %s (%d tokens, width %d, %d blocks), %,d parameters, %d images, %d steps, %s%n",
                mc.name(), mc.tokens(), mc.width(), mc.depth(), model.parameterCount(), train.size(), steps, Main.where(device));
        DitTraining.Result r;
        try (TrainingLog log = new TrainingLog("dit", "img", steps, out.resolve("train.log"))) {
            r = DitTraining.train(model, train, cfg, out, resume, log);
        }
        if (!r.finished()) return 0;
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("model", mc.name());
        m.put("final_train_loss", r.finalLoss());
        m.put("steps", r.steps());
        m.put("train_seconds", r.trainSeconds());
        m.put("images_per_second", r.imagesPerSecond());
        m.put("train_flops", r.trainFlops());
        m.put("device", device.toString());
        TrainClassifierCommand.writeJson(out.resolve("metrics.json"), m);
        System.out.printf(Locale.ROOT, "final loss %.5f, %.0f images/s, %.1f s; wrote %s%n", r.finalLoss(), r.imagesPerSecond(), r.trainSeconds(),
                out.resolve("metrics.json"));
        return 0;
    }
}
