package org.tessella.data;

import org.junit.jupiter.api.Test;
import org.tessella.tensor.DType;
import org.tessella.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class BatcherTest {
    private static List<int[]> batches(Batcher b, int count) {
        List<int[]> out = new ArrayList<>();
        int[] idx = new int[b.batchSize()];
        for (int i = 0; i < count; i++) {
            int n = b.nextIndices(idx);
            out.add(Arrays.copyOf(idx, n));
        }
        return out;
    }

    @Test
    void deterministicPerSeed() {
        List<int[]> a = batches(new Batcher(103, 10, 42, false), 30), b = batches(new Batcher(103, 10, 42, false), 30),
                c = batches(new Batcher(103, 10, 43, false), 30);
        for (int i = 0; i < a.size(); i++) assertArrayEquals(a.get(i), b.get(i));
        boolean differs = false;
        for (int i = 0; i < a.size(); i++) differs |= !Arrays.equals(a.get(i), c.get(i));
        assertTrue(differs, "another seed gives another order");
    }

    @Test
    void everyExampleOncePerEpochKeepingTheShortLastBatch() {
        Batcher b = new Batcher(103, 10, 7, false);
        assertEquals(11, b.batchesPerEpoch());
        int[] firstEpoch = null;
        for (int epoch = 0; epoch < 3; epoch++) {
            assertEquals(epoch, b.epoch());
            int[] seen = new int[103];
            List<int[]> bs = batches(b, 11);
            assertEquals(3, bs.get(10).length, "short last batch");
            int[] all = bs.stream().flatMapToInt(Arrays::stream).toArray();
            for (int i : all) seen[i]++;
            for (int s : seen) assertEquals(1, s);
            if (firstEpoch == null) firstEpoch = all;
            else assertFalse(Arrays.equals(firstEpoch, all), "reshuffled each epoch");
            assertEquals(new Batcher.State(epoch + 1, 0), b.state());
        }
    }

    @Test
    void dropLastGivesOnlyFullBatches() {
        Batcher b = new Batcher(103, 10, 7, true);
        assertEquals(10, b.batchesPerEpoch());
        List<int[]> bs = batches(b, 25);
        for (int[] x : bs) assertEquals(10, x.length);
        for (int e = 0; e < 2; e++) {
            int[] seen = new int[103];
            for (int k = 0; k < 10; k++) for (int i : bs.get(e * 10 + k)) seen[i]++;
            assertEquals(100, Arrays.stream(seen).sum());
            assertTrue(Arrays.stream(seen).allMatch(s -> s <= 1));
        }
        assertThrows(IllegalArgumentException.class, () -> new Batcher(5, 10, 1, true));
    }

    @Test
    void resumeFromStateGivesTheSameBatches() {
        Batcher full = new Batcher(50, 8, 99, false);
        List<int[]> ref = batches(full, 40);
        Batcher first = new Batcher(50, 8, 99, false);
        batches(first, 17);
        Batcher.State saved = first.state();
        Batcher resumed = new Batcher(50, 8, 99, false);
        resumed.seek(saved);
        List<int[]> rest = batches(resumed, 23);
        for (int i = 0; i < 23; i++) assertArrayEquals(ref.get(17 + i), rest.get(i), "batch " + (17 + i));
    }

    @Test
    void fillsReusedTensorsAndArrays() {
        Dataset d = SyntheticImages.shapes(20, 1);
        Batcher b = new Batcher(20, 6, 5, false), b2 = new Batcher(20, 6, 5, false);
        Tensor x = Tensor.persistent(DType.F32, 6, 1, 32, 32), y = Tensor.persistent(DType.I32, 6);
        float[] xa = new float[6 * 1024];
        int[] ya = new int[6];
        int[] idx = new int[6];
        Batcher ib = new Batcher(20, 6, 5, false);
        for (int step = 0; step < 8; step++) {
            int n = b.next(d, x, y), n2 = b2.next(d, xa, ya), ni = ib.nextIndices(idx);
            assertEquals(ni, n);
            assertEquals(ni, n2);
            for (int k = 0; k < n; k++) {
                assertEquals(d.label(idx[k]), y.ints()[k]);
                assertEquals(d.label(idx[k]), ya[k]);
                assertArrayEquals(d.image(idx[k]).toFloatArray(), Arrays.copyOfRange(x.floats(), k * 1024, (k + 1) * 1024));
                assertArrayEquals(d.image(idx[k]).toFloatArray(), Arrays.copyOfRange(xa, k * 1024, (k + 1) * 1024));
            }
        }
        assertThrows(IllegalArgumentException.class, () -> b.next(d, Tensor.persistent(DType.F32, 5, 1024), y));
        assertThrows(IllegalArgumentException.class, () -> b.next(SyntheticImages.shapes(3, 1), x, y));
    }

    @Test
    void steadyStateAllocatesNothing() {
        Dataset d = SyntheticImages.shapes(64, 2);
        Batcher b = new Batcher(64, 16, 3, true);
        Tensor x = Tensor.persistent(DType.F32, 16, 1, 32, 32), y = Tensor.persistent(DType.I32, 16);
        b.next(d, x, y); // warm up (builds the epoch's permutation)
        var bean = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        long tid = Thread.currentThread().threadId();
        for (int i = 0; i < 2000; i++) { b.seek(0, 16); b.next(d, x, y); }
        long before = bean.getThreadAllocatedBytes(tid);
        for (int i = 0; i < 2000; i++) { b.seek(0, 16); b.next(d, x, y); }
        long allocated = bean.getThreadAllocatedBytes(tid) - before;
        assertTrue(allocated < 10_000, "allocated " + allocated + " bytes over 2000 batches");
    }

    @Test
    void sequentialKeepsStoredOrder() {
        Batcher b = Batcher.sequential(5, 2);
        assertEquals(List.of("[0, 1]", "[2, 3]", "[4]", "[0, 1]"), batches(b, 4).stream().map(Arrays::toString).toList());
    }
}
