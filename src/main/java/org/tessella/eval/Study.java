package org.tessella.eval;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import org.tessella.ar.ArTraining;
import org.tessella.ar.Gpt;
import org.tessella.ar.GptConfig;
import org.tessella.ar.TokenFile;
import org.tessella.data.Dataset;
import org.tessella.data.FashionMnist;
import org.tessella.io.AtomicFile;
import org.tessella.io.Checkpoint;
import org.tessella.io.Csv;
import org.tessella.io.Json;
import org.tessella.io.Png;
import org.tessella.nn.Init;
import org.tessella.tokenizer.TokenizerTraining;
import org.tessella.tokenizer.VqConfig;
import org.tessella.tokenizer.VqTokenizer;

/**
 * The CRT trade-off experiment: tokenizers without and with the causal regularizer at two compression levels, then
 * stage-2 models of several sizes on each tokenizer's tokens, each evaluated at several points of its training
 * (validation bits per token, Frechet distance and class accuracy of samples), all on the same data and seeds.
 *
 * <p>Layout of the output directory: {@code plan.json}; {@code classifier/}; {@code tok-ID/} per tokenizer (its
 * training run, {@code tokens.safetensors}, {@code summary.json} once finished); {@code ar-ID-MODEL/} per stage-2 run
 * (its training run, {@code points.csv} with one row per evaluated point, {@code samples.png} once finished);
 * {@code study.csv} and {@code report.html} from {@link StudyReport}. A killed study resumes where it stopped: finished
 * tokenizers and evaluated points are read back, unfinished runs resume from their last checkpoint (bit-exactly, as the
 * trainers guarantee), so the numbers do not depend on where it was interrupted.
 */
public final class Study {
    private Study() {}

    /**
     * Every tokenizer of a study, baseline and CRT alike, trains with this weight on the quantizer's entropy loss.
     * Measured (README, CRT sweep): without it the regularizer barely changes the probe's bits per token (-4% at
     * weight 1, -7% at 4, for -0.6 and -1.1 dB); with it, the same weights give -20% and -39% at -0.2 and -1.0 dB,
     * with every code in use.
     */
    public static final float TOKENIZER_ENTROPY_WEIGHT = 0.01f;

    /** One tokenizer of the grid: {@code preset} (vq-s: 64 tokens, vq-s16: 16) with a codebook size and CRT weight. */
    public record TokenizerSpec(String id, String preset, int codebook, float crtWeight) {
        public boolean crt() { return crtWeight > 0; }

        /** The same compression with the other regularizer setting (the baseline of a CRT tokenizer and vice versa). */
        public String pairKey() { return preset + "/" + codebook; }
    }

    /**
     * What to train. Stage-2 runs train {@code arEpochs} over the first {@code arSequences} training images and are
     * evaluated after {@code 1/2^(evalPoints-1) ... 1/2, 1} of their steps.
     */
    public record Plan(String kind, List<TokenizerSpec> tokenizers, List<String> models, int tokenizerImages, int tokenizerEpochs,
                       int tokenizerBatch, int arSequences, int arEpochs, int evalPoints, int evalSequences, int fdSamples, float cfg,
                       int classifierEpochs, long seed) {
        /**
         * A plan for about {@code minutes} on a two-core machine (costs measured there: see the README's study
         * section). Under an hour the grid keeps gpt-xs and gpt-s; from an hour on it adds gpt-m; the tokenizer and
         * stage-2 lengths grow with the budget up to five tokenizer epochs and a full pass over the training set per stage-2 epoch.
         */
        public static Plan forBudget(double minutes, float crtWeight) {
            if (!(minutes >= 5)) throw new IllegalArgumentException("--budget-minutes must be at least 5, got " + minutes);
            List<String> models = minutes < 60 ? List.of("gpt-xs", "gpt-s") : List.of("gpt-xs", "gpt-s", "gpt-m");
            int tokImages = (int) Math.min(60_000, Math.round(minutes * 200));
            int tokEpochs = minutes < 200 ? 1 : (int) Math.min(5, Math.round(minutes / 200));
            int arSeq = (int) Math.min(60_000, Math.round(minutes * 300));
            int arEpochs = minutes < 120 ? 1 : (int) Math.min(10, Math.round(minutes / 120));
            int points = minutes < 60 ? 3 : 5;
            int fd = (int) Math.min(2000, Math.max(300, Math.round(minutes * 15)));
            return new Plan(minutes < 60 ? "reduced" : "full", grid(crtWeight), models, tokImages, tokEpochs, tokImages < 20_000 ? 32 : 64,
                    arSeq, arEpochs, points,
                    2000, fd, 2f, minutes < 60 ? 1 : 3, 1);
        }

        /** The quickstart: one compression level, baseline and CRT, gpt-xs, a few minutes in all. */
        public static Plan quickstart(float crtWeight) {
            return new Plan("quickstart", List.of(new TokenizerSpec("t64-base", "vq-s", 1024, 0f), new TokenizerSpec("t64-crt", "vq-s", 1024, crtWeight)),
                    List.of("gpt-xs"), 4000, 1, 32, 12800, 1, 2, 1000, 300, 2f, 1, 1);
        }

        static List<TokenizerSpec> grid(float crtWeight) {
            return List.of(new TokenizerSpec("t64-base", "vq-s", 1024, 0f), new TokenizerSpec("t64-crt", "vq-s", 1024, crtWeight),
                    new TokenizerSpec("t16-base", "vq-s16", 1024, 0f), new TokenizerSpec("t16-crt", "vq-s16", 1024, crtWeight));
        }

        public Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("kind", kind);
            List<Object> toks = new ArrayList<>();
            for (TokenizerSpec t : tokenizers) {
                Map<String, Object> o = new LinkedHashMap<>();
                o.put("id", t.id());
                o.put("preset", t.preset());
                o.put("codebook", t.codebook());
                o.put("crt_weight", t.crtWeight());
                toks.add(o);
            }
            m.put("tokenizers", toks);
            m.put("models", new ArrayList<>(models));
            m.put("tokenizer_images", tokenizerImages);
            m.put("tokenizer_epochs", tokenizerEpochs);
            m.put("tokenizer_batch", tokenizerBatch);
            m.put("tokenizer_entropy_weight", TOKENIZER_ENTROPY_WEIGHT);
            m.put("ar_sequences", arSequences);
            m.put("ar_epochs", arEpochs);
            m.put("eval_points", evalPoints);
            m.put("eval_sequences", evalSequences);
            m.put("fd_samples", fdSamples);
            m.put("cfg", cfg);
            m.put("classifier_epochs", classifierEpochs);
            m.put("seed", seed);
            return m;
        }
    }

    /** A finished tokenizer's numbers. */
    /** positionEntropyBits: H(code | position) on the test images (see {@code TokenizerTraining.Eval}). */
    public record TokenizerSummary(TokenizerSpec spec, int tokens, double psnrDb, double ssim, double usage, double entropyBits,
                                   double positionEntropyBits, double perplexity, double crtLoss, double trainSeconds, long trainFlops) {}

    /** One evaluated point of a stage-2 run. */
    public record Point(String tokenizer, String model, long step, long trainFlops, double trainSeconds, double valBitsPerToken,
                        double fd, double classAccuracy) {}

    public static final List<String> POINT_COLUMNS = List.of("tokenizer", "model", "step", "train_flops", "train_seconds",
            "val_bits_per_token", "fd", "class_accuracy");

    /** Everything the report needs. */
    public record Results(Plan plan, List<TokenizerSummary> tokenizers, List<Point> points, Path dir) {}

    /**
     * Runs (or resumes) the plan in {@code out}; {@code progress} gets one line per stage. The classifier comes from
     * {@code classifierDir} when given, else from {@code out/classifier}, trained there when missing.
     */
    public static Results run(Path out, Plan plan, Optional<Path> dataDir, Optional<Path> classifierDir, Consumer<String> progress) throws Exception {
        return run(out, plan, FashionMnist.load(dataDir, FashionMnist.Split.TRAIN), FashionMnist.load(dataDir, FashionMnist.Split.TEST),
                classifierDir, progress);
    }

    /** {@link #run(Path, Plan, Optional, Optional, Consumer)} on given data (1x32x32 images in [-1, 1], 10 classes). */
    public static Results run(Path out, Plan plan, Dataset train, Dataset test, Optional<Path> classifierDir, Consumer<String> progress) throws Exception {
        Files.createDirectories(out);
        checkPlan(out, plan);
        long t0 = System.nanoTime();
        Consumer<String> say = s -> progress.accept(String.format(Locale.ROOT, "[%s] %s", clock(t0), s));
        FashionClassifier classifier = classifier(out, plan, classifierDir, train, test, say);
        FrechetDistance.Stats reference = FrechetDistance.stats(classifier, test.images(), test.size());

        List<TokenizerSummary> toks = new ArrayList<>();
        Map<String, VqTokenizer> models = new LinkedHashMap<>();
        Map<String, TokenFile> tokens = new LinkedHashMap<>();
        for (TokenizerSpec spec : plan.tokenizers()) {
            Path dir = out.resolve("tok-" + spec.id());
            TokenizerSummary s = tokenizer(dir, spec, plan, train, test, say);
            toks.add(s);
            models.put(spec.id(), VqTokenizer.load(dir));
            tokens.put(spec.id(), TokenFile.read(dir.resolve("tokens.safetensors")));
        }
        List<Point> points = new ArrayList<>();
        for (TokenizerSpec spec : plan.tokenizers())
            for (String model : plan.models())
                points.addAll(stage2(out.resolve("ar-" + spec.id() + "-" + model), spec, model, plan, tokens.get(spec.id()),
                        models.get(spec.id()), classifier, reference, say));
        Results r = new Results(plan, toks, points, out);
        StudyReport.write(r);
        say.accept("wrote " + out.resolve("report.html"));
        return r;
    }

    private static String clock(long t0) {
        long s = (System.nanoTime() - t0) / 1_000_000_000L;
        return String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60);
    }

    /** plan.json is written once; a different plan in the same directory would mix incomparable runs. */
    private static void checkPlan(Path out, Plan plan) {
        Path f = out.resolve("plan.json");
        String json = Json.write(plan.toJson());
        if (Files.exists(f)) {
            String old;
            try {
                old = Files.readString(f);
            } catch (java.io.IOException e) {
                throw new org.tessella.io.TessellaIOException("cannot read " + f + ": " + e.getMessage(), e);
            }
            if (!old.strip().equals(json.strip()))
                throw new IllegalArgumentException(out + " holds a study with another plan (" + f + "); resume it with the same "
                        + "options or choose another --out");
        } else {
            AtomicFile.writeString(f, json);
        }
    }

    private static FashionClassifier classifier(Path out, Plan plan, Optional<Path> given, Dataset train, Dataset test, Consumer<String> say) {
        if (given.isPresent()) return FashionClassifier.load(given.get());
        Path dir = out.resolve("classifier");
        if (Files.exists(dir.resolve(FashionClassifier.CHECKPOINT))) return FashionClassifier.load(dir);
        say.accept("classifier: training " + plan.classifierEpochs() + " epoch(s) for the Frechet distance features");
        FashionClassifier m = new FashionClassifier(new Init(plan.seed()));
        ClassifierTraining.Config d = ClassifierTraining.Config.defaults();
        ClassifierTraining.Result r = ClassifierTraining.train(m, train, test,
                new ClassifierTraining.Config(plan.classifierEpochs(), d.batch(), d.lr(), d.weightDecay(), plan.seed(), d.warmupSteps(), d.clip()),
                null, null);
        try {
            Files.createDirectories(dir);
        } catch (java.io.IOException e) {
            throw new org.tessella.io.TessellaIOException("cannot create " + dir + ": " + e.getMessage(), e);
        }
        Checkpoint.save(dir.resolve(FashionClassifier.CHECKPOINT), m.stateDict(), Checkpoint.meta(Map.of("model", "fashion-classifier"), r.steps(), Map.of()));
        say.accept(String.format(Locale.ROOT, "classifier: test accuracy %.4f (%.0f s)", r.testAccuracy(), r.trainSeconds()));
        m.eval();
        return m;
    }

    private static TokenizerSummary tokenizer(Path dir, TokenizerSpec spec, Plan plan, Dataset train, Dataset test, Consumer<String> say) throws Exception {
        Path summary = dir.resolve("summary.json");
        if (Files.exists(summary)) return readSummary(summary, spec);
        Files.createDirectories(dir);
        VqConfig vc = VqConfig.preset(spec.preset()).withCodebookSize(spec.codebook());
        TokenizerTraining.Config cfg = studyTokenizerConfig(plan).withCrt(spec.crtWeight(), false);
        Dataset sub = train.subset(Math.min(train.size(), plan.tokenizerImages()));
        // test-set numbers, reconstructions and the stage-2 validation tokens all come from the first evalSequences
        // test images; the Frechet reference uses the whole test set
        Dataset testSub = test.subset(Math.min(test.size(), plan.evalSequences()));
        VqTokenizer model = new VqTokenizer(vc, new Init(plan.seed()));
        boolean resume = Files.exists(dir.resolve(TokenizerTraining.CHECKPOINT));
        say.accept(String.format(Locale.ROOT, "tokenizer %s: %s, crt weight %s, %d images x %d epoch(s)%s", spec.id(), vc.name(),
                spec.crtWeight(), sub.size(), cfg.epochs(), resume ? ", resuming" : ""));
        TokenizerTraining.Result r = TokenizerTraining.train(model, sub, testSub, cfg, dir, resume, null);
        model.save(dir, r.steps());
        TokenizerTraining.writeReconstructions(dir.resolve("reconstructions.png"), model, testSub, 16);
        TokenProbe.tokenFile(model, train.subset(Math.min(train.size(), plan.arSequences())), testSub,
                Map.of("source", "fashion-mnist", "tokenizer", spec.id())).write(dir.resolve("tokens.safetensors"));
        double ssim = Evaluation.reconstructionSsim(model, testSub, 1000);
        TokenizerSummary s = new TokenizerSummary(spec, vc.tokensPerImage(), r.test().psnrDb(), ssim, r.test().codebookUsage(),
                r.test().entropyBits(), r.test().positionEntropyBits(), Math.pow(2, r.test().entropyBits()), r.test().crtLoss(),
                r.trainSeconds(), r.trainFlops());
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("psnr_db", s.psnrDb());
        m.put("ssim", s.ssim());
        m.put("codebook_usage", s.usage());
        m.put("code_entropy_bits", s.entropyBits());
        m.put("code_entropy_given_position_bits", s.positionEntropyBits());
        m.put("perplexity", s.perplexity());
        m.put("crt_loss", Double.isFinite(s.crtLoss()) ? s.crtLoss() : null);
        m.put("tokens_per_image", s.tokens());
        m.put("train_seconds", s.trainSeconds());
        m.put("train_flops", s.trainFlops());
        AtomicFile.writeString(summary, Json.write(m));
        say.accept(String.format(Locale.ROOT, "tokenizer %s: psnr %.2f dB, ssim %.3f, usage %.3f, entropy %.2f bits (%.2f given the position) (%.0f s)",
                spec.id(), s.psnrDb(), s.ssim(), s.usage(), s.entropyBits(), s.positionEntropyBits(), s.trainSeconds()));
        return s;
    }

    /** The tokenizer trainer's defaults with the plan's epochs and seed, and a CRT ramp short enough for short runs. */
    static TokenizerTraining.Config studyTokenizerConfig(Plan plan) {
        TokenizerTraining.Config d = TokenizerTraining.Config.defaults();
        long steps = (long) plan.tokenizerImages() / plan.tokenizerBatch() * plan.tokenizerEpochs();
        return new TokenizerTraining.Config(plan.tokenizerEpochs(), plan.tokenizerBatch(), d.lr(), d.minLr(), d.weightDecay(), d.clip(), d.warmupSteps(),
                plan.seed(), 0f, Math.min(d.crtRampSteps(), Math.max(1, steps / 5)), false, d.crtLr(), d.restartEvery(), d.deadAfter(),
                TOKENIZER_ENTROPY_WEIGHT, TokenizerTraining.ExtraLosses.NONE, 0);
    }

    private static TokenizerSummary readSummary(Path f, TokenizerSpec spec) {
        Json.Obj o;
        try {
            o = Json.parseObject(Files.readString(f), f.toString());
        } catch (java.io.IOException e) {
            throw new org.tessella.io.TessellaIOException("cannot read " + f + ": " + e.getMessage(), e);
        }
        return new TokenizerSummary(spec, o.integer("tokens_per_image"), o.number("psnr_db"), o.number("ssim"), o.number("codebook_usage"),
                o.number("code_entropy_bits"), o.has("code_entropy_given_position_bits") ? o.number("code_entropy_given_position_bits") : Double.NaN,
                o.number("perplexity"), o.has("crt_loss") && o.get("crt_loss") != null ? o.number("crt_loss") : Double.NaN,
                o.number("train_seconds"), o.longValue("train_flops"));
    }

    private static List<Point> stage2(Path dir, TokenizerSpec spec, String modelName, Plan plan, TokenFile data, VqTokenizer tokenizer,
                                      FashionClassifier classifier, FrechetDistance.Stats reference, Consumer<String> say) throws Exception {
        Files.createDirectories(dir);
        Path csv = dir.resolve("points.csv");
        List<Point> done = readPoints(csv);
        ArTraining.Config d = ArTraining.Config.defaults();
        int batch = d.batch();
        long total = (long) (data.train().size() / batch) * plan.arEpochs();
        List<Long> at = evalSteps(total, plan.evalPoints());
        TokenFile.Split evalSplit = new TokenFile.Split(
                Arrays.copyOf(data.test().tokens(), Math.min(data.test().size(), plan.evalSequences()) * data.length()),
                Arrays.copyOf(data.test().labels(), Math.min(data.test().size(), plan.evalSequences())));
        TokenFile evalData = new TokenFile(data.vocab(), data.length(), data.gridH(), data.gridW(), data.classes(), data.train(), evalSplit, data.extra());
        for (long step : at) {
            if (done.stream().anyMatch(p -> p.step() == step)) continue;
            boolean resume = Files.exists(dir.resolve(ArTraining.CHECKPOINT));
            Gpt model;
            if (resume) {
                model = new Gpt(GptConfig.fromJson(ArTraining.storedConfig(dir).object("model")), plan.seed());
            } else {
                GptConfig mc = GptConfig.preset(modelName, data.vocab(), data.length(), data.gridH(), data.gridW(), data.classes());
                model = new Gpt(mc, plan.seed());
            }
            ArTraining.Config cfg = new ArTraining.Config(plan.arEpochs(), batch, d.lr(), d.minLr(), d.weightDecay(), d.clip(),
                    (int) Math.min(d.warmupSteps(), Math.max(1, total / 5)), plan.seed(), step);
            say.accept(String.format(Locale.ROOT, "stage 2 %s on %s: training to step %d/%d", modelName, spec.id(), step, total));
            ArTraining.Result r = ArTraining.train(model, evalData, cfg, dir, resume, null, null);
            Gpt trained = ArTraining.load(dir);
            ArTraining.Eval val = ArTraining.evaluate(trained, evalSplit, data.length(), 256, new org.tessella.tensor.Workspace());
            GenerationEval.Result g = GenerationEval.evaluate(trained, tokenizer, classifier, reference, plan.fdSamples(), plan.cfg(), plan.seed());
            Point p = new Point(spec.id(), modelName, r.steps(), r.trainFlops(), r.trainSeconds(), val.bitsPerToken(), g.frechetDistance(), g.classAccuracy());
            done.add(p);
            writePoints(csv, done);
            say.accept(String.format(Locale.ROOT, "stage 2 %s on %s: step %d, %.3g FLOPs, val %.4f bits/token, FD %.2f, class accuracy %.3f",
                    modelName, spec.id(), p.step(), (double) p.trainFlops(), p.valBitsPerToken(), p.fd(), p.classAccuracy()));
            if (step == total) writeSamples(dir.resolve("samples.png"), g);
        }
        return done;
    }

    /** total/2^(k-1), ..., total/2, total (distinct, at least 1). */
    static List<Long> evalSteps(long total, int points) {
        List<Long> s = new ArrayList<>();
        for (int i = points - 1; i >= 0; i--) {
            long v = Math.max(1, total >> i);
            if (s.isEmpty() || s.get(s.size() - 1) < v) s.add(v);
        }
        return s;
    }

    /** A grid with one row per class (at most 10 samples per row). */
    static void writeSamples(Path file, GenerationEval.Result g) {
        int per = g.count() / 10, cols = Math.min(10, per);
        float[] grid = new float[10 * cols * 1024];
        for (int c = 0; c < 10; c++)
            for (int j = 0; j < cols; j++)
                System.arraycopy(g.images(), (c * per + j) * 1024, grid, (c * cols + j) * 1024, 1024);
        Png.writeGrid(file, grid, 10 * cols, 32, 32, 10, cols, 2, Png.Range.MINUS_ONE_ONE);
    }

    static List<Point> readPoints(Path csv) {
        List<Point> out = new ArrayList<>();
        if (!Files.exists(csv)) return out;
        List<List<String>> rows = Csv.read(csv);
        for (List<String> r : rows.subList(1, rows.size()))
            out.add(new Point(r.get(0), r.get(1), Long.parseLong(r.get(2)), Long.parseLong(r.get(3)), Double.parseDouble(r.get(4)),
                    Double.parseDouble(r.get(5)), Double.parseDouble(r.get(6)), Double.parseDouble(r.get(7))));
        return out;
    }

    static void writePoints(Path csv, List<Point> points) {
        List<List<Object>> rows = new ArrayList<>();
        for (Point p : points)
            rows.add(List.of(p.tokenizer(), p.model(), p.step(), p.trainFlops(), p.trainSeconds(), p.valBitsPerToken(), p.fd(), p.classAccuracy()));
        Csv.write(csv, POINT_COLUMNS, rows);
    }
}
