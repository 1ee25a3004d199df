package org.tessella.cli;

import org.tessella.ar.ArTraining;
import org.tessella.ar.Gpt;
import org.tessella.data.Dataset;
import org.tessella.data.FashionMnist;
import org.tessella.eval.Evaluation;
import org.tessella.eval.FashionClassifier;
import org.tessella.io.Checkpoint;
import org.tessella.io.Json;
import org.tessella.tokenizer.VqTokenizer;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/** {@code tessella eval}: every metric of a tokenizer (and of a stage-2 model over it) into one metrics.json. */
final class EvalCommand implements Command {
    @Override public String name() { return "eval"; }

    @Override public String summary() { return "all metrics of a tokenizer and a stage-2 model: PSNR, SSIM, usage, bits/token, FD, accuracy"; }

    @Override public String help() {
        return """
                usage: tessella eval --tokenizer DIR [--ar DIR [--classifier DIR]] --out DIR [options]
                  Writes DIR/metrics.json: the tokenizer's test PSNR, MSE, SSIM, codebook usage, code entropy (also
                  given the position) and perplexity; with --ar, the stage-2 model's validation bits per token on the
                  test images' tokens; with --classifier too, class-balanced samples decoded and scored: the Frechet
                  distance of their classifier features to the test set's, and their class accuracy. Training FLOPs
                  are copied from the runs (tokenizer_train_flops, ar_train_flops) when they recorded them.
                options:
                  --tokenizer DIR      a train-tokenizer run (required)
                  --ar DIR             a train-ar run on this tokenizer's tokens
                  --classifier DIR     a train-classifier run, for the Frechet distance and class accuracy
                  --out DIR            where metrics.json goes (required)
                  --samples N          samples for the Frechet distance (default 1000, whole classes)
                  --cfg S              classifier-free guidance scale of the samples (default 2)
                  --seed S             sampling seed (default 1)
                  --limit N            evaluate on the first N test images (default all 10,000)
                  --data DIR           directory with the Fashion-MNIST IDX files
                  --threads N          worker threads""";
    }

    @Override public int run(String[] argv) throws Exception {
        Args a = Args.parse(name(), argv, Set.of("tokenizer", "ar", "classifier", "out", "samples", "cfg", "seed", "limit", "data", "threads"), Set.of());
        Main.configureThreads(a);
        Path tokDir = a.requiredPath(name(), "tokenizer"), out = a.requiredPath(name(), "out");
        if (a.has("classifier") && !a.has("ar"))
            throw new UsageException("--classifier scores samples of a stage-2 model: pass --ar DIR too");
        int samples = a.integer("samples", 1000), limit = a.integer("limit", FashionMnist.Split.TEST.count());
        if (samples < 1 || limit < 1) throw new UsageException("--samples and --limit must be at least 1");
        VqTokenizer tokenizer = VqTokenizer.load(tokDir);
        Dataset test = FashionMnist.load(a.path("data"), FashionMnist.Split.TEST, limit);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("tokenizer", tokDir.toString());
        m.putAll(Evaluation.tokenizer(tokenizer, test));
        System.out.printf(Locale.ROOT, "tokenizer: psnr %.2f dB, ssim %.4f, usage %.3f, entropy %.2f bits (%.2f given the position)%n",
                m.get("test_psnr_db"), m.get("test_ssim"), m.get("codebook_usage"), m.get("code_entropy_bits"), m.get("code_entropy_given_position_bits"));
        recordedFlops(tokDir.resolve("metrics.json")).ifPresent(f -> m.put("tokenizer_train_flops", f));
        if (a.has("ar")) {
            Path arDir = a.requiredPath(name(), "ar");
            Gpt model = ArTraining.load(arDir);
            FashionClassifier classifier = a.has("classifier") ? FashionClassifier.load(a.requiredPath(name(), "classifier")) : null;
            m.put("ar", arDir.toString());
            m.putAll(Evaluation.generator(model, tokenizer, classifier, test, samples, a.number("cfg", 2f), a.longValue("seed", 1)));
            Json.Obj rng = Checkpoint.load(arDir.resolve(ArTraining.CHECKPOINT)).rng();
            if (rng.has("train_flops")) m.put("ar_train_flops", rng.longValue("train_flops"));
            System.out.printf(Locale.ROOT, "stage 2: val %.4f bits/token%s%n", m.get("val_bits_per_token"), classifier == null ? ""
                    : String.format(Locale.ROOT, ", FD %.2f, class accuracy %.3f (%s samples)", m.get("fd"), m.get("class_accuracy"), m.get("samples")));
        }
        Files.createDirectories(out);
        TrainClassifierCommand.writeJson(out.resolve("metrics.json"), m);
        System.out.println("wrote " + out.resolve("metrics.json"));
        return 0;
    }

    /** train_flops from a run's metrics.json, when it has one. */
    private static java.util.Optional<Long> recordedFlops(Path metrics) throws java.io.IOException {
        if (!Files.exists(metrics)) return java.util.Optional.empty();
        Json.Obj o = Json.parseObject(Files.readString(metrics), metrics.toString());
        return o.has("train_flops") ? java.util.Optional.of(o.longValue("train_flops")) : java.util.Optional.empty();
    }
}
