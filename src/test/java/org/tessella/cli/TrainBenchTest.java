package org.tessella.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessella.io.Json;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code tessella bench train} at tiny settings, and the merging of the PyTorch twin's JSON. */
class TrainBenchTest {

    @Test
    void benchTrainWritesPositiveThroughputForBothModels(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("bench.json");
        int rc = Main.run(new String[]{"bench", "train", "--steps", "1", "--warmup", "0", "--batch", "2",
                "--peak-seconds", "0.2", "--out", out.toString()});
        assertEquals(0, rc);
        Json.Obj j = Json.parseObject(Files.readString(out), "bench");
        assertEquals(2, j.integer("batch"));
        assertEquals(org.tessella.cpu.WorkerPool.global().threads(), j.integer("threads"));
        Json.Obj models = j.object("models");
        for (String[] m : new String[][]{{"gpt-s", "tokens"}, {"vq-s", "images"}}) {
            Json.Obj r = models.object(m[0]);
            assertEquals(m[1], r.string("unit"));
            for (String key : new String[]{m[1] + "_per_second", "ms_per_step", "gflop_per_second", "final_loss"}) {
                double v = r.number(key);
                assertTrue(Double.isFinite(v) && v > 0, m[0] + " " + key + " = " + v);
            }
            assertEquals(m[0].equals("gpt-s") ? 2 * 64 : 2, r.integer(m[1] + "_per_step"));
            if (Files.isReadable(Path.of("/proc/self/status"))) assertTrue(r.number("peak_rss_mb") > 10, m[0] + " peak RSS");
        }
        assertFalse(j.has("comparison"), "no peer given");
    }

    @Test
    void peerMergingComputesTheRatios() {
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("java_version", "25");
        result.put("threads", 2);
        result.put("batch", 64);
        result.put("steps", 5);
        result.put("fma_peak_gflops", 100.0);
        result.put("rss_scope", "per model");
        Map<String, Object> models = new LinkedHashMap<>();
        models.put("gpt-s", model("tokens", 3000.0, 100.0, 400.0));
        models.put("vq-s", model("images", 90.0, 50.0, null));
        result.put("models", models);
        Json.Obj peer = Json.parseObject("""
                {"engine": "pytorch", "torch_version": "1.13.0", "threads": 2, "batch": 32, "steps": 5,
                 "models": {"gpt-s": {"unit": "tokens", "tokens_per_second": 1200.0, "ms_per_step": 250.0, "peak_rss_mb": 500.0},
                            "vq-s": {"unit": "images", "images_per_second": 100, "ms_per_step": 640.0, "peak_rss_mb": 300.0}}}""", "peer");
        TrainBench.addPeer(result, peer, 1.5);

        @SuppressWarnings("unchecked") Map<String, Object> cmp = (Map<String, Object>) result.get("comparison");
        @SuppressWarnings("unchecked") Map<String, Object> g = (Map<String, Object>) cmp.get("gpt-s");
        assertEquals(2.5, (Double) g.get("throughput_ratio"), 1e-12);
        assertEquals(0.8, (Double) g.get("peak_rss_ratio"), 1e-12);
        assertEquals(250.0, (Double) g.get("pytorch_ms_per_step"), 0);
        assertEquals(true, g.get("speed_goal_met"));
        assertEquals(true, g.get("rss_goal_met"));
        @SuppressWarnings("unchecked") Map<String, Object> v = (Map<String, Object>) cmp.get("vq-s");
        assertEquals(0.9, (Double) v.get("throughput_ratio"), 1e-12);
        assertNull(v.get("peak_rss_ratio"), "no RSS on our side: no ratio");
        assertNull(v.get("rss_goal_met"));
        assertEquals(false, v.get("speed_goal_met"));
        assertTrue(String.valueOf(result.get("peer_mismatch")).contains("batch 64 here, 32 in the peer"), String.valueOf(result.get("peer_mismatch")));

        String table = TrainBench.table(result);
        assertTrue(table.contains("2.50x") && table.contains("0.80x") && table.contains("0.90x"), table);
        assertTrue(table.contains("gpt-s speed >= 1.50x met, RSS <= PyTorch met"), table);
        assertTrue(table.contains("vq-s speed >= 1.50x NOT met, RSS <= PyTorch n/a"), table);
        // the merged result is still valid JSON
        Json.Obj back = Json.parseObject(Json.write(result), "result");
        assertEquals(2.5, back.object("comparison").object("gpt-s").number("throughput_ratio"), 1e-12);
    }

    @Test
    void badUsageIsRefused() {
        assertThrows(UsageException.class, () -> TrainBench.parseModels("gpt-s,dit-s"));
        assertEquals(2, Main.run(new String[]{"bench", "train", "--steps", "0"}));
    }

    private static Map<String, Object> model(String unit, double perSecond, double ms, Double rss) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("unit", unit);
        m.put(unit + "_per_second", perSecond);
        m.put("ms_per_step", ms);
        m.put("gflop_per_second", 10.0);
        m.put("fraction_of_peak", 0.1);
        m.put("peak_rss_mb", rss);
        return m;
    }
}
