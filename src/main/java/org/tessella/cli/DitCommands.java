package org.tessella.cli;

import org.tessella.backend.FlopCounter;
import org.tessella.data.Dataset;
import org.tessella.data.FashionMnist;
import org.tessella.diffusion.CacheSchedule;
import org.tessella.diffusion.DdimSampler;
import org.tessella.diffusion.Dit;
import org.tessella.diffusion.DitTraining;
import org.tessella.diffusion.LearnToCache;
import org.tessella.eval.FashionClassifier;
import org.tessella.eval.FrechetDistance;
import org.tessella.io.Png;
import org.tessella.io.TrainingLog;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/** {@code tessella learn-cache} and {@code tessella sample-dit}: Learning-to-Cache on a trained DiT. */
final class DitCommands {
    private DitCommands() {}

    static final class LearnCache implements Command {
        @Override public String name() { return "learn-cache"; }

        @Override public String summary() { return "learn a DiT's layer-caching schedule (L2C) for N DDIM steps"; }

        @Override public String help() {
            LearnToCache.Config d = LearnToCache.Config.defaults(0f);
            return """
                    usage: tessella learn-cache --dit DIR --steps N --lambda L --out FILE [options]
                      Trains the (N/2) x 2 x depth router logits of Learning-to-Cache on the frozen DiT (its EMA weights):
                      pairs of full and cache steps of N-step DDIM, the cache step's sub-layers interpolated between
                      recomputing and reusing, MSE to the full model plus lambda x the sum of router weights. Writes the
                      logits and the mask at --theta as JSON.
                    options:
                      --iterations I   router updates (default %d)
                      --batch B        images per update (default %d)
                      --lr X           router learning rate (default %s)
                      --theta T        threshold for the written mask (default 0.1; sample-dit takes its own)
                      --limit N        training images to draw from (default all)
                      --seed S         seed (default 1)
                      --data DIR       Fashion-MNIST IDX directory
                      --threads N      worker threads""".formatted(d.iterations(), d.batch(), d.lr());
        }

        @Override public int run(String[] argv) throws Exception {
            Args a = Args.parse(name(), argv, Set.of("dit", "steps", "lambda", "out", "iterations", "batch", "lr", "theta", "limit", "seed",
                    "data", "threads"), Set.of());
            Main.configureThreads(a);
            Path out = a.requiredPath(name(), "out");
            int steps = a.integer("steps", 0);
            if (steps < 2) throw new UsageException("--steps N (at least 2) is required");
            if (!a.has("lambda")) throw new UsageException("--lambda L is required");
            float lambda = a.number("lambda", 0f), theta = a.number("theta", 0.1f);
            if (!(lambda >= 0)) throw new UsageException("--lambda must be >= 0");
            if (!(theta >= 0 && theta <= 1)) throw new UsageException("--theta must be in [0, 1], got " + theta);
            LearnToCache.Config d = LearnToCache.Config.defaults(lambda);
            LearnToCache.Config cfg = new LearnToCache.Config(a.integer("iterations", d.iterations()), a.integer("batch", d.batch()),
                    a.number("lr", d.lr()), lambda, a.longValue("seed", d.seed()), d.classDropout());
            Dit dit = DitTraining.load(a.requiredPath(name(), "dit"), true);
            Dataset train = FashionMnist.load(a.path("data"), FashionMnist.Split.TRAIN, a.integer("limit", FashionMnist.Split.TRAIN.count()));
            CacheSchedule s;
            try (TrainingLog log = new TrainingLog("learn-cache", "img", cfg.iterations(), null)) {
                s = LearnToCache.learn(dit, train, steps, cfg, log);
            }
            if (out.getParent() != null) Files.createDirectories(out.getParent());
            s.write(out, theta);
            double[] skip = s.skipped(theta);
            System.out.printf(Locale.ROOT, "cache steps skip %.1f%% of attention and %.1f%% of MLP sub-layers at theta %s; wrote %s%n",
                    100 * skip[0], 100 * skip[1], theta, out);
            return 0;
        }
    }

    static final class SampleDit implements Command {
        @Override public String name() { return "sample-dit"; }

        @Override public String summary() { return "DDIM samples of a DiT, optionally with a learned cache schedule"; }

        @Override public String help() {
            return """
                    usage: tessella sample-dit --dit DIR --steps N --out PNG [options]
                      DDIM (eta 0) with N respaced steps and classifier-free guidance, one row per class; with --cache,
                      the cache steps compute only the sub-layers whose router weight is above --theta and reuse the
                      others. Prints the wall time, the FLOPs counted, and with --classifier the Frechet distance of the
                      samples' classifier features to the test set's and their class accuracy.
                    options:
                      --cache FILE       a learn-cache schedule for the same N and DiT depth
                      --theta T          router threshold in [0, 1] (default 0.1)
                      --per-class K      samples per class (default 10)
                      --cfg S            guidance scale (default 1.5)
                      --seed S           seed (default 1)
                      --classifier DIR   score the samples
                      --json FILE        also write the numbers as JSON
                      --data DIR         Fashion-MNIST IDX directory (for the Frechet reference)
                      --threads N        worker threads""";
        }

        @Override public int run(String[] argv) throws Exception {
            Args a = Args.parse(name(), argv, Set.of("dit", "steps", "out", "cache", "theta", "per-class", "cfg", "seed", "classifier", "json",
                    "data", "threads"), Set.of());
            Main.configureThreads(a);
            Path out = a.requiredPath(name(), "out");
            int steps = a.integer("steps", 0), per = a.integer("per-class", 10);
            if (steps < 1 || per < 1) throw new UsageException("--steps and --per-class must be at least 1");
            float theta = a.number("theta", 0.1f), cfg = a.number("cfg", 1.5f);
            if (!(theta >= 0 && theta <= 1)) throw new UsageException("--theta must be in [0, 1], got " + theta);
            Dit dit = DitTraining.load(a.requiredPath(name(), "dit"), true);
            DdimSampler sampler;
            try {
                sampler = new DdimSampler(steps);
            } catch (IllegalArgumentException e) {
                throw new UsageException(e.getMessage());
            }
            CacheSchedule schedule = a.has("cache") ? CacheSchedule.read(a.requiredPath(name(), "cache")) : null;
            if (schedule != null) schedule.checkFits(steps, dit.config.depth());
            int classes = dit.config.classes(), n = classes * per;
            int[] labels = new int[n];
            for (int i = 0; i < n; i++) labels[i] = i / per;
            long f0 = FlopCounter.total(), t0 = System.nanoTime();
            float[] images = sampler.sample(dit, labels, cfg, a.longValue("seed", 1), schedule, theta);
            double secs = (System.nanoTime() - t0) / 1e9;
            long flops = FlopCounter.total() - f0;
            for (int i = 0; i < images.length; i++) images[i] = Math.max(-1f, Math.min(1f, images[i]));
            int side = dit.config.imageSize();
            if (out.getParent() != null) Files.createDirectories(out.getParent());
            Png.writeGrid(out, images, n, side, side, classes, per, 2, Png.Range.MINUS_ONE_ONE);
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("steps", steps);
            m.put("samples", n);
            m.put("cfg", cfg);
            m.put("seconds", secs);
            m.put("flops_per_sample", flops / (double) n);
            if (schedule != null) {
                double[] skip = schedule.skipped(theta);
                m.put("theta", theta);
                m.put("skipped_attention", skip[0]);
                m.put("skipped_mlp", skip[1]);
            }
            if (a.has("classifier")) {
                FashionClassifier c = FashionClassifier.load(a.requiredPath(name(), "classifier"));
                Dataset test = FashionMnist.load(a.path("data"), FashionMnist.Split.TEST);
                FrechetDistance.Stats ref = FrechetDistance.stats(c, test.images(), test.size());
                m.put("fd", FrechetDistance.distance(FrechetDistance.stats(c, images, n), ref));
                m.put("class_accuracy", FrechetDistance.classAccuracy(c, images, labels));
            }
            System.out.println(org.tessella.io.Json.write(m));
            if (a.has("json")) TrainClassifierCommand.writeJson(a.requiredPath(name(), "json"), m);
            System.out.println("wrote " + out);
            return 0;
        }
    }
}
