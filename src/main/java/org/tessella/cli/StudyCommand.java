package org.tessella.cli;

import org.tessella.eval.Study;

import java.nio.file.Path;
import java.util.Set;

/** {@code tessella study}: the CRT trade-off experiment (see {@link Study}) and its report. */
final class StudyCommand implements Command {
    /** The CRT weight the study and the quickstart use unless told otherwise (chosen from the lambda sweep in the README). */
    static final float DEFAULT_CRT_WEIGHT = 1f;

    @Override public String name() { return "study"; }

    @Override public String summary() { return "the CRT trade-off experiment: tokenizers, stage-2 sizes, FD, report.html"; }

    @Override public String help() {
        return """
                usage: tessella study --out DIR [options]
                  Trains tokenizers without and with CRT at 64 and 16 tokens per image, stage-2 models of several
                  sizes on each tokenizer's tokens (evaluated at several points: validation bits/token, Frechet
                  distance and class accuracy of samples), and writes DIR/report.html, DIR/study.csv and
                  DIR/tokenizers.csv. A killed study resumes where it stopped when run again with the same options.
                options:
                  --out DIR             output directory (required)
                  --budget-minutes M    about M minutes on a two-core machine (default 30: the reduced study,
                                        gpt-xs and gpt-s; from 60 on gpt-m joins and runs grow)
                  --crt-weight L        CRT weight of the regularized tokenizers (default %s)
                  --classifier DIR      a trained classifier (train-classifier) instead of training one in DIR/classifier
                  --data DIR            directory with the Fashion-MNIST IDX files
                  --threads N           worker threads (default: all cores)""".formatted(DEFAULT_CRT_WEIGHT);
    }

    @Override public int run(String[] argv) throws Exception {
        Args a = Args.parse(name(), argv, Set.of("out", "budget-minutes", "crt-weight", "classifier", "data", "threads"), Set.of());
        Main.configureThreads(a);
        Path out = a.requiredPath(name(), "out");
        Study.Plan plan;
        try {
            plan = Study.Plan.forBudget(a.number("budget-minutes", 30f), crtWeight(a));
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage());
        }
        Study.run(out, plan, a.path("data"), a.path("classifier"), System.out::println);
        return 0;
    }

    static float crtWeight(Args a) {
        float w = a.number("crt-weight", DEFAULT_CRT_WEIGHT);
        if (!(w > 0) || Float.isInfinite(w)) throw new UsageException("--crt-weight must be finite and > 0, got " + w);
        return w;
    }
}
