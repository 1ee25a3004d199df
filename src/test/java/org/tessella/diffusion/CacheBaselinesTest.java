package org.tessella.diffusion;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.tessella.autograd.Ops;
import org.tessella.autograd.Tape;
import org.tessella.nn.Init;
import org.tessella.tensor.Tensor;
import org.tessella.tensor.Workspace;

/** The caching baselines, the dropping policy, the change measurement and batch-independent sampling. */
class CacheBaselinesTest {
    private static int skipped(CacheSchedule s, float theta) {
        int n = 0;
        for (int i = 0; i < s.logits().length; i++) for (boolean c : s.compute(i, theta)) if (!c) n++;
        return n;
    }

    @Test
    void topAndBottomSpreadTheCountOverTheCacheStepsFromEitherEnd() {
        CacheSchedule top = CacheBaselines.top(10, 3, 7), bottom = CacheBaselines.bottom(10, 3, 7);
        assertEquals(7, skipped(top, 0.1f));
        assertEquals(7, skipped(bottom, 0.9f), "a mask schedule does not depend on theta");
        // 5 cache steps, 7 skipped: the first two steps skip 2, the others 1
        assertArrayEquals(new boolean[]{true, true, true, true, false, false}, top.compute(0, 0.1f));
        assertArrayEquals(new boolean[]{true, true, true, true, true, false}, top.compute(4, 0.1f));
        assertArrayEquals(new boolean[]{false, false, true, true, true, true}, bottom.compute(1, 0.1f));
        assertArrayEquals(new boolean[]{false, true, true, true, true, true}, bottom.compute(2, 0.1f));
        assertThrows(IllegalArgumentException.class, () -> CacheBaselines.top(10, 3, 31));
    }

    @Test
    void randomSkipsExactlyTheCountDeterministicallyAndGreedyTheSmallestChanges() {
        CacheSchedule a = CacheBaselines.random(20, 4, 33, 5), b = CacheBaselines.random(20, 4, 33, 5), c = CacheBaselines.random(20, 4, 33, 6);
        assertEquals(33, skipped(a, 0.1f));
        for (int i = 0; i < 10; i++) assertArrayEquals(a.compute(i, 0.1f), b.compute(i, 0.1f));
        boolean differs = false;
        for (int i = 0; i < 10; i++) differs |= !java.util.Arrays.equals(a.compute(i, 0.1f), c.compute(i, 0.1f));
        assertTrue(differs, "another seed draws another set");

        double[][] change = {{5, 1, 9, 2}, {0.5, 7, 3, 8}};
        CacheSchedule g = CacheBaselines.greedy(change, 4, 2, 3);
        assertArrayEquals(new boolean[]{true, false, true, false}, g.compute(0, 0.1f));
        assertArrayEquals(new boolean[]{false, true, true, true}, g.compute(1, 0.1f));
    }

    @Test
    void droppingAddsNothingWhereCachingReusesAndAllComputedIsTheFullModel() {
        Dit m = LearnToCacheTest.awake(4);
        int w = m.config.subLayers();
        try (var ignored = Tape.noGrad(); Workspace ws = new Workspace().open()) {
            LayerCache cache = new LayerCache(w);
            Tensor y = Tensor.ofInts(new int[]{1, 2}, 2);
            m.forward(Ops.randn(1, 0, 2, 1, 8, 8), new float[]{700, 700}, y, cache.recordAll());
            Tensor x = Ops.randn(2, 0, 2, 1, 8, 8);
            float[] t = {650, 650};
            boolean[] all = new boolean[w], some = new boolean[w];
            java.util.Arrays.fill(all, true);
            for (int j = 0; j < w; j++) some[j] = j % 2 == 0;
            assertArrayEquals(m.forward(x, t, y).toFloatArray(), m.forward(x, t, y, cache.drop(all)).toFloatArray(), 0f);
            float[] dropped = m.forward(x, t, y, cache.drop(some)).toFloatArray();
            float[] zeroed = m.forward(x, t, y, (j, f) -> some[j] ? f.get() : Ops.mulScalar(f.get(), 0f)).toFloatArray();
            assertArrayEquals(zeroed, dropped, 0f);
            assertFalse(java.util.Arrays.equals(dropped, m.forward(x, t, y, cache.reuse(some)).toFloatArray()));
        }
    }

    @Test
    void samplesDoNotDependOnTheBatchTheyRunIn() {
        Dit m = LearnToCacheTest.awake(5);
        DdimSampler s = new DdimSampler(6);
        int[] labels = {0, 1, 2, 0, 1};
        CacheSchedule sched = CacheBaselines.top(6, m.config.depth(), 2);
        for (DdimSampler.Skipped mode : DdimSampler.Skipped.values()) {
            float[] whole = s.sample(m, labels, 2f, 3, sched, 0.1f, mode, labels.length);
            float[] pieces = s.sample(m, labels, 2f, 3, sched, 0.1f, mode, 2);
            assertArrayEquals(whole, pieces, 0f, mode + ": batches of 2 give the same bits as one batch");
        }
        assertArrayEquals(s.sample(m, labels, 2f, 3, null, 0.1f), s.sample(m, labels, 2f, 3, null, 0.1f, DdimSampler.Skipped.REUSE, 1), 0f);
    }

    @Test
    void changeIsZeroWithClosedGatesAndPositiveOtherwise() {
        Dit fresh = new Dit(DitTest.TINY, new Init(1)); // adaLN-Zero: every gate is 0 at initialisation
        double[][] z = CacheBaselines.change(fresh, 6, new int[]{0, 1}, 1.5f, 2);
        assertEquals(3, z.length);
        for (double[] r : z) for (double v : r) assertEquals(0.0, v);
        double[][] c = CacheBaselines.change(LearnToCacheTest.awake(6), 6, new int[]{0, 1}, 1.5f, 2);
        for (double[] r : c) {
            assertEquals(2 * DitTest.TINY.depth(), r.length);
            for (double v : r) assertTrue(v > 0 && Double.isFinite(v), "change " + v);
        }
    }
}
