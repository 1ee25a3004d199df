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
import org.tessella.eval.CacheStudy;
import org.tessella.eval.CacheStudyReport;
import org.tessella.eval.FrechetDistance;
import org.tessella.io.Png;
import org.tessella.io.TrainingLog;
import org.tessella.tensor.Device;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** {@code tessella learn-cache}, {@code sample-dit}, {@code cache-study} and {@code export-dit}: Learning-to-Cache on a trained DiT. */
final class DitCommands {
    private DitCommands() {}

    /** The --dit run's EMA weights, ready to sample, on {@code device}. */
    static Dit loadDit(Args a, String command, Device device) {
        Dit dit = DitTraining.load(a.requiredPath(command, "dit"), true);
        dit.to(device);
        return dit;
    }

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
                      --threads N      worker threads
                      --device D       cpu (default) or cuda[:N]: run the DiT there""".formatted(d.iterations(), d.batch(), d.lr());
        }

        @Override public int run(String[] argv) throws Exception {
            Args a = Args.parse(name(), argv, Set.of("dit", "steps", "lambda", "out", "iterations", "batch", "lr", "theta", "limit", "seed",
                    "data", "threads", "device"), Set.of());
            Main.configureThreads(a);
            Device device = Main.device(a);
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
            Dit dit = loadDit(a, name(), device);
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
                      --batch B          images per sampling batch (default 250; memory grows with it)
                      --cfg S            guidance scale (default 1.5)
                      --seed S           seed (default 1)
                      --classifier DIR   score the samples
                      --json FILE        also write the numbers as JSON
                      --data DIR         Fashion-MNIST IDX directory (for the Frechet reference)
                      --threads N        worker threads
                      --device D         cpu (default) or cuda[:N]: sample there (the classifier stays on the CPU)""";
        }

        @Override public int run(String[] argv) throws Exception {
            Args a = Args.parse(name(), argv, Set.of("dit", "steps", "out", "cache", "theta", "per-class", "batch", "cfg", "seed", "classifier", "json",
                    "data", "threads", "device"), Set.of());
            Main.configureThreads(a);
            Device device = Main.device(a);
            Path out = a.requiredPath(name(), "out");
            int steps = a.integer("steps", 0), per = a.integer("per-class", 10), batch = a.integer("batch", 250);
            if (steps < 1 || per < 1 || batch < 1) throw new UsageException("--steps, --per-class and --batch must be at least 1");
            float theta = a.number("theta", 0.1f), cfg = a.number("cfg", 1.5f);
            if (!(theta >= 0 && theta <= 1)) throw new UsageException("--theta must be in [0, 1], got " + theta);
            Dit dit = loadDit(a, name(), device);
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
            float[] images = sampler.sample(dit, labels, cfg, a.longValue("seed", 1), schedule, theta, DdimSampler.Skipped.REUSE, batch);
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
            m.put("device", device.toString());
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

    static final class ExportDit implements Command {
        @Override public String name() { return "export-dit"; }

        @Override public String summary() { return "a sampling-only copy of a DiT run (EMA weights, a quarter of the size)"; }

        @Override public String help() {
            return """
                    usage: tessella export-dit --dit DIR --out DIR
                      Copies the EMA weights and configs of the train-dit run in --dit to --out/checkpoint.safetensors,
                      without the raw weights and optimizer moments. sample-dit, learn-cache and cache-study read it like
                      the run itself; it cannot be resumed.""";
        }

        @Override public int run(String[] argv) {
            Args a = Args.parse(name(), argv, Set.of("dit", "out"), Set.of());
            Path out = a.requiredPath(name(), "out");
            DitTraining.exportEma(a.requiredPath(name(), "dit"), out);
            System.out.println("wrote " + out.resolve(DitTraining.CHECKPOINT));
            return 0;
        }
    }

    static final class CacheStudyCommand implements Command {
        @Override public String name() { return "cache-study"; }

        @Override public String summary() { return "the Learning-to-Cache experiment: DDIM, L2C, lambda sweep, baselines, report"; }

        @Override public String help() {
            CacheStudy.Config d = CacheStudy.Config.defaults(0f);
            return """
                    usage: tessella cache-study --dit DIR --classifier DIR --lambda L --out DIR [options]
                      Samples DDIM at %s steps and L2C at %s steps (schedules learned at --lambda), a lambda sweep and
                      the top/bottom/random/greedy caching and dropping baselines at the first L2C step count, all from
                      the same noise; times them, counts FLOPs, scores FD (with a bootstrap std) and class accuracy, and
                      writes OUT/report.html, results.csv, table.md, pareto.svg and weight heat maps. Resumable: what is
                      in OUT/schedules and OUT/runs is reused.
                    options:
                      --samples N         class-balanced samples per configuration (default %d)
                      --batch B           images per sampling batch (default %d)
                      --cfg S             guidance scale (default %s)
                      --theta T           router threshold (default %s)
                      --ddim LIST         DDIM step counts (default 10,16,20,40,50)
                      --cached LIST       L2C step counts; the first one gets the sweep and baselines (default 20,50)
                      --sweep LIST        extra lambdas at the first L2C step count
                      --thetas LIST       extra thetas at the first L2C step count
                      --iterations I      router updates per cache step of a schedule (default %d)
                      --learn-batch B     images per router update (default %d)
                      --lr X              router learning rate (default %s)
                      --only NAMES        measure only these configurations (comma-separated)
                      --schedules-only    learn the schedules (and the greedy baseline's change) and stop
                      --report-only       write the report from what is measured
                      --timing DIR        take the times from the study in DIR (e.g. every configuration timed in one
                                          JVM on a quiet machine with fewer samples) instead of OUT's own
                      --timing-rounds R   time every configuration R times in interleaved rounds and keep the median
                                          (default 1; the first round also gives FD and the samples)
                      --seed S            seed (default 1)
                      --data DIR          Fashion-MNIST IDX directory
                      --threads N         worker threads
                      --device D          cpu (default) or cuda[:N]: the DiT samples and learns there (the classifier
                                          stays on the CPU); each result records where it was timed""".formatted("10,16,20,40,50", "20,50", d.samples(), d.batch(), d.cfg(), d.theta(),
                    d.learn().iterations(), d.learn().batch(), d.learn().lr());
        }

        private static List<Float> floats(Args a, String name) {
            if (!a.has(name)) return List.of();
            List<Float> out = new ArrayList<>();
            for (String v : a.string(name, "").split(",")) {
                try {
                    out.add(Float.parseFloat(v.trim()));
                } catch (NumberFormatException e) {
                    throw new UsageException("--" + name + " wants comma-separated numbers, got '" + v + "'");
                }
            }
            return out;
        }

        private static List<Integer> ints(Args a, String name, List<Integer> def) {
            if (!a.has(name)) return def;
            List<Integer> out = new ArrayList<>();
            for (float v : floats(a, name)) {
                if (v != Math.rint(v) || v < 1) throw new UsageException("--" + name + " wants positive whole numbers, got " + v);
                out.add((int) v);
            }
            return out;
        }

        @Override public int run(String[] argv) throws Exception {
            Args a = Args.parse(name(), argv, Set.of("dit", "classifier", "lambda", "out", "samples", "batch", "cfg", "theta", "ddim", "cached",
                    "sweep", "thetas", "iterations", "learn-batch", "lr", "only", "seed", "data", "threads", "timing", "device", "timing-rounds"),
                    Set.of("schedules-only", "report-only"));
            Main.configureThreads(a);
            Device device = Main.device(a);
            Path out = a.requiredPath(name(), "out");
            if (!a.has("lambda")) throw new UsageException("--lambda L is required");
            float lambda = a.number("lambda", 0f), theta = a.number("theta", 0.1f);
            if (!(lambda >= 0)) throw new UsageException("--lambda must be >= 0");
            if (!(theta >= 0 && theta <= 1)) throw new UsageException("--theta must be in [0, 1], got " + theta);
            CacheStudy.Config d = CacheStudy.Config.defaults(lambda);
            long seed = a.longValue("seed", d.seed());
            LearnToCache.Config learn = new LearnToCache.Config(a.integer("iterations", d.learn().iterations()), a.integer("learn-batch", d.learn().batch()),
                    a.number("lr", d.learn().lr()), lambda, seed, d.learn().classDropout());
            CacheStudy.Config cfg;
            try {
                cfg = new CacheStudy.Config(a.integer("samples", d.samples()), a.integer("batch", d.batch()), a.number("cfg", d.cfg()), seed, theta, lambda,
                        floats(a, "sweep"), floats(a, "thetas"), ints(a, "ddim", d.ddimSteps()), ints(a, "cached", d.cacheSteps()), d.changeSamples(),
                        learn, d.bootstrapDraws(), a.integer("timing-rounds", d.timingRounds()));
            } catch (IllegalArgumentException e) {
                throw new UsageException(e.getMessage());
            }
            if (!a.flag("report-only")) {
                Dit dit = loadDit(a, name(), device);
                Dataset[] train = new Dataset[1]; // loaded only if a schedule has to be learned
                java.util.function.Supplier<Dataset> trainImages = () -> train[0] != null ? train[0]
                        : (train[0] = FashionMnist.load(a.path("data"), FashionMnist.Split.TRAIN));
                boolean schedulesOnly = a.flag("schedules-only");
                FashionClassifier c = schedulesOnly ? null : FashionClassifier.load(a.requiredPath(name(), "classifier"));
                Dataset test = schedulesOnly ? null : FashionMnist.load(a.path("data"), FashionMnist.Split.TEST);
                Set<String> only = a.has("only") ? new java.util.LinkedHashSet<>(List.of(a.string("only", "").split(","))) : Set.of();
                try {
                    CacheStudy.run(out, dit, trainImages, test, c, cfg, only, schedulesOnly, System.out::println);
                } catch (IllegalArgumentException e) {
                    throw new UsageException(e.getMessage());
                }
            }
            CacheStudyReport.write(out, cfg, a.path("timing"));
            System.out.print(java.nio.file.Files.readString(out.resolve("table.md")));
            System.out.println("wrote " + out.resolve("report.html"));
            return 0;
        }
    }
}
