package org.tessella.diffusion;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessella.autograd.Ops;
import org.tessella.autograd.Tape;
import org.tessella.backend.Backends;
import org.tessella.data.SyntheticImages;
import org.tessella.nn.Init;
import org.tessella.nn.Parameter;
import org.tessella.tensor.Tensor;
import org.tessella.tensor.Workspace;

/** L2C: the interpolated model, the cached sampler against a slow reference, router gradients, learning and its file. */
class LearnToCacheTest {
    static Dit awake(long seed) {
        Dit m = new Dit(DitTest.TINY, new Init(seed));
        Init r = new Init(seed + 100);
        for (Parameter p : m.parameters()) Backends.of(p.tensor().device()).copy(r.normal(0f, 0.3f, p.tensor().shape()), p.tensor());
        return m;
    }

    @Test
    void allRoutersOpenIsTheFullModelExactly() {
        Dit m = awake(1);
        try (var ignored = Tape.noGrad(); Workspace w = new Workspace().open()) {
            LayerCache cache = new LayerCache(m.config.subLayers());
            Tensor y = Tensor.ofInts(new int[]{0, 3}, 2);
            m.forward(Ops.randn(1, 0, 2, 1, 8, 8), new float[]{600, 600}, y, cache.recordAll());
            Tensor x = Ops.randn(2, 0, 2, 1, 8, 8);
            float[] full = m.forward(x, new float[]{550, 550}, y).toFloatArray();
            float[] ones = new float[m.config.subLayers()];
            java.util.Arrays.fill(ones, 1f);
            float[] mixed = m.forward(x, new float[]{550, 550}, y, cache.interpolate(Tensor.of(ones, ones.length))).toFloatArray();
            assertArrayEquals(full, mixed, 0f);
            float[] zeros = new float[ones.length];
            float[] allCached = m.forward(x, new float[]{550, 550}, y, cache.interpolate(Tensor.of(zeros, zeros.length))).toFloatArray();
            float[] reused = m.forward(x, new float[]{550, 550}, y, cache.reuse(new boolean[ones.length])).toFloatArray();
            assertArrayEquals(reused, allCached, 1e-6f);
        }
    }

    @Test
    void cachedSamplerEqualsARecomputingReference() {
        Dit m = awake(2);
        int steps = 10, width = m.config.subLayers();
        float[][] logits = new float[steps / 2][width];
        for (int i = 0; i < logits.length; i++) for (int j = 0; j < width; j++) logits[i][j] = ((i * 3 + j) % 4 == 0) ? -3f : 3f;
        CacheSchedule s = new CacheSchedule(steps, m.config.depth(), logits);
        DdimSampler sampler = new DdimSampler(steps);
        int[] labels = {0, 2, 1};
        float[] fast = sampler.sample(m, labels, 2f, 11, s, 0.5f);
        // the reference computes every branch at every step and only then substitutes the cached value
        LayerCache cache = new LayerCache(width);
        int[] calls = new int[1];
        float[] slow = sampler.sample(position -> {
            boolean cacheStep = position % 2 == 1;
            boolean[] keep = cacheStep ? s.compute(position / 2, 0.5f) : null;
            SubLayerPolicy record = cache.recordAll();
            return (x, t, y) -> m.forward(x, t, y, (j, f) -> {
                Tensor computed = f.get();
                calls[0]++;
                return !cacheStep ? record.branch(j, () -> computed) : keep[j] ? computed : cache.saved(j);
            });
        }, labels, m.nullClass(), 2f, 11, 0, 1, 8, m.device());
        assertArrayEquals(slow, fast, 0f);
        assertEquals(steps * width, calls[0], "the reference computes every branch");
        double[] skipped = s.skipped(0.5f);
        assertTrue(skipped[2] > 0 && skipped[2] < 1, "some but not all cache-step sub-layers skipped: " + skipped[2]);
        float[] plain = sampler.sample(m, labels, 2f, 11, null, 0.5f);
        assertFalse(java.util.Arrays.equals(plain, fast), "caching changes the samples a little");
    }

    @Test
    void routerGradientsMatchFiniteDifferences() {
        Dit m = awake(3);
        for (Parameter p : m.parameters()) p.tensor().requiresGrad(false);
        Tensor logits = Tensor.of(new float[]{0.3f, -0.7f, 1.1f, 0.2f}, 1, 4).requiresGrad(true);
        Tensor x0 = Ops.randn(4, 0, 2, 1, 8, 8), noise = Ops.randn(5, 0, 2, 1, 8, 8);
        int[] labels = {1, 3};
        try (Workspace w = new Workspace().open()) {
            Tape.backward(LearnToCache.loss(m, logits, x0, labels, noise, 500, 450, 0.01f));
        }
        float[] g = logits.grad().toFloatArray();
        float[] v = logits.toFloatArray();
        double h = 1e-2;
        for (int j = 0; j < 4; j++) {
            double[] at = new double[2];
            for (int s = 0; s < 2; s++) {
                float[] u = v.clone();
                u[j] += (float) (s == 0 ? h : -h);
                try (var ignored = Tape.noGrad(); Workspace w = new Workspace().open()) {
                    at[s] = LearnToCache.loss(m, Tensor.of(u, 1, 4), x0, labels, noise, 500, 450, 0.01f).item();
                }
            }
            double fd = (at[0] - at[1]) / (2 * h);
            assertEquals(fd, g[j], 2e-2 * Math.max(1e-2, Math.abs(fd)) + 1e-5, "router " + j);
        }
    }

    @Test
    void lambdaPushesTowardCachingAndTheScheduleRoundTrips(@TempDir Path tmp) {
        Dit m = awake(4);
        var data = SyntheticImages.shapes(32, 8, 8, 3, 1);
        LearnToCache.Config base = new LearnToCache.Config(30, 8, 5e-2f, 0f, 1, 0.1f);
        CacheSchedule free = LearnToCache.learn(m, data, 10, base, null);
        CacheSchedule pushed = LearnToCache.learn(m, data, 10, new LearnToCache.Config(30, 8, 5e-2f, 1f, 1, 0.1f), null);
        assertTrue(mean(pushed) < mean(free) - 0.1, "mean router weight with lambda 0 / 1: " + mean(free) + " / " + mean(pushed));
        for (Parameter p : m.parameters()) assertTrue(p.tensor().requiresGrad(), "the DiT is unfrozen afterwards: " + p.name());
        for (float[] row : pushed.logits()) for (float l : row) assertTrue(l >= -5 && l <= 5, "clamped: " + l);
        Path f = tmp.resolve("cache.json");
        pushed.write(f, 0.1f);
        CacheSchedule back = CacheSchedule.read(f);
        for (int i = 0; i < 5; i++) assertArrayEquals(pushed.logits()[i], back.logits()[i], 1e-6f);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> back.checkFits(20, 2));
        assertTrue(e.getMessage().contains("10 steps") && e.getMessage().contains("20 steps"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> back.compute(0, 1.5f));
    }

    private static double mean(CacheSchedule s) {
        double sum = 0;
        int n = 0;
        for (float[] row : s.logits()) for (float l : row) { sum += CacheSchedule.sigmoid(l); n++; }
        return sum / n;
    }
}
