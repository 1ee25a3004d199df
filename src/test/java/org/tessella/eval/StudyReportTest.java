package org.tessella.eval;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessella.eval.Study.Point;
import org.tessella.eval.Study.TokenizerSpec;
import org.tessella.eval.Study.TokenizerSummary;
import org.tessella.io.Csv;

class StudyReportTest {
    @Test
    void evalStepsAreHalvingsEndingAtTheTotal() {
        assertEquals(List.of(25L, 50L, 100L), Study.evalSteps(100, 3));
        assertEquals(List.of(1L, 3L), Study.evalSteps(3, 5), "duplicates dropped, at least one step");
        assertEquals(List.of(7L), Study.evalSteps(7, 1));
    }

    @Test
    void computeToReachInterpolatesInLogFlops() {
        double[] f = {1e9, 1e10, 1e11};
        double[] v = {10, 6, 2};
        assertEquals(1e9, StudyReport.computeToReach(f, v, 12), 1);
        assertEquals(1e10, StudyReport.computeToReach(f, v, 6), 1e-3);
        assertEquals(Math.sqrt(1e10 * 1e11), StudyReport.computeToReach(f, v, 4), 1e-1 * 3.2e10);
        assertTrue(Double.isNaN(StudyReport.computeToReach(f, v, 1)), "never reached");
    }

    private static Study.Results results(Path dir, double crtShift) {
        TokenizerSpec b = new TokenizerSpec("t64-base", "vq-s", 1024, 0), c = new TokenizerSpec("t64-crt", "vq-s", 1024, 1);
        List<TokenizerSummary> toks = List.of(
                new TokenizerSummary(b, 64, 25.0, 0.8, 0.9, 9, 8.5, 512, Double.NaN, 10, 1000),
                new TokenizerSummary(c, 64, 24.5, 0.78, 0.88, 8.8, 8.2, 450, 0.1, 11, 1050));
        List<Point> pts = new ArrayList<>();
        for (int i = 1; i <= 3; i++) {
            long flops = (long) (1e9 * Math.pow(4, i));
            pts.add(new Point("t64-base", "gpt-xs", 10L * i, flops, i, 8 - i, 40 - 10 * i, 0.5 + 0.1 * i));
            pts.add(new Point("t64-crt", "gpt-xs", 10L * i, flops, i, 8 - i - crtShift, 40 - 10 * i - 10 * crtShift, 0.5 + 0.1 * i));
        }
        Study.Plan plan = new Study.Plan("test", List.of(b, c), List.of("gpt-xs"), 100, 1, 32, 100, 1, 3, 100, 100, 2f, 1, 1);
        return new Study.Results(plan, toks, pts, dir);
    }

    @Test
    void claimsFollowTheNumbers(@TempDir Path dir) {
        List<String> better = StudyReport.claims(results(dir, 1));
        assertTrue(better.stream().anyMatch(s -> s.contains("-0.50 dB") && s.contains("worse with CRT")), better.toString());
        assertTrue(better.stream().anyMatch(s -> s.contains("for 1 of 1 model sizes")), better.toString());
        assertTrue(better.stream().anyMatch(s -> s.contains("less") && s.contains("ratio")), better.toString());
        List<String> worse = StudyReport.claims(results(dir, -1));
        assertTrue(worse.stream().anyMatch(s -> s.contains("for 0 of 1") && s.contains("does not hold")), worse.toString());
        assertTrue(worse.stream().anyMatch(s -> s.contains("more")), worse.toString());
    }

    @Test
    void efficiencyRatioIsBaselineOverCrtCompute(@TempDir Path dir) {
        // CRT's curve is the baseline's shifted down by 10 FD: the baseline's final FD 10 is reached by CRT at 20 FD,
        // one point (4x compute) earlier.
        List<List<?>> rows = StudyReport.efficiencyRows(results(dir, 1));
        assertEquals(1, rows.size());
        assertEquals(10.0, (Double) rows.get(0).get(2), 1e-12);
        assertEquals(4.0, (Double) rows.get(0).get(5), 1e-9);
    }

    @Test
    void writesReportAndCsv(@TempDir Path dir) throws Exception {
        StudyReport.write(results(dir, 1));
        String html = Files.readString(dir.resolve("report.html"));
        assertTrue(html.contains("<svg") && html.contains("What the numbers say"));
        List<List<String>> rows = Csv.read(dir.resolve("study.csv"));
        assertEquals(1 + 6, rows.size());
        assertEquals("val_bits_per_image", rows.get(0).get(10));
        assertEquals(64 * 7.0, Double.parseDouble(rows.get(1).get(10)), 1e-9, "bits per image = bits per token x tokens");
        assertEquals(3, Csv.read(dir.resolve("tokenizers.csv")).size());
    }

    @Test
    void pointsRoundTripThroughCsv(@TempDir Path dir) {
        List<Point> pts = results(dir, 1).points();
        Study.writePoints(dir.resolve("p.csv"), pts);
        assertEquals(pts, Study.readPoints(dir.resolve("p.csv")));
    }

    @Test
    void budgetScalesTheGrid() {
        Study.Plan small = Study.Plan.forBudget(30, 1), big = Study.Plan.forBudget(240, 1);
        assertEquals(List.of("gpt-xs", "gpt-s"), small.models());
        assertEquals(List.of("gpt-xs", "gpt-s", "gpt-m"), big.models());
        assertTrue(big.tokenizerImages() * big.tokenizerEpochs() > small.tokenizerImages() * small.tokenizerEpochs());
        assertEquals(4, small.tokenizers().size());
        assertThrows(IllegalArgumentException.class, () -> Study.Plan.forBudget(1, 1));
    }
}
