package org.tessella.cuda;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;

/**
 * A caching allocator for device memory. Requests are rounded up to a size class (four classes per power of two, so
 * at most 25% is wasted), and a released block goes on its class's free list for the next request of that class
 * instead of back to the driver: after the first steps of a training loop every allocation is a reuse, cuMemAlloc
 * and its implicit synchronisation disappear, and the memory in use stays flat. The GC never sees device memory;
 * blocks come back only through {@link #release} (explicitly, at the end of a workspace step, or from a storage's
 * cleaner). When the driver runs out of memory, the cached blocks are freed and the allocation tried once more.
 *
 * <p>All work is queued on one stream per device, so a block released while kernels that use it are still queued
 * is safe to hand out again: whatever uses it next is queued after them. Thread-safe (cleaners run on their own
 * thread).
 */
public final class DevicePool {
    /** Where the memory really comes from: cuMemAlloc / cuMemFree, or a fake in tests. */
    interface Allocator {
        long allocate(long bytes);

        void free(long address);
    }

    /** One block handed out: its device address and its size class in bytes. */
    public record Block(long address, long size) {}

    /** Counters for tests and reports. */
    public record Stats(long bytesInUse, long bytesCached, long peakBytesInUse, long deviceAllocations, long reuses) {}

    static final long MIN_BLOCK = 512;

    private final Allocator allocator;
    private final Map<Long, ArrayDeque<Long>> free = new HashMap<>();
    private long inUse, cached, peak, deviceAllocations, reuses;

    DevicePool(Allocator allocator) { this.allocator = allocator; }

    /** The size class of a request: the smallest of 2^k, 1.25 2^k, 1.5 2^k, 1.75 2^k that holds it. */
    static long sizeClass(long bytes) {
        if (bytes <= MIN_BLOCK) return MIN_BLOCK;
        long pow = Long.highestOneBit(bytes - 1);     // 2^k < bytes <= 2^(k+1)
        long quarter = pow / 4;
        return pow + (bytes - pow + quarter - 1) / quarter * quarter;
    }

    public synchronized Block allocate(long bytes) {
        long size = sizeClass(bytes);
        ArrayDeque<Long> list = free.get(size);
        long address;
        if (list != null && !list.isEmpty()) {
            address = list.pop();
            cached -= size;
            reuses++;
        } else {
            address = fresh(size);
            deviceAllocations++;
        }
        inUse += size;
        peak = Math.max(peak, inUse);
        return new Block(address, size);
    }

    private long fresh(long size) {
        try {
            return allocator.allocate(size);
        } catch (CudaException e) {
            if (e.code() != Driver.CUDA_ERROR_OUT_OF_MEMORY || cached == 0) throw e;
            trim();
            return allocator.allocate(size);
        }
    }

    public synchronized void release(Block block) {
        inUse -= block.size();
        cached += block.size();
        free.computeIfAbsent(block.size(), k -> new ArrayDeque<>()).push(block.address());
    }

    /** Gives every cached block back to the driver. */
    public synchronized void trim() {
        for (ArrayDeque<Long> list : free.values())
            while (!list.isEmpty()) allocator.free(list.pop());
        cached = 0;
    }

    public synchronized Stats stats() { return new Stats(inUse, cached, peak, deviceAllocations, reuses); }
}
