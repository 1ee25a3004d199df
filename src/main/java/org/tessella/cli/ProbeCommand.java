package org.tessella.cli;

import org.tessella.ar.TokenFile;
import org.tessella.cpu.WorkerPool;
import org.tessella.eval.TokenProbe;
import org.tessella.io.TrainingLog;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/** {@code tessella probe}: the stage-2 probe of a token file (what train-tokenizer writes as probe_bits_per_token). */
final class ProbeCommand implements Command {
    @Override public String name() { return "probe"; }

    @Override public String summary() { return "bits per token of a fixed small stage-2 probe trained on a token file"; }

    @Override public String help() {
        return """
                usage: tessella probe --tokens FILE [options]
                  Trains a small stage-2 transformer with a fixed seed for a fixed number of steps on the token file's
                  training sequences and prints its bits per token on all the test sequences (and on the first
                  %d training sequences): the probe that train-tokenizer writes into metrics.json as
                  probe_bits_per_token. Runs with the same options compare between tokenizers of the same token
                  count and codebook size.
                options:
                  --tokens FILE        token file: train-tokenizer's DIR/tokens.safetensors, encode's or synth-tokens' output (required)
                  --steps N            training steps (default %d)
                  --model NAME         gpt-xs (default), gpt-s or gpt-m
                  --batch N            sequences per step (default 64)
                  --seed S             seed for initialisation, data order and class dropout (default 1)
                  --json FILE          also write the numbers (probe_bits_per_token, ...) as JSON
                  --threads N          worker threads""".formatted(TokenProbe.TRAIN_EVAL_SEQUENCES, TokenProbe.DEFAULT_STEPS);
    }

    @Override public int run(String[] argv) throws Exception {
        Args a = Args.parse(name(), argv, Set.of("tokens", "steps", "model", "batch", "seed", "json", "threads"), Set.of());
        Main.configureThreads(a);
        Path file = a.path("tokens").orElseThrow(() -> new UsageException(name() + ": --tokens FILE is required"));
        TokenProbe.Options o = options(a, TokenProbe.Options.defaults(), "steps", "model");
        if (o == null) throw new UsageException("--steps must be at least 1");
        o = o.withBatch(a.integer("batch", o.batch())).withSeed(a.longValue("seed", o.seed()));
        if (o.batch() < 1) throw new UsageException("--batch must be at least 1");
        TokenFile tokens = TokenFile.read(file);
        System.out.printf("probe: %s on %s (vocabulary %d, %d tokens, %d train / %d test sequences), %d steps of %d, %d threads%n",
                o.model(), file, tokens.vocab(), tokens.length(), tokens.train().size(), tokens.test().size(), o.steps(), o.batch(),
                WorkerPool.global().threads());
        TokenProbe.Result r;
        try (TrainingLog log = new TrainingLog("probe", "tok", o.steps(), null)) {
            r = TokenProbe.run(tokens, o, log);
        }
        System.out.println(r.summary());
        if (a.has("json")) {
            Path json = a.path("json").get();
            Path parent = json.toAbsolutePath().getParent();
            if (parent != null) Files.createDirectories(parent);
            Map<String, Object> m = new LinkedHashMap<>(r.metrics());
            m.put("tokens", file.toString());
            TrainClassifierCommand.writeJson(json, m);
            System.out.println("wrote " + json);
        }
        return 0;
    }

    /**
     * The probe options of a command: {@code --STEPS} (0 = no probe: returns null) and {@code --MODEL} over
     * {@code defaults}; usage errors for bad values.
     */
    static TokenProbe.Options options(Args a, TokenProbe.Options defaults, String stepsOption, String modelOption) {
        long steps = a.longValue(stepsOption, defaults.steps());
        if (steps < 0) throw new UsageException("--" + stepsOption + " must be 0 (no probe) or more, got " + steps);
        String model = a.string(modelOption, defaults.model());
        if (!Set.of("gpt-xs", "gpt-s", "gpt-m").contains(model))
            throw new UsageException("--" + modelOption + ": unknown model '" + model + "': use gpt-xs, gpt-s or gpt-m");
        return steps == 0 ? null : defaults.withSteps(steps).withModel(model);
    }
}
