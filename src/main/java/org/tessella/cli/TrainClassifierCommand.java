package org.tessella.cli;

import org.tessella.data.Dataset;
import org.tessella.data.FashionMnist;
import org.tessella.eval.ClassifierTraining;
import org.tessella.eval.FashionClassifier;
import org.tessella.io.Checkpoint;
import org.tessella.io.Json;
import org.tessella.io.TrainingLog;
import org.tessella.nn.Init;
import org.tessella.tensor.Device;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/** {@code tessella train-classifier}: the Fashion-MNIST CNN whose features the Frechet distance uses. */
final class TrainClassifierCommand implements Command {
    @Override public String name() { return "train-classifier"; }

    @Override public String summary() { return "train the Fashion-MNIST classifier (features for FD)"; }

    @Override public String help() {
        return """
                usage: tessella train-classifier --out DIR [options]
                  Trains the Fashion-MNIST CNN used for Frechet distances and class accuracy of samples.
                  Writes DIR/classifier.safetensors (after every epoch, atomically), DIR/metrics.json and DIR/train.log.
                options:
                  --out DIR          output directory (required)
                  --epochs N         epochs (default 3)
                  --batch N          batch size (default 128)
                  --lr X             peak learning rate of AdamW (default 2e-3), warmup then cosine decay
                  --weight-decay X   AdamW weight decay (default 0.01)
                  --seed S           seed for initialisation and data order (default 1)
                  --limit N          train on the first N images only (quick checks)
                  --data DIR         directory with the Fashion-MNIST IDX files
                                     (default /usr/share/datasets/fashion-mnist, Debian package dataset-fashion-mnist)
                  --threads N        worker threads (default: all cores)
                  --device D         cpu (default) or cuda[:N]: train on that device (the checkpoint is the same format)""";
    }

    @Override public int run(String[] argv) throws Exception {
        Args a = Args.parse(name(), argv, Set.of("out", "epochs", "batch", "lr", "weight-decay", "seed", "limit", "data", "threads", "device"), Set.of());
        Path out = a.requiredPath(name(), "out");
        Main.configureThreads(a);
        Device device = Main.device(a);
        ClassifierTraining.Config d = ClassifierTraining.Config.defaults();
        ClassifierTraining.Config cfg = new ClassifierTraining.Config(a.integer("epochs", d.epochs()), a.integer("batch", d.batch()),
                a.number("lr", d.lr()), a.number("weight-decay", d.weightDecay()), a.longValue("seed", d.seed()), d.warmupSteps(), d.clip());
        if (cfg.epochs() < 1 || cfg.batch() < 1) throw new UsageException("--epochs and --batch must be at least 1");
        Dataset train = FashionMnist.load(a.path("data"), FashionMnist.Split.TRAIN, a.integer("limit", FashionMnist.Split.TRAIN.count()));
        Dataset test = FashionMnist.load(a.path("data"), FashionMnist.Split.TEST);
        Files.createDirectories(out);
        Path logFile = out.resolve("train.log");
        Files.deleteIfExists(logFile);

        FashionClassifier model = new FashionClassifier(new Init(cfg.seed())); // built on the CPU: the same weights anywhere
        model.to(device);
        Map<String, Object> config = new LinkedHashMap<>();
        config.put("model", "fashion-classifier");
        config.put("epochs", cfg.epochs());
        config.put("batch", cfg.batch());
        config.put("lr", cfg.lr());
        config.put("weight_decay", cfg.weightDecay());
        config.put("seed", cfg.seed());
        config.put("train_images", train.size());
        long steps = (long) (train.size() / cfg.batch()) * cfg.epochs();
        System.out.printf("train-classifier: %d train / %d test images, %d steps, %,d parameters, %s%n",
                train.size(), test.size(), steps, model.parameterCount(), Main.where(device));
        ClassifierTraining.Result r;
        try (TrainingLog log = new TrainingLog("classifier", "img", steps, logFile)) {
            r = ClassifierTraining.train(model, train, test, cfg, log, epoch ->
                    Checkpoint.save(out.resolve(FashionClassifier.CHECKPOINT), model.stateDict(),
                            Checkpoint.meta(config, (long) epoch * (train.size() / cfg.batch()), null)));
            log.message(String.format(java.util.Locale.ROOT, "classifier test accuracy %.4f", r.testAccuracy()));
        }
        Map<String, Object> metrics = new LinkedHashMap<>();
        metrics.put("test_accuracy", r.testAccuracy());
        metrics.put("train_seconds", r.trainSeconds());
        metrics.put("images_per_second", r.imagesPerSecond());
        metrics.put("epochs", r.epochs());
        metrics.put("steps", r.steps());
        metrics.put("final_train_loss", r.finalLoss());
        metrics.put("train_flops", r.trainFlops());
        metrics.put("parameters", model.parameterCount());
        metrics.put("threads", org.tessella.cpu.WorkerPool.global().threads());
        metrics.put("device", device.toString());
        writeJson(out.resolve("metrics.json"), metrics);
        System.out.printf(java.util.Locale.ROOT, "test accuracy %.4f, %.0f images/s, %.1f s; wrote %s%n", r.testAccuracy(),
                r.imagesPerSecond(), r.trainSeconds(), out.resolve("metrics.json"));
        return 0;
    }

    static void writeJson(Path file, Map<String, Object> value) {
        org.tessella.io.AtomicFile.writeString(file, Json.write(value) + "\n");
    }
}
