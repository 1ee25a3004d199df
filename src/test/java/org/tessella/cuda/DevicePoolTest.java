package org.tessella.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The pool's bookkeeping over a fake allocator (no GPU needed); CudaBackendTest checks it on a device. */
class DevicePoolTest {
    /** Hands out fake addresses; fails with CUDA_ERROR_OUT_OF_MEMORY above a capacity. */
    static final class FakeAllocator implements DevicePool.Allocator {
        final long capacity;
        long next = 1 << 20, live;
        final java.util.Map<Long, Long> outstanding = new java.util.HashMap<>();
        int allocations, frees;

        FakeAllocator(long capacity) { this.capacity = capacity; }

        @Override public long allocate(long bytes) {
            if (live + bytes > capacity) throw new CudaException("cuMemAlloc_v2", 2, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory");
            long a = next;
            next += bytes;
            live += bytes;
            outstanding.put(a, bytes);
            allocations++;
            return a;
        }

        @Override public void free(long address) {
            Long size = outstanding.remove(address);
            assertTrue(size != null, "freed an address twice or never allocated");
            live -= size;
            frees++;
        }
    }

    @Test
    void sizeClassesWasteAtMostAQuarter() {
        assertEquals(512, DevicePool.sizeClass(1));
        assertEquals(512, DevicePool.sizeClass(512));
        assertEquals(640, DevicePool.sizeClass(513));
        assertEquals(1024, DevicePool.sizeClass(1024));
        assertEquals(1280, DevicePool.sizeClass(1025));
        for (long b = 1; b < 50_000_000; b = b * 3 / 2 + 7) {
            long c = DevicePool.sizeClass(b);
            assertTrue(c >= b && (b <= 512 || c <= b * 1.25 + 1), b + " -> " + c);
            assertEquals(c, DevicePool.sizeClass(c), "a class is its own class");
        }
    }

    @Test
    void releasedBlocksAreReusedAndInUseStaysFlat() {
        FakeAllocator fake = new FakeAllocator(Long.MAX_VALUE);
        DevicePool pool = new DevicePool(fake);
        long[] sizes = {100, 4000, 4096, 70_000, 1_000_000, 3_333_333};
        int afterWarmup = 0;
        for (int step = 0; step < 1000; step++) {
            List<DevicePool.Block> blocks = new ArrayList<>();
            for (long s : sizes) blocks.add(pool.allocate(s + step % 3)); // 4096 + 1 moves to the next class
            for (DevicePool.Block b : blocks) pool.release(b);
            assertEquals(0, pool.stats().bytesInUse());
            if (step == 2) afterWarmup = fake.allocations;
        }
        assertEquals(sizes.length + 1, afterWarmup, "one block per size class seen");
        assertEquals(afterWarmup, fake.allocations, "after the first steps every request is a reuse");
        assertEquals(1000L * sizes.length - afterWarmup, pool.stats().reuses());
        pool.trim();
        assertEquals(afterWarmup, fake.frees);
        assertEquals(0, pool.stats().bytesCached());
    }

    @Test
    void outOfMemoryFreesTheCacheAndRetriesOnce() {
        FakeAllocator fake = new FakeAllocator(4096);
        DevicePool pool = new DevicePool(fake);
        pool.release(pool.allocate(2048));          // 2048 cached
        DevicePool.Block b = pool.allocate(1024);   // fits beside it: 3072 live
        DevicePool.Block c = pool.allocate(1500);   // 1536 more does not fit until the cached 2048 is freed
        assertEquals(1, fake.frees, "the cached block went back to the driver before the retry");
        assertEquals(1024 + 1536, pool.stats().bytesInUse());
        assertEquals(0, pool.stats().bytesCached());
        CudaException e = assertThrows(CudaException.class, () -> pool.allocate(5000)); // nothing left to free
        assertEquals(2, e.code());
        pool.release(b);
        pool.release(c);
        assertEquals(0, pool.stats().bytesInUse());
    }
}
