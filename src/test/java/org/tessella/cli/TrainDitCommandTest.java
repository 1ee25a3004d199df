package org.tessella.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessella.data.FashionMnist;
import org.tessella.diffusion.DitTraining;
import org.tessella.io.Json;

/** {@code tessella train-dit} end to end on 128 real images, and its usage errors. */
class TrainDitCommandTest {
    @Test
    void trainsWritesMetricsAndRefusesBadRequests(@TempDir Path tmp) throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isDirectory(Path.of(FashionMnist.SYSTEM_DIR)), "Fashion-MNIST is not installed");
        Path out = tmp.resolve("dit");
        assertEquals(0, Main.run(new String[]{"train-dit", "--out", out.toString(), "--model", "dit-xs", "--limit", "128", "--batch", "32",
                "--epochs", "1", "--threads", "1"}));
        Json.Obj m = Json.parseObject(Files.readString(out.resolve("metrics.json")), "metrics.json");
        assertEquals(4, m.integer("steps"));
        assertTrue(Double.isFinite(m.number("final_train_loss")) && m.longValue("train_flops") > 0);
        assertTrue(Files.exists(out.resolve(DitTraining.CHECKPOINT)) && Files.exists(out.resolve("loss.csv")));
        // learn a schedule for 10 steps and sample with it
        Path cache = tmp.resolve("cache.json"), png = tmp.resolve("s.png"), json = tmp.resolve("s.json");
        assertEquals(0, Main.run(new String[]{"learn-cache", "--dit", out.toString(), "--steps", "10", "--lambda", "0.1", "--iterations", "3",
                "--batch", "8", "--limit", "64", "--threads", "1", "--out", cache.toString()}));
        Json.Obj sched = Json.parseObject(Files.readString(cache), "cache.json");
        assertEquals(5, sched.list("logits").size());
        assertEquals(0, Main.run(new String[]{"sample-dit", "--dit", out.toString(), "--steps", "10", "--cache", cache.toString(), "--theta", "0.5",
                "--per-class", "1", "--threads", "1", "--out", png.toString(), "--json", json.toString()}));
        Json.Obj s = Json.parseObject(Files.readString(json), "s.json");
        assertEquals(10, s.integer("samples"));
        assertTrue(s.number("skipped_attention") >= 0 && s.number("skipped_mlp") <= 1 && s.number("flops_per_sample") > 0);
        assertTrue(Files.size(png) > 0);
        // the sampling-only export: a quarter of the size, the same samples
        Path slim = tmp.resolve("slim"), png2 = tmp.resolve("s2.png");
        assertEquals(0, Main.run(new String[]{"export-dit", "--dit", out.toString(), "--out", slim.toString()}));
        long full = Files.size(out.resolve(DitTraining.CHECKPOINT)), small = Files.size(slim.resolve(DitTraining.CHECKPOINT));
        assertTrue(small < full / 3.5, small + " vs " + full);
        assertEquals(0, Main.run(new String[]{"sample-dit", "--dit", slim.toString(), "--steps", "10", "--cache", cache.toString(), "--theta", "0.5",
                "--per-class", "1", "--batch", "3", "--threads", "1", "--out", png2.toString()}));
        assertArrayEquals(Files.readAllBytes(png), Files.readAllBytes(png2), "EMA weights exported exactly; batches do not change samples");
        assertEquals(2, Main.run(new String[]{"cache-study", "--dit", slim.toString(), "--out", tmp.resolve("cs").toString()}), "--lambda is required");
        assertEquals(2, Main.run(new String[]{"cache-study", "--dit", slim.toString(), "--lambda", "1", "--ddim", "10,x", "--out", tmp.resolve("cs").toString()}));
        assertEquals(0, Main.run(new String[]{"cache-study", "--lambda", "1", "--report-only", "--out", tmp.resolve("cs").toString()}));
        assertTrue(Files.exists(tmp.resolve("cs").resolve("report.html")));
        // one-line errors: a schedule for another step count, theta outside [0, 1]
        assertEquals(1, Main.run(new String[]{"sample-dit", "--dit", out.toString(), "--steps", "20", "--cache", cache.toString(),
                "--out", png.toString()}));
        assertEquals(2, Main.run(new String[]{"sample-dit", "--dit", out.toString(), "--steps", "10", "--cache", cache.toString(),
                "--theta", "1.5", "--out", png.toString()}));
        assertEquals(2, Main.run(new String[]{"train-dit", "--out", out.toString(), "--model", "dit-xs"}), "a second run into the same DIR");
        assertEquals(2, Main.run(new String[]{"train-dit", "--resume", tmp.resolve("none").toString()}));
        assertEquals(2, Main.run(new String[]{"train-dit", "--out", tmp.resolve("x").toString(), "--model", "dit-l"}));
    }
}
