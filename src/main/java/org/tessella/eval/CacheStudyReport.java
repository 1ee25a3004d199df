package org.tessella.eval;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.tessella.diffusion.CacheSchedule;
import org.tessella.eval.CacheStudy.Result;
import org.tessella.io.AtomicFile;
import org.tessella.io.Csv;
import org.tessella.io.HtmlPage;
import org.tessella.io.Png;
import org.tessella.io.SvgHeatMap;
import org.tessella.io.SvgPlot;

/**
 * The Learning-to-Cache study's report, drawn from whatever {@link CacheStudy} has measured: {@code results.csv},
 * {@code table.md} (the README's table), {@code report.html} with the goals answered in sentences, the Pareto plot of
 * FD against sampling time, heat maps of the learned router weights and of the measured per-step change, and sample
 * grids. Speed-ups are wall-clock ratios to plain DDIM with the same number of steps; "within noise" means the two
 * FDs differ by less than twice their combined bootstrap standard deviation.
 */
public final class CacheStudyReport {
    private CacheStudyReport() {}

    static final List<String> COLUMNS = List.of("name", "kind", "steps", "lambda", "theta", "samples", "ms_per_sample", "speedup",
            "gflops_per_sample", "skipped_attention", "skipped_mlp", "fd", "fd_std", "class_accuracy", "rmse_to_ddim", "timing_rounds", "threads", "device");

    static Optional<Result> find(List<Result> rs, String name) { return rs.stream().filter(r -> r.spec().name().equals(name)).findFirst(); }

    static double msPerSample(Result r) { return 1000 * r.seconds() / r.samples(); }

    /**
     * The results with their times taken from a separate timing run of the same configurations ({@code timing}, e.g.
     * all of them in one JVM on a quiet machine, fewer samples), scaled to each result's sample count; results the
     * timing run lacks keep their own time.
     */
    static List<Result> withTiming(List<Result> rs, List<Result> timing) {
        List<Result> out = new ArrayList<>();
        for (Result r : rs) {
            Optional<Result> t = find(timing, r.spec().name());
            out.add(t.map(x -> new Result(r.spec(), r.samples(), x.seconds() * r.samples() / x.samples(), r.flopsPerSample(), r.skippedAttention(),
                    r.skippedMlp(), r.fd(), r.fdStd(), r.classAccuracy(), r.rmseToDdim(), x.timingRounds(), x.threads(), x.device(), x.session()))
                    .orElse(r));
        }
        return out;
    }

    /** Wall-clock speed-up over plain DDIM with the same step count (NaN when that was not measured). */
    static double speedup(List<Result> rs, Result r) {
        return find(rs, "ddim-" + r.spec().steps()).map(d -> d.seconds() / r.seconds()).orElse(Double.NaN);
    }

    static boolean withinNoise(Result a, Result b) {
        return Math.abs(a.fd() - b.fd()) <= 2 * Math.hypot(a.fdStd(), b.fdStd());
    }

    /** The goal of issue 8 at each cached step count, answered from the numbers (good or bad). */
    static List<String> claims(List<Result> rs) {
        List<String> out = new ArrayList<>();
        for (Result l : rs) {
            if (!l.spec().kind().equals("l2c") || !l.spec().name().equals("l2c-" + l.spec().steps())) continue;
            int n = l.spec().steps(), fewer = n == 20 ? 16 : n == 50 ? 40 : Math.max(1, (int) Math.round(n * 0.8));
            Optional<Result> full = find(rs, "ddim-" + n), less = find(rs, "ddim-" + fewer);
            if (full.isEmpty()) continue;
            double s = full.get().seconds() / l.seconds();
            out.add(String.format(Locale.ROOT, "L2C at %d steps runs %.2fx as fast as DDIM-%d (%s the 1.2x goal), skipping %.0f%% of the cache steps' "
                            + "attention and %.0f%% of their MLP sub-layers (%.2f vs %.2f GFLOP per sample).", n, s, n, s >= 1.2 ? "meets" : "misses",
                    100 * l.skippedAttention(), 100 * l.skippedMlp(), l.flopsPerSample() / 1e9, full.get().flopsPerSample() / 1e9));
            out.add(String.format(Locale.ROOT, "Its FD is %.2f +- %.2f against DDIM-%d's %.2f +- %.2f: %s.", l.fd(), l.fdStd(), n, full.get().fd(),
                    full.get().fdStd(), withinNoise(l, full.get()) ? "within noise" : l.fd() < full.get().fd() ? "better, beyond noise" : "worse, beyond noise"));
            less.ifPresent(d -> out.add(String.format(Locale.ROOT, "DDIM-%d (%.2fx as fast as DDIM-%d) reaches FD %.2f +- %.2f: L2C-%d is %s.", fewer,
                    full.get().seconds() / d.seconds(), n, d.fd(), d.fdStd(), n,
                    l.fd() < d.fd() && !withinNoise(l, d) ? "better, beyond noise" : l.fd() < d.fd() ? "better, but within noise" : "not better")));
        }
        List<Result> base = rs.stream().filter(r -> CacheStudy.BASELINES.contains(r.spec().kind())).toList();
        if (!base.isEmpty()) {
            int n = base.get(0).spec().steps();
            find(rs, "l2c-" + n).ifPresent(l -> {
                StringBuilder b = new StringBuilder(String.format(Locale.ROOT, "At L2C-%d's number of skipped sub-layers, FD: L2C %.2f", n, l.fd()));
                for (Result r : base) b.append(String.format(Locale.ROOT, ", %s %.2f", r.spec().kind(), r.fd()));
                long lower = base.stream().filter(r -> l.fd() < r.fd()).count();
                List<String> beyond = base.stream().filter(r -> l.fd() < r.fd() && !withinNoise(l, r)).map(r -> r.spec().kind()).toList();
                b.append(String.format(Locale.ROOT, ": L2C's FD is lower than %d of the %d baselines, beyond noise against %s.", lower, base.size(),
                        beyond.isEmpty() ? "none" : String.join(", ", beyond)));
                out.add(b.toString());
                if (Double.isFinite(l.rmseToDdim())) {
                    List<Result> cached = new ArrayList<>(base.stream().filter(r -> !r.spec().kind().equals("drop")).toList());
                    cached.add(l);
                    cached.sort(Comparator.comparingDouble(Result::rmseToDdim));
                    StringBuilder f = new StringBuilder(String.format(Locale.ROOT, "Closeness to DDIM-%d's own samples from the same noise (RMSE of pixels in [-1, 1], "
                            + "what the routers are trained for):", n));
                    for (Result r : cached) f.append(String.format(Locale.ROOT, " %s %.4f,", r.spec().kind(), r.rmseToDdim()));
                    f.setLength(f.length() - 1);
                    f.append(String.format(Locale.ROOT, ": L2C ranks %d of %d.", cached.indexOf(l) + 1, cached.size()));
                    out.add(f.toString());
                }
            });
        }
        return out;
    }

    static List<List<?>> rows(List<Result> rs) {
        List<List<?>> rows = new ArrayList<>();
        for (Result r : sorted(rs))
            rows.add(List.of(r.spec().name(), r.spec().kind(), r.spec().steps(), r.spec().cached() ? CacheStudy.number(r.spec().lambda()) : "",
                    r.spec().cached() ? CacheStudy.number(r.spec().theta()) : "", r.samples(), fmt("%.2f", msPerSample(r)), fmt("%.2f", speedup(rs, r)),
                    fmt("%.3f", r.flopsPerSample() / 1e9), fmt("%.2f", r.skippedAttention()), fmt("%.2f", r.skippedMlp()), fmt("%.2f", r.fd()),
                    fmt("%.2f", r.fdStd()), fmt("%.3f", r.classAccuracy()), fmt("%.4f", r.rmseToDdim()), r.timingRounds(), r.threads(), r.device()));
        return rows;
    }

    private static String fmt(String f, double v) { return Double.isFinite(v) ? String.format(Locale.ROOT, f, v) : ""; }

    /** DDIM by steps, then the learned schedules, then the baselines. */
    static List<Result> sorted(List<Result> rs) {
        return rs.stream().sorted(Comparator.comparingInt((Result r) -> r.spec().kind().equals("ddim") ? 0 : r.spec().kind().equals("l2c") ? 1 : 2)
                .thenComparingInt(r -> r.spec().steps()).thenComparing(r -> r.spec().name())).toList();
    }

    /** The README's table in Markdown. */
    static String markdown(List<Result> rs) {
        StringBuilder s = new StringBuilder("| sampler | steps | skipped attn / MLP | GFLOP/sample | ms/sample | speed-up | FD (+- bootstrap std) "
                + "| class acc. | RMSE to DDIM |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
        for (Result r : sorted(rs))
            s.append(String.format(Locale.ROOT, "| %s | %d | %s | %.3f | %.2f | %s | %.2f +- %.2f | %.3f | %s |%n", r.spec().name(), r.spec().steps(),
                    r.spec().cached() ? String.format(Locale.ROOT, "%.0f%% / %.0f%%", 100 * r.skippedAttention(), 100 * r.skippedMlp()) : "-",
                    r.flopsPerSample() / 1e9, msPerSample(r), fmt("%.2fx", speedup(rs, r)), r.fd(), r.fdStd(), r.classAccuracy(),
                    r.spec().cached() ? fmt("%.4f", r.rmseToDdim()) : "-"));
        return s.toString();
    }

    static String[] subLayerLabels(int depth) {
        String[] l = new String[2 * depth];
        for (int j = 0; j < l.length; j++) l[j] = (j % 2 == 0 ? "attn " : "mlp ") + j / 2;
        return l;
    }

    static String[] cacheStepLabels(int steps) {
        int[] ts = org.tessella.diffusion.GaussianDiffusion.respaced(steps);
        String[] l = new String[steps / 2];
        for (int i = 0; i < l.length; i++) l[i] = "t=" + ts[2 * i + 1];
        return l;
    }

    /** Heat map of sigmoid(logit), cache steps (noisiest first) by sub-layers. */
    static String weightsHeatMap(CacheSchedule s, String title) {
        double[][] w = new double[s.logits().length][];
        for (int i = 0; i < w.length; i++) {
            w[i] = new double[s.logits()[i].length];
            for (int j = 0; j < w[i].length; j++) w[i][j] = CacheSchedule.sigmoid(s.logits()[i][j]);
        }
        return new SvgHeatMap(title, w).rows("cache step", cacheStepLabels(s.steps())).columns("sub-layer (block)", subLayerLabels(s.depth()))
                .scale(0, 1).render();
    }

    /** Writes the report of the study in {@code out}, its times taken from the study in {@code timing} when given. */
    public static void write(Path out, CacheStudy.Config c, Optional<Path> timing) throws java.io.IOException {
        List<Result> rs = CacheStudy.results(out);
        if (timing.isPresent()) rs = withTiming(rs, CacheStudy.results(timing.get()));
        Csv.write(out.resolve("results.csv"), COLUMNS, rows(rs));
        AtomicFile.writeString(out.resolve("table.md"), markdown(rs));
        HtmlPage page = new HtmlPage("Tessella Learning-to-Cache study");
        page.paragraph(String.format(Locale.ROOT, "DiT on Fashion-MNIST; DDIM (eta 0) at CFG %.2g; every configuration samples the same %d class-balanced "
                        + "images from the same noise (batches of %d), scored on the classifier's features against the test set. Times are sampling "
                        + "only, measured after a warm-up in the same JVM%s; the speed-up is against DDIM with the same number of steps. L2C schedules: "
                        + "lambda %s, theta %s. Baselines skip as many cache-step sub-layers as L2C-%d does.",
                c.cfg(), c.samples() / 10 * 10, c.batch(), timing.map(t -> " (taken from the timing run in " + t.getFileName() + ", "
                        + "every configuration in one JVM)").orElse(""), CacheStudy.number(c.lambda()), CacheStudy.number(c.theta()), c.sweepSteps()));
        page.heading(2, "What the numbers say");
        page.list(claims(rs));
        page.heading(2, "All configurations");
        page.table(COLUMNS, rows(rs));

        SvgPlot pareto = new SvgPlot("FD against sampling time").xLabel("ms per sample").yLabel("Frechet distance");
        List<Result> ddim = rs.stream().filter(r -> r.spec().kind().equals("ddim")).sorted(Comparator.comparingDouble(Result::seconds)).toList();
        pareto.series("DDIM (steps)", ddim.stream().mapToDouble(CacheStudyReport::msPerSample).toArray(), ddim.stream().mapToDouble(Result::fd).toArray());
        int n0 = c.sweepSteps();
        List<Result> sweep = rs.stream().filter(r -> r.spec().kind().equals("l2c") && r.spec().steps() == n0)
                .sorted(Comparator.comparingDouble(Result::seconds)).toList();
        pareto.series("L2C-" + n0 + " (lambda, theta)", sweep.stream().mapToDouble(CacheStudyReport::msPerSample).toArray(), sweep.stream().mapToDouble(Result::fd).toArray());
        for (Result r : rs)
            if (CacheStudy.BASELINES.contains(r.spec().kind())) pareto.series(r.spec().name(), new double[]{msPerSample(r)}, new double[]{r.fd()});
        String paretoSvg = pareto.render();
        AtomicFile.writeString(out.resolve("pareto.svg"), paretoSvg);
        page.heading(2, "Pareto: FD against latency");
        page.svg(paretoSvg);

        page.heading(2, "Learned router weights");
        page.paragraph("sigmoid(logit) per cache step (rows, noisiest first) and sub-layer (columns); a sub-layer is recomputed where the weight is above theta.");
        for (int n : c.cacheSteps()) {
            Path p = CacheStudy.schedulePath(out, n, c.lambda());
            if (!Files.exists(p)) continue;
            String svg = weightsHeatMap(CacheSchedule.read(p), "L2C router weights, " + n + " steps, lambda " + CacheStudy.number(c.lambda()));
            AtomicFile.writeString(out.resolve("weights-" + n + ".svg"), svg);
            page.svg(svg);
        }
        Path change = CacheStudy.changePath(out, n0);
        if (Files.exists(change)) {
            double[][] m = CacheStudy.readChange(change);
            String svg = new SvgHeatMap("RMS of gate x (branch change since the full step), " + n0 + " steps", m)
                    .rows("cache step", cacheStepLabels(n0)).columns("sub-layer (block)", subLayerLabels(m[0].length / 2)).render();
            AtomicFile.writeString(out.resolve("change-" + n0 + ".svg"), svg);
            page.paragraph("What caching each sub-layer would perturb, measured on full sampling (the greedy baseline caches the smallest).");
            page.svg(svg);
        }
        page.heading(2, "Samples (first 10 of each class)");
        for (Result r : sorted(rs)) {
            Path g = out.resolve("grids").resolve(r.spec().name() + ".png");
            if (!Files.exists(g)) continue;
            Png.Image img = Png.read(g);
            page.png(r.spec().name() + String.format(Locale.ROOT, ": FD %.2f, accuracy %.3f", r.fd(), r.classAccuracy()),
                    img.width(), img.height(), img.channels(), img.pixels(), 1);
        }
        page.write(out.resolve("report.html"));
    }
}
