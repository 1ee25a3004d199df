package org.tessella.eval;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessella.data.Dataset;
import org.tessella.data.FashionMnist;
import org.tessella.tensor.Philox;

/** The whole study pipeline at toy scale: trains, evaluates, reports, and a second run resumes without redoing work. */
class StudyRunTest {
    static Dataset data(int n, long seed) {
        float[] px = new float[n * 1024];
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) {
            labels[i] = i % 10;
            for (int p = 0; p < 1024; p++) // a class-dependent stripe pattern plus noise
                px[i * 1024 + p] = (float) Math.tanh(Math.sin((p % 32) * 0.2 * (1 + labels[i])) + 0.3 * (Philox.uniform(seed, (long) i * 1024 + p) - 0.5));
        }
        return new Dataset(px, labels, 1, 32, 32, FashionMnist.CLASS_NAMES);
    }

    @Test
    void tinyStudyRunsReportsAndResumes(@TempDir Path dir) throws Exception {
        Dataset train = data(128, 1), test = data(40, 2);
        Study.Plan plan = new Study.Plan("tiny", List.of(new Study.TokenizerSpec("t64-base", "vq-s", 64, 0f),
                new Study.TokenizerSpec("t64-crt", "vq-s", 64, 1f)), List.of("gpt-xs"), 64, 1, 32, 128, 1, 2, 20, 10, 2f, 1, 1);
        List<String> lines = new ArrayList<>();
        Study.Results r = Study.run(dir, plan, train, test, Optional.empty(), lines::add);
        assertEquals(2, r.tokenizers().size());
        assertEquals(4, r.points().size(), "two tokenizers x one model x evaluation points at steps 1 and 2");
        for (Study.Point p : r.points()) {
            assertTrue(p.valBitsPerToken() > 0 && p.valBitsPerToken() < 10, p.toString());
            assertTrue(p.fd() >= 0, p.toString());
            assertTrue(p.classAccuracy() >= 0 && p.classAccuracy() <= 1, p.toString());
            assertTrue(p.trainFlops() > 0);
        }
        assertTrue(Files.readString(dir.resolve("report.html")).contains("<svg"));
        assertTrue(Files.exists(dir.resolve("ar-t64-crt-gpt-xs").resolve("samples.png")));
        assertTrue(Files.exists(dir.resolve("tok-t64-base").resolve("reconstructions.png")));
        String csv = Files.readString(dir.resolve("study.csv"));
        assertTrue(lines.stream().anyMatch(l -> l.contains("tokenizer t64-crt")), lines.toString());

        List<String> again = new ArrayList<>();
        Study.Results r2 = Study.run(dir, plan, train, test, Optional.empty(), again::add);
        assertEquals(r.points(), r2.points(), "a rerun reads the finished points back");
        assertEquals(csv, Files.readString(dir.resolve("study.csv")));
        assertTrue(again.stream().noneMatch(l -> l.contains("training")), "nothing is retrained: " + again);

        Study.Plan other = new Study.Plan("tiny", plan.tokenizers(), plan.models(), 64, 1, 32, 128, 1, 3, 20, 10, 2f, 1, 1);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Study.run(dir, other, train, test, Optional.empty(), s -> {}));
        assertTrue(e.getMessage().contains("another plan"), e.getMessage());
    }
}
