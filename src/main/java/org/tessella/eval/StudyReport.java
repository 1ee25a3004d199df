package org.tessella.eval;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.tessella.eval.Study.Point;
import org.tessella.eval.Study.TokenizerSummary;
import org.tessella.io.Csv;
import org.tessella.io.HtmlPage;
import org.tessella.io.Png;
import org.tessella.io.SvgPlot;

/**
 * The study's report: {@code report.html} (self-contained: SVG plots, embedded PNGs) and {@code study.csv} /
 * {@code tokenizers.csv} with every number in it. The claims of the paper are answered from the measured numbers
 * ({@link #claims}), in plain sentences that say when a claim does not reproduce.
 */
public final class StudyReport {
    private StudyReport() {}

    public static void write(Study.Results r) {
        writeCsv(r);
        HtmlPage page = new HtmlPage("Tessella CRT study (" + r.plan().kind() + ")");
        page.paragraph(String.format(Locale.ROOT, "Fashion-MNIST; tokenizers trained on %d images x %d epoch(s); stage-2 models trained %d epoch(s) "
                        + "on %d sequences, evaluated at %d points; FD on %d class-balanced samples at CFG %.2g against the test set, "
                        + "on the features of the Fashion-MNIST classifier. Compute is the FLOPs the engine counted while training stage 2. "
                        + "Every tokenizer, baseline and CRT alike, trains with the quantizer's entropy loss at weight " + Study.TOKENIZER_ENTROPY_WEIGHT + ".",
                r.plan().tokenizerImages(), r.plan().tokenizerEpochs(), r.plan().arEpochs(), r.plan().arSequences(), r.plan().evalPoints(),
                r.plan().fdSamples(), r.plan().cfg()));
        page.heading(2, "What the numbers say");
        page.list(claims(r));

        page.heading(2, "Stage 1: rate and distortion");
        List<List<?>> rows = new ArrayList<>();
        for (TokenizerSummary t : r.tokenizers())
            rows.add(List.of(t.spec().id(), t.tokens(), t.spec().codebook(), t.spec().crtWeight(), t.psnrDb(), t.ssim(), t.usage(),
                    t.entropyBits(), t.positionEntropyBits(), t.perplexity(), t.crtLoss(), t.trainSeconds()));
        page.table(List.of("tokenizer", "tokens", "codebook", "crt weight", "PSNR dB", "SSIM", "usage", "entropy bits",
                "entropy given position", "perplexity", "crt loss", "train s"), rows);
        SvgPlot rd = new SvgPlot("rate-distortion").xLabel("bits per image (tokens x log2 codebook)").yLabel("test PSNR (dB)");
        for (boolean crt : new boolean[]{false, true}) {
            List<TokenizerSummary> ts = r.tokenizers().stream().filter(t -> t.spec().crt() == crt)
                    .sorted(Comparator.comparingDouble(StudyReport::bitsPerImage)).toList();
            rd.series(crt ? "CRT" : "baseline", ts.stream().mapToDouble(StudyReport::bitsPerImage).toArray(),
                    ts.stream().mapToDouble(TokenizerSummary::psnrDb).toArray());
        }
        page.svg(rd.render());

        page.heading(2, "Stage 2: loss and FD against training compute");
        for (int tokens : tokenCounts(r)) {
            SvgPlot p = new SvgPlot("validation loss, " + tokens + " tokens per image").logX().xLabel("stage-2 training FLOPs").yLabel("bits per token");
            for (Series s : series(r, tokens)) p.series(s.name, s.flops, s.bits);
            page.svg(p.render());
        }
        SvgPlot fd = new SvgPlot("Frechet distance (classifier features)").logX().xLabel("stage-2 training FLOPs").yLabel("FD");
        for (int tokens : tokenCounts(r)) for (Series s : series(r, tokens)) fd.series(s.name, s.flops, s.fd);
        page.svg(fd.render());
        SvgPlot acc = new SvgPlot("class accuracy of samples").logX().xLabel("stage-2 training FLOPs").yLabel("fraction labelled as asked");
        for (int tokens : tokenCounts(r)) for (Series s : series(r, tokens)) acc.series(s.name, s.flops, s.acc);
        page.svg(acc.render());

        page.heading(2, "Compute to reach a given quality (baseline / CRT)");
        page.table(List.of("tokens", "model", "target FD", "baseline FLOPs", "CRT FLOPs", "ratio", "target bits/token", "baseline FLOPs",
                "CRT FLOPs", "ratio"), efficiencyRows(r));

        page.heading(2, "All points");
        List<List<?>> pts = new ArrayList<>();
        for (Point p : r.points())
            pts.add(List.of(p.tokenizer(), p.model(), p.step(), (double) p.trainFlops(), p.valBitsPerToken(), p.fd(), p.classAccuracy()));
        page.table(List.of("tokenizer", "model", "step", "FLOPs", "val bits/token", "FD", "class acc"), pts);

        page.heading(2, "Reconstructions (originals above reconstructions) and samples (one row per class)");
        for (TokenizerSummary t : r.tokenizers()) embed(page, r.dir().resolve("tok-" + t.spec().id()).resolve("reconstructions.png"), t.spec().id() + " reconstructions");
        for (TokenizerSummary t : r.tokenizers())
            for (String m : r.plan().models())
                embed(page, r.dir().resolve("ar-" + t.spec().id() + "-" + m).resolve("samples.png"), m + " on " + t.spec().id());
        page.write(r.dir().resolve("report.html"));
    }

    private static void embed(HtmlPage page, Path png, String caption) {
        if (!Files.exists(png)) return;
        Png.Image img = Png.read(png);
        page.png(caption, img.width(), img.height(), img.channels(), img.pixels(), 2);
    }

    static double bitsPerImage(TokenizerSummary t) { return t.tokens() * (Math.log(t.spec().codebook()) / Math.log(2)); }

    private static List<Integer> tokenCounts(Study.Results r) {
        Set<Integer> s = new LinkedHashSet<>();
        for (TokenizerSummary t : r.tokenizers()) s.add(t.tokens());
        return new ArrayList<>(s);
    }

    private record Series(String name, String tokenizer, String model, double[] flops, double[] bits, double[] fd, double[] acc) {}

    /** One series per (tokenizer, model) with this many tokens, points ordered by step. */
    private static List<Series> series(Study.Results r, int tokens) {
        List<Series> out = new ArrayList<>();
        for (TokenizerSummary t : r.tokenizers()) {
            if (t.tokens() != tokens) continue;
            for (String m : r.plan().models()) {
                List<Point> ps = points(r, t.spec().id(), m);
                if (ps.isEmpty()) continue;
                out.add(new Series(m + " " + t.spec().id(), t.spec().id(), m, ps.stream().mapToDouble(p -> p.trainFlops()).toArray(),
                        ps.stream().mapToDouble(Point::valBitsPerToken).toArray(), ps.stream().mapToDouble(Point::fd).toArray(),
                        ps.stream().mapToDouble(Point::classAccuracy).toArray()));
            }
        }
        return out;
    }

    static List<Point> points(Study.Results r, String tokenizer, String model) {
        return r.points().stream().filter(p -> p.tokenizer().equals(tokenizer) && p.model().equals(model))
                .sorted(Comparator.comparingLong(Point::step)).toList();
    }

    /**
     * The FLOPs at which a decreasing-is-better curve first reaches {@code target}, interpolating linearly in
     * log(FLOPs) between evaluated points; NaN when it never does.
     */
    static double computeToReach(double[] flops, double[] value, double target) {
        for (int i = 0; i < flops.length; i++) {
            if (!(value[i] <= target)) continue;
            if (i == 0) return flops[0];
            double f = (value[i - 1] - target) / (value[i - 1] - value[i]);
            return Math.exp(Math.log(flops[i - 1]) + f * (Math.log(flops[i]) - Math.log(flops[i - 1])));
        }
        return Double.NaN;
    }

    /** Baseline/CRT pairs with the same preset and codebook. */
    private static List<TokenizerSummary[]> pairs(Study.Results r) {
        Map<String, TokenizerSummary[]> m = new LinkedHashMap<>();
        for (TokenizerSummary t : r.tokenizers()) m.computeIfAbsent(t.spec().pairKey(), k -> new TokenizerSummary[2])[t.spec().crt() ? 1 : 0] = t;
        return m.values().stream().filter(p -> p[0] != null && p[1] != null).toList();
    }

    /**
     * For each pair and model: the target is the worse of the two final values (so both curves reach it), and the
     * ratio is the baseline's compute over CRT's (above 1: CRT needs less).
     */
    static List<List<?>> efficiencyRows(Study.Results r) {
        List<List<?>> rows = new ArrayList<>();
        for (TokenizerSummary[] pair : pairs(r))
            for (String m : r.plan().models()) {
                List<Point> b = points(r, pair[0].spec().id(), m), c = points(r, pair[1].spec().id(), m);
                if (b.isEmpty() || c.isEmpty()) continue;
                double[] bf = b.stream().mapToDouble(p -> p.trainFlops()).toArray(), cf = c.stream().mapToDouble(p -> p.trainFlops()).toArray();
                double fdTarget = Math.max(b.getLast().fd(), c.getLast().fd());
                double bitsTarget = Math.max(b.getLast().valBitsPerToken(), c.getLast().valBitsPerToken());
                double bFd = computeToReach(bf, b.stream().mapToDouble(Point::fd).toArray(), fdTarget);
                double cFd = computeToReach(cf, c.stream().mapToDouble(Point::fd).toArray(), fdTarget);
                double bBits = computeToReach(bf, b.stream().mapToDouble(Point::valBitsPerToken).toArray(), bitsTarget);
                double cBits = computeToReach(cf, c.stream().mapToDouble(Point::valBitsPerToken).toArray(), bitsTarget);
                rows.add(List.of(pair[0].tokens(), m, fdTarget, bFd, cFd, bFd / cFd, bitsTarget, bBits, cBits, bBits / cBits));
            }
        return rows;
    }

    /** The paper's claims answered from the numbers, one sentence each. */
    static List<String> claims(Study.Results r) {
        List<String> out = new ArrayList<>();
        for (TokenizerSummary[] p : pairs(r)) {
            double d = p[1].psnrDb() - p[0].psnrDb();
            out.add(String.format(Locale.ROOT, "%d tokens: CRT (weight %s) changes test PSNR by %+.2f dB (%.2f -> %.2f), usage %.3f -> %.3f, "
                            + "entropy %.2f -> %.2f bits (given the position %.2f -> %.2f). %s", p[0].tokens(), p[1].spec().crtWeight(), d,
                    p[0].psnrDb(), p[1].psnrDb(), p[0].usage(), p[1].usage(), p[0].entropyBits(), p[1].entropyBits(),
                    p[0].positionEntropyBits(), p[1].positionEntropyBits(),
                    d < 0 ? "Reconstruction is worse with CRT, as the paper says." : "Reconstruction is not worse with CRT here, unlike the paper."));
            int lower = 0, total = 0;
            List<String> detail = new ArrayList<>();
            for (String m : r.plan().models()) {
                List<Point> b = points(r, p[0].spec().id(), m), c = points(r, p[1].spec().id(), m);
                if (b.isEmpty() || c.isEmpty()) continue;
                total++;
                if (c.getLast().valBitsPerToken() < b.getLast().valBitsPerToken()) lower++;
                detail.add(String.format(Locale.ROOT, "%s %.4f -> %.4f", m, b.getLast().valBitsPerToken(), c.getLast().valBitsPerToken()));
            }
            if (total > 0)
                out.add(String.format(Locale.ROOT, "%d tokens: CRT lowers the final stage-2 validation loss for %d of %d model sizes (bits/token, baseline -> CRT: %s).%s",
                        p[0].tokens(), lower, total, String.join(", ", detail), lower == total ? "" : " The paper's 'lower at every size' does not hold here."));
        }
        for (List<?> row : efficiencyRows(r)) {
            double ratio = (Double) row.get(5);
            out.add(Double.isNaN(ratio)
                    ? String.format(Locale.ROOT, "%s tokens, %s: FD %.2f is not reached on both curves, so the compute ratio cannot be measured.",
                            row.get(0), row.get(1), (Double) row.get(2))
                    : String.format(Locale.ROOT, "%s tokens, %s: reaching FD %.2f takes %.2fx %s compute with CRT than without (ratio %.2f; the paper reports 2-3x less at ImageNet scale).",
                            row.get(0), row.get(1), (Double) row.get(2), ratio >= 1 ? ratio : 1 / ratio, ratio >= 1 ? "less" : "more", ratio));
        }
        // compression preference by size: the best FD each model reaches on the 16- and 64-token baselines
        List<Integer> counts = tokenCounts(r);
        if (counts.size() >= 2) {
            List<String> prefs = new ArrayList<>();
            for (String m : r.plan().models()) {
                double best16 = bestFd(r, m, counts.stream().min(Integer::compare).get()), best64 = bestFd(r, m, counts.stream().max(Integer::compare).get());
                if (Double.isNaN(best16) || Double.isNaN(best64)) continue;
                prefs.add(String.format(Locale.ROOT, "%s: FD %.2f with %d tokens vs %.2f with %d (prefers %s)", m, best16,
                        counts.stream().min(Integer::compare).get(), best64, counts.stream().max(Integer::compare).get(),
                        best16 < best64 ? "the more compressed tokens" : "the less compressed tokens"));
            }
            if (!prefs.isEmpty()) out.add("Best FD of each size on the baseline tokenizers: " + String.join("; ", prefs)
                    + ". The paper's claim is that smaller models prefer the more compressed tokens.");
        }
        return out;
    }

    private static double bestFd(Study.Results r, String model, int tokens) {
        double best = Double.NaN;
        for (TokenizerSummary t : r.tokenizers()) {
            if (t.tokens() != tokens || t.spec().crt()) continue;
            for (Point p : points(r, t.spec().id(), model)) if (Double.isNaN(best) || p.fd() < best) best = p.fd();
        }
        return best;
    }

    private static void writeCsv(Study.Results r) {
        List<List<Object>> toks = new ArrayList<>();
        for (TokenizerSummary t : r.tokenizers())
            toks.add(List.of(t.spec().id(), t.spec().preset(), t.tokens(), t.spec().codebook(), t.spec().crtWeight(), t.psnrDb(), t.ssim(),
                    t.usage(), t.entropyBits(), t.positionEntropyBits(), t.perplexity(), t.crtLoss(), t.trainSeconds(), t.trainFlops()));
        Csv.write(r.dir().resolve("tokenizers.csv"), List.of("tokenizer", "preset", "tokens", "codebook", "crt_weight", "psnr_db", "ssim",
                "codebook_usage", "code_entropy_bits", "code_entropy_given_position_bits", "perplexity", "crt_loss", "train_seconds", "train_flops"), toks);
        List<List<Object>> rows = new ArrayList<>();
        for (Point p : r.points()) {
            TokenizerSummary t = r.tokenizers().stream().filter(x -> x.spec().id().equals(p.tokenizer())).findFirst().orElseThrow();
            rows.add(List.of(p.tokenizer(), t.tokens(), t.spec().codebook(), t.spec().crtWeight(), t.psnrDb(), p.model(), p.step(),
                    p.trainFlops(), p.trainSeconds(), p.valBitsPerToken(), p.valBitsPerToken() * t.tokens(), p.fd(), p.classAccuracy()));
        }
        Csv.write(r.dir().resolve("study.csv"), List.of("tokenizer", "tokens", "codebook", "crt_weight", "psnr_db", "model", "step",
                "train_flops", "train_seconds", "val_bits_per_token", "val_bits_per_image", "fd", "class_accuracy"), rows);
    }
}
