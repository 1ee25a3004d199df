package org.tessella.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessella.backend.Backends;
import org.tessella.data.Dataset;
import org.tessella.diffusion.CacheSchedule;
import org.tessella.diffusion.Dit;
import org.tessella.diffusion.DitConfig;
import org.tessella.diffusion.LearnToCache;
import org.tessella.nn.Init;
import org.tessella.nn.Parameter;

/** The Learning-to-Cache study at toy scale: every configuration measured, the baselines matched in count, a report, resume. */
class CacheStudyTest {
    static final DitConfig TINY32 = new DitConfig("tiny32", 32, 1, 8, 16, 2, 2, 2, 10);

    private static int skipped(CacheSchedule s, float theta) {
        int n = 0;
        for (int i = 0; i < s.logits().length; i++) for (boolean c : s.compute(i, theta)) if (!c) n++;
        return n;
    }

    @Test
    void tinyStudyMeasuresEveryConfigurationReportsAndResumes(@TempDir Path dir) throws Exception {
        Dit dit = new Dit(TINY32, new Init(1));
        Init r = new Init(2);
        for (Parameter p : dit.parameters()) Backends.of(p.tensor().device()).copy(r.normal(0f, 0.2f, p.tensor().shape()), p.tensor());
        Dataset train = StudyRunTest.data(32, 1), test = StudyRunTest.data(30, 2);
        FashionClassifier classifier = new FashionClassifier(new Init(3));
        CacheStudy.Config c = new CacheStudy.Config(20, 8, 1.5f, 1, 0.5f, 0.01f, List.of(0.01f, 1f), List.of(0.9f), List.of(2, 4), List.of(4),
                10, new LearnToCache.Config(4, 4, 0.05f, 0.01f, 1, 0.1f), 3, 3);
        List<String> names = CacheStudy.plan(c).stream().map(CacheStudy.Spec::name).toList();
        assertEquals(List.of("ddim-2", "ddim-4", "l2c-4", "l2c-4-lambda1", "l2c-4-theta0.9", "top-4", "bottom-4", "random-4", "greedy-4", "drop-4"), names);

        List<String> lines = new ArrayList<>();
        List<CacheStudy.Result> rs = CacheStudy.run(dir, dit, () -> train, test, classifier, c, Set.of(), false, lines::add);
        assertEquals(names.size(), rs.size());
        for (CacheStudy.Result x : rs) {
            assertEquals(20, x.samples());
            assertTrue(x.seconds() > 0 && x.flopsPerSample() > 0, x.toString());
            assertTrue(x.fd() >= 0 && x.fdStd() >= 0 && x.classAccuracy() >= 0 && x.classAccuracy() <= 1, x.toString());
            assertEquals(3, x.timingRounds(), "every configuration timed in each of the 3 rounds");
        }
        CacheSchedule main = CacheSchedule.read(dir.resolve("schedules/l2c-4-lambda0.01.json"));
        int count = skipped(main, 0.5f);
        for (String b : List.of("top", "bottom", "random", "greedy"))
            assertEquals(count, skipped(CacheSchedule.read(dir.resolve("schedules/" + b + "-4.json")), 0.5f), b + " skips as many as L2C");
        CacheStudy.Result ddim4 = CacheStudyReport.find(rs, "ddim-4").orElseThrow(), ddim2 = CacheStudyReport.find(rs, "ddim-2").orElseThrow();
        assertEquals(2 * ddim2.flopsPerSample(), ddim4.flopsPerSample(), 1e-6 * ddim4.flopsPerSample(), "FLOPs scale with steps");
        CacheStudy.Result l2c = CacheStudyReport.find(rs, "l2c-4").orElseThrow();
        assertTrue(l2c.flopsPerSample() <= ddim4.flopsPerSample(), "caching never adds work");
        if (count > 0) assertTrue(l2c.flopsPerSample() < ddim4.flopsPerSample(), "skipped sub-layers are not computed");
        assertTrue(Double.isNaN(ddim4.rmseToDdim()), "plain DDIM has no fidelity to itself");
        CacheStudy.Result drop = CacheStudyReport.find(rs, "drop-4").orElseThrow();
        if (count > 0) {
            assertTrue(l2c.rmseToDdim() > 0, "caching changes the samples: " + l2c.rmseToDdim());
            assertTrue(drop.rmseToDdim() > l2c.rmseToDdim(), "dropping strays further from DDIM than caching the same sub-layers: "
                    + drop.rmseToDdim() + " vs " + l2c.rmseToDdim());
        }

        CacheStudyReport.write(dir, c, java.util.Optional.empty());
        String html = Files.readString(dir.resolve("report.html"));
        assertTrue(html.contains("<svg") && html.contains("L2C at 4 steps runs"), "report with claims and plots");
        assertTrue(Files.readString(dir.resolve("table.md")).contains("| l2c-4 | 4 |"));
        assertTrue(Files.exists(dir.resolve("weights-4.svg")) && Files.exists(dir.resolve("change-4.svg")) && Files.exists(dir.resolve("grids/greedy-4.png")));
        assertEquals(names.size() + 1, Files.readAllLines(dir.resolve("results.csv")).size());

        List<CacheStudy.Result> timed = CacheStudyReport.withTiming(rs, List.of(new CacheStudy.Result(l2c.spec(), 10, 2.0, 0, 0, 0, 0, 0, 0, 0.5, 5, 7, "cpu", "t")));
        CacheStudy.Result t = CacheStudyReport.find(timed, "l2c-4").orElseThrow();
        assertEquals(4.0, t.seconds(), 1e-12, "2 s for 10 samples is 4 s for 20");
        assertEquals(l2c.fd(), t.fd());
        assertEquals(l2c.rmseToDdim(), t.rmseToDdim(), "fidelity stays the study's own, not the timing run's");
        assertEquals(7, t.threads());
        assertEquals(5, t.timingRounds(), "the timing run's rounds");
        assertEquals(ddim4.seconds(), CacheStudyReport.find(timed, "ddim-4").orElseThrow().seconds(), "untimed results keep their own time");

        long before = Files.getLastModifiedTime(dir.resolve("runs/l2c-4.json")).toMillis();
        List<String> again = new ArrayList<>();
        CacheStudy.run(dir, dit, () -> train, test, classifier, c, Set.of(), false, again::add);
        assertTrue(again.isEmpty(), "nothing is learned or measured twice: " + again);
        assertEquals(before, Files.getLastModifiedTime(dir.resolve("runs/l2c-4.json")).toMillis());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CacheStudy.run(dir, dit, () -> train, test, classifier, c, Set.of("ddim-3"), false, s -> {}));
        assertTrue(e.getMessage().contains("no configuration named 'ddim-3'"), e.getMessage());
    }

    @Test
    void timingRoundsKeepTheMedian() {
        assertEquals(2.0, CacheStudy.median(List.of(3.0, 1.0, 2.0)));
        assertEquals(2.5, CacheStudy.median(List.of(4.0, 1.0, 2.0, 3.0)));
        assertEquals(7.0, CacheStudy.median(List.of(7.0)));
    }
}
