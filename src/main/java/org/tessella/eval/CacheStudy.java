package org.tessella.eval;

import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.tessella.backend.FlopCounter;
import org.tessella.cpu.WorkerPool;
import org.tessella.data.Dataset;
import org.tessella.diffusion.CacheBaselines;
import org.tessella.diffusion.CacheSchedule;
import org.tessella.diffusion.DdimSampler;
import org.tessella.diffusion.Dit;
import org.tessella.diffusion.LearnToCache;
import org.tessella.io.AtomicFile;
import org.tessella.io.Json;
import org.tessella.io.Png;
import org.tessella.io.Safetensors;
import org.tessella.tensor.Tensor;

/**
 * The Learning-to-Cache experiment on a trained DiT (papers/l2c.md, "what our version must measure"): DDIM at several
 * step counts; L2C schedules learned at the main lambda for some of them; a lambda (and optionally theta) sweep at the
 * first cached step count; and, at that count's number of skipped sub-layers, the top, bottom, random and greedy
 * caching baselines and dropping the learned schedule's sub-layers instead of caching them. Every configuration
 * samples the same labels from the same noise; it is timed (sampling only, after a warm-up in the same JVM), its FLOPs
 * counted, and scored by the classifier: Frechet distance to the test set (with its bootstrap standard deviation) and
 * class accuracy.
 *
 * <p>Resumable: schedules go to {@code schedules/}, each configuration's numbers to {@code runs/NAME.json}, and
 * anything already there is reused, so the study can be split over several processes or machines ({@code only}) and
 * the report ({@link CacheStudyReport}) drawn from whatever has been measured.
 */
public final class CacheStudy {
    private CacheStudy() {}

    public static final List<String> BASELINES = List.of("top", "bottom", "random", "greedy", "drop");

    /**
     * The study's settings. {@code learn} trains the routers with its {@code iterations} counted per cache step (a
     * schedule for N steps gets N/2 times as many updates, so every router sees the same number), its lambda replaced
     * by each schedule's own.
     */
    public record Config(int samples, int batch, float cfg, long seed, float theta, float lambda, List<Float> sweepLambdas,
                         List<Float> sweepThetas, List<Integer> ddimSteps, List<Integer> cacheSteps, int changeSamples,
                         LearnToCache.Config learn, int bootstrapDraws, int timingRounds) {
        public Config {
            if (cacheSteps.isEmpty()) throw new IllegalArgumentException("cache study: no step count to learn a schedule for");
            if (timingRounds < 1) throw new IllegalArgumentException("cache study: at least 1 timing round, got " + timingRounds);
            if (samples < 2 * 10) throw new IllegalArgumentException("cache study: at least 20 samples, got " + samples);
        }

        /**
         * The issue's plan: 2,000 samples, DDIM 10/16/20/40/50, L2C at 20 and 50; routers trained 40 updates per cache
         * step of 16 images at learning rate 0.1 (so that a logit can cross the threshold from its N(0, 1) start within
         * the run; the paper's 1e-2 assumes far longer training).
         */
        public static Config defaults(float lambda) {
            return new Config(2000, 250, 1.5f, 1, 0.1f, lambda, List.of(), List.of(), List.of(10, 16, 20, 40, 50), List.of(20, 50),
                    100, new LearnToCache.Config(40, 16, 0.1f, lambda, 1, LearnToCache.Config.defaults(lambda).classDropout()), 20, 1);
        }

        /** The number of steps the sweep and the baselines use. */
        public int sweepSteps() { return cacheSteps.get(0); }
    }

    /** One sampling configuration: kind is ddim, l2c, or a baseline name. */
    public record Spec(String name, String kind, int steps, float lambda, float theta) {
        public boolean cached() { return !kind.equals("ddim"); }
    }

    /**
     * The measured numbers of one configuration; {@code seconds} is the median of {@code timingRounds} timings of the
     * whole sampling, taken in interleaved rounds over the configurations of one run. {@code rmseToDdim}: for a cached
     * configuration, the root mean square pixel difference (images in [-1, 1]) between its samples and plain DDIM's
     * with the same steps from the same noise, the fidelity that Learning-to-Cache's routers are trained for (NaN when
     * DDIM's samples are not on disk).
     */
    public record Result(Spec spec, int samples, double seconds, double flopsPerSample, double skippedAttention, double skippedMlp,
                         double fd, double fdStd, double classAccuracy, double rmseToDdim, int timingRounds, int threads, String device,
                         String session) {
        Result withSeconds(double s, int rounds) {
            return new Result(spec, samples, s, flopsPerSample, skippedAttention, skippedMlp, fd, fdStd, classAccuracy, rmseToDdim, rounds, threads,
                    device, session);
        }

        Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", spec.name);
            m.put("kind", spec.kind);
            m.put("steps", spec.steps);
            m.put("lambda", (double) spec.lambda);
            m.put("theta", (double) spec.theta);
            m.put("samples", samples);
            m.put("seconds", seconds);
            m.put("timing_rounds", timingRounds);
            m.put("flops_per_sample", flopsPerSample);
            m.put("skipped_attention", skippedAttention);
            m.put("skipped_mlp", skippedMlp);
            m.put("fd", fd);
            m.put("fd_std", fdStd);
            m.put("class_accuracy", classAccuracy);
            if (Double.isFinite(rmseToDdim)) m.put("rmse_to_ddim", rmseToDdim);
            m.put("threads", threads);
            m.put("device", device);
            m.put("session", session);
            return m;
        }

        static Result fromJson(Json.Obj o) {
            Spec s = new Spec(o.string("name"), o.string("kind"), o.integer("steps"), (float) o.number("lambda"), (float) o.number("theta"));
            return new Result(s, o.integer("samples"), o.number("seconds"), o.number("flops_per_sample"), o.number("skipped_attention"),
                    o.number("skipped_mlp"), o.number("fd"), o.number("fd_std"), o.number("class_accuracy"), o.number("rmse_to_ddim", Double.NaN),
                    (int) o.number("timing_rounds", 1), o.integer("threads"), o.string("device", "cpu"), o.string("session"));
        }
    }

    static String number(float x) { return new BigDecimal(Float.toString(x)).stripTrailingZeros().toPlainString(); }

    /** Every configuration of the plan, in the order they run. */
    public static List<Spec> plan(Config c) {
        List<Spec> out = new ArrayList<>();
        for (int n : c.ddimSteps()) out.add(new Spec("ddim-" + n, "ddim", n, 0f, c.theta()));
        for (int n : c.cacheSteps()) out.add(new Spec("l2c-" + n, "l2c", n, c.lambda(), c.theta()));
        int n0 = c.sweepSteps();
        for (float l : c.sweepLambdas())
            if (l != c.lambda()) out.add(new Spec("l2c-" + n0 + "-lambda" + number(l), "l2c", n0, l, c.theta()));
        for (float t : c.sweepThetas())
            if (t != c.theta()) out.add(new Spec("l2c-" + n0 + "-theta" + number(t), "l2c", n0, c.lambda(), t));
        for (String b : BASELINES) out.add(new Spec(b + "-" + n0, b, n0, c.lambda(), c.theta()));
        return out;
    }

    static Path schedulePath(Path out, int steps, float lambda) { return out.resolve("schedules").resolve("l2c-" + steps + "-lambda" + number(lambda) + ".json"); }

    /** The learned schedule for (steps, lambda), learned now unless it is on disk. */
    static CacheSchedule learned(Path out, Dit dit, Supplier<Dataset> train, Config c, int steps, float lambda, Consumer<String> progress) {
        Path p = schedulePath(out, steps, lambda);
        if (Files.exists(p)) return CacheSchedule.read(p);
        LearnToCache.Config d = c.learn();
        LearnToCache.Config lc = new LearnToCache.Config(d.iterations() * (steps / 2), d.batch(), d.lr(), lambda, d.seed(), d.classDropout());
        long t0 = System.nanoTime();
        CacheSchedule s = LearnToCache.learn(dit, train.get(), steps, lc, null);
        s.write(p, c.theta());
        double[] k = s.skipped(c.theta());
        progress.accept(String.format(java.util.Locale.ROOT, "learned %s in %.0f s: skips %.0f%% of attention, %.0f%% of MLP at theta %s",
                p.getFileName(), (System.nanoTime() - t0) / 1e9, 100 * k[0], 100 * k[1], number(c.theta())));
        return s;
    }

    /** The per-(cache step, sub-layer) change the greedy baseline ranks by, measured now unless it is on disk. */
    static double[][] change(Path out, Dit dit, Config c, int steps) {
        Path p = changePath(out, steps);
        if (Files.exists(p)) return readChange(p);
        int classes = dit.config.classes(), per = Math.max(1, c.changeSamples() / classes);
        double[][] m = CacheBaselines.change(dit, steps, labels(classes, per), c.cfg(), c.seed() + 1000);
        List<Object> rows = new ArrayList<>();
        for (double[] r : m) {
            List<Object> row = new ArrayList<>();
            for (double v : r) row.add(v);
            rows.add(row);
        }
        Map<String, Object> o = new LinkedHashMap<>();
        o.put("steps", steps);
        o.put("samples", classes * per);
        o.put("change", rows);
        AtomicFile.writeString(p, Json.write(o));
        return m;
    }

    static Path changePath(Path out, int steps) { return out.resolve("schedules").resolve("change-" + steps + ".json"); }

    static double[][] readChange(Path p) {
        List<Object> rows = Json.parseObject(read(p), p.toString()).list("change");
        double[][] m = new double[rows.size()][];
        for (int i = 0; i < m.length; i++) {
            @SuppressWarnings("unchecked") List<Object> r = (List<Object>) rows.get(i);
            m[i] = r.stream().mapToDouble(v -> ((Number) v).doubleValue()).toArray();
        }
        return m;
    }

    private static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (java.io.IOException e) {
            throw new org.tessella.io.TessellaIOException("cannot read " + p + ": " + e.getMessage(), e);
        }
    }

    static int[] labels(int classes, int per) {
        int[] labels = new int[classes * per];
        for (int i = 0; i < labels.length; i++) labels[i] = i / per;
        return labels;
    }

    /** The schedule a configuration samples with (null for plain DDIM). */
    static CacheSchedule schedule(Path out, Dit dit, Supplier<Dataset> train, Config c, Spec s, Consumer<String> progress) {
        int depth = dit.config.depth();
        switch (s.kind()) {
            case "ddim": return null;
            case "l2c": return learned(out, dit, train, c, s.steps(), s.lambda(), progress);
            case "drop": return learned(out, dit, train, c, s.steps(), c.lambda(), progress);
            default: break;
        }
        CacheSchedule main = learned(out, dit, train, c, s.steps(), c.lambda(), progress);
        int count = (int) Math.round(main.skipped(c.theta())[2] * main.logits().length * 2 * depth);
        CacheSchedule b = switch (s.kind()) {
            case "top" -> CacheBaselines.top(s.steps(), depth, count);
            case "bottom" -> CacheBaselines.bottom(s.steps(), depth, count);
            case "random" -> CacheBaselines.random(s.steps(), depth, count, c.seed());
            case "greedy" -> CacheBaselines.greedy(change(out, dit, c, s.steps()), s.steps(), depth, count);
            default -> throw new IllegalArgumentException("cache study: unknown configuration kind '" + s.kind() + "'");
        };
        b.write(out.resolve("schedules").resolve(s.name() + ".json"), c.theta());
        return b;
    }

    /**
     * Runs the configurations of the plan that are not measured yet (those in {@code only}, when it is not empty) and
     * returns every result on disk. The training images ({@code train}, asked for only when a schedule must be learned)
     * feed the routers. With {@code schedulesOnly} it learns the schedules those configurations need and samples nothing
     * (so the learning can run on another machine than the timing).
     */
    public static List<Result> run(Path out, Dit dit, Supplier<Dataset> train, Dataset test, FashionClassifier classifier, Config c,
                                   Set<String> only, boolean schedulesOnly, Consumer<String> progress) throws java.io.IOException {
        Files.createDirectories(out.resolve("schedules"));
        Files.createDirectories(out.resolve("runs"));
        Files.createDirectories(out.resolve("grids"));
        Files.createDirectories(out.resolve("samples"));
        List<Spec> todo = new ArrayList<>();
        for (Spec s : plan(c))
            if ((only.isEmpty() || only.contains(s.name())) && !Files.exists(runPath(out, s))) todo.add(s);
        for (String name : only)
            if (plan(c).stream().noneMatch(s -> s.name().equals(name)))
                throw new IllegalArgumentException("cache study: no configuration named '" + name + "' in the plan; names: "
                        + plan(c).stream().map(Spec::name).toList());
        Map<String, CacheSchedule> schedules = new LinkedHashMap<>();
        for (Spec s : todo) schedules.put(s.name(), schedule(out, dit, train, c, s, progress));
        if (!schedulesOnly && !todo.isEmpty()) {
            FrechetDistance.Stats reference = FrechetDistance.stats(classifier, test.images(), test.size());
            warmUp(dit, c);
            String session = ProcessHandle.current().pid() + "@" + java.time.Instant.now();
            Map<String, Result> measured = new LinkedHashMap<>();
            Map<String, List<Double>> times = new LinkedHashMap<>();
            for (Spec s : todo) {
                Result r = measure(dit, classifier, reference, c, s, schedules.get(s.name()), out, session);
                AtomicFile.writeString(runPath(out, s), Json.write(r.toJson()) + "\n");
                measured.put(s.name(), r);
                times.put(s.name(), new ArrayList<>(List.of(r.seconds())));
                progress.accept(String.format(java.util.Locale.ROOT, "%-22s %7.1f s  %6.2f GFLOP/sample  skipped %3.0f%% attn %3.0f%% mlp  FD %7.2f +- %.2f  acc %.3f",
                        s.name(), r.seconds(), r.flopsPerSample() / 1e9, 100 * r.skippedAttention(), 100 * r.skippedMlp(), r.fd(), r.fdStd(), r.classAccuracy()));
            }
            // Further rounds over all configurations, interleaved so that a slow spell of a shared machine falls on
            // every configuration rather than on one; each result keeps the median of its rounds.
            for (int round = 2; round <= c.timingRounds(); round++) {
                for (Spec s : todo) {
                    List<Double> ts = times.get(s.name());
                    ts.add(time(dit, c, s, schedules.get(s.name())));
                    Result r = measured.get(s.name()).withSeconds(median(ts), ts.size());
                    AtomicFile.writeString(runPath(out, s), Json.write(r.toJson()) + "\n");
                }
                progress.accept("timing round " + round + " of " + c.timingRounds() + " done");
            }
        }
        return results(out);
    }

    static Path runPath(Path out, Spec s) { return out.resolve("runs").resolve(s.name() + ".json"); }

    /** Every result on disk, in file-name order. */
    public static List<Result> results(Path out) throws java.io.IOException {
        List<Result> rs = new ArrayList<>();
        Path dir = out.resolve("runs");
        if (!Files.isDirectory(dir)) return rs;
        try (var files = Files.list(dir)) {
            for (Path p : files.filter(f -> f.toString().endsWith(".json")).sorted().toList())
                rs.add(Result.fromJson(Json.parseObject(read(p), p.toString())));
        }
        return rs;
    }

    /**
     * Compiles the full and the cached sampling paths at the study's batch shape before anything is timed: rounds of a
     * 4-step full and a 4-step cached sampling until one round is within 5% of the one before (at most 8 rounds). A
     * fixed two small rounds left the first configuration timed while C2 was still compiling (DDIM-10 at 60% of the
     * later configurations' GFLOP/s on 2 cores).
     */
    private static void warmUp(Dit dit, Config c) {
        int per = Math.max(1, Math.min(c.samples(), c.batch()) / dit.config.classes());
        int[] labels = labels(dit.config.classes(), per);
        DdimSampler s = new DdimSampler(4);
        boolean[][] half = {{true, false}, {false, true}};
        boolean[][] mask = new boolean[2][dit.config.subLayers()];
        for (int i = 0; i < 2; i++) for (int j = 0; j < mask[i].length; j++) mask[i][j] = half[i][j % 2];
        CacheSchedule cached = CacheBaselines.ofMask(4, dit.config.depth(), mask);
        double last = Double.POSITIVE_INFINITY;
        for (int round = 0; round < 8; round++) {
            long t0 = System.nanoTime();
            s.sample(dit, labels, c.cfg(), c.seed(), null, c.theta(), DdimSampler.Skipped.REUSE, c.batch());
            s.sample(dit, labels, c.cfg(), c.seed(), cached, c.theta(), DdimSampler.Skipped.REUSE, c.batch());
            double t = System.nanoTime() - t0;
            if (round > 0 && Math.abs(t - last) <= 0.05 * last) break;
            last = t;
        }
    }

    static double median(List<Double> xs) {
        double[] v = xs.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

    /** A configuration's samples, the same for every call (class-balanced labels, the study's seed). */
    private static float[] sample(Dit dit, Config c, Spec s, CacheSchedule schedule) {
        int classes = dit.config.classes();
        DdimSampler.Skipped skipped = s.kind().equals("drop") ? DdimSampler.Skipped.DROP : DdimSampler.Skipped.REUSE;
        return new DdimSampler(s.steps()).sample(dit, labels(classes, c.samples() / classes), c.cfg(), c.seed(), schedule, s.theta(), skipped, c.batch());
    }

    /** Seconds of one more sampling of a configuration (a timing round). */
    private static double time(Dit dit, Config c, Spec s, CacheSchedule schedule) {
        long t0 = System.nanoTime();
        sample(dit, c, s, schedule);
        return (System.nanoTime() - t0) / 1e9;
    }

    private static Result measure(Dit dit, FashionClassifier classifier, FrechetDistance.Stats reference, Config c, Spec s,
                                  CacheSchedule schedule, Path out, String session) {
        int classes = dit.config.classes(), per = c.samples() / classes, n = classes * per;
        int[] labels = labels(classes, per);
        long f0 = FlopCounter.total(), t0 = System.nanoTime();
        float[] images = sample(dit, c, s, schedule);
        double seconds = (System.nanoTime() - t0) / 1e9;
        long flops = FlopCounter.total() - f0;
        for (int i = 0; i < images.length; i++) images[i] = Math.max(-1f, Math.min(1f, images[i]));
        int side = dit.config.imageSize(), image = side * side * dit.config.channels(), shown = Math.min(per, 10);
        float[] grid = new float[classes * shown * image];
        for (int k = 0; k < classes; k++) System.arraycopy(images, k * per * image, grid, k * shown * image, shown * image);
        Png.writeGrid(out.resolve("grids").resolve(s.name() + ".png"), grid, classes * shown, side, side, classes, shown, 2, Png.Range.MINUS_ONE_ONE);
        float[] features = FrechetDistance.features(classifier, images, n);
        FrechetDistance.Stats stats = FrechetDistance.Stats.of(features, n, FashionClassifier.FEATURES);
        double fd = FrechetDistance.distance(stats, reference);
        double fdStd = FrechetDistance.bootstrapStd(features, n, FashionClassifier.FEATURES, reference, c.bootstrapDraws(), c.seed() ^ 0xB007L);
        double[] skip = schedule == null ? new double[3] : schedule.skipped(s.theta());
        Path ddim = out.resolve("samples").resolve("ddim-" + s.steps() + ".safetensors");
        double rmse = Double.NaN;
        if (!s.cached()) Safetensors.write(ddim, Map.of("images", Tensor.of(images, n, dit.config.channels(), side, side)));
        else if (Files.exists(ddim)) rmse = rms(images, Safetensors.read(ddim).tensor("images").toFloatArray());
        return new Result(s, n, seconds, flops / (double) n, skip[0], skip[1], fd, fdStd, FrechetDistance.classAccuracy(classifier, images, labels),
                rmse, 1, WorkerPool.global().threads(), dit.device().toString(), session);
    }

    /** sqrt(mean((a - b)^2)), NaN when the two are not the same size (samples of another sample count). */
    static double rms(float[] a, float[] b) {
        if (a.length != b.length) return Double.NaN;
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            double d = (double) a[i] - b[i];
            s += d * d;
        }
        return Math.sqrt(s / a.length);
    }
}
