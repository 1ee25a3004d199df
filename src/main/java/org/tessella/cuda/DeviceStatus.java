package org.tessella.cuda;

import java.lang.foreign.MemorySegment;

/**
 * A few int32 words of device memory a kernel reports through (a count, the first bad index), set before the launch
 * and read after it. Reading waits for the kernel, which is the price of ops that must return a number or throw on
 * bad input (cross-entropy, index checks).
 */
final class DeviceStatus implements AutoCloseable {
    private final CudaContext context;
    private final DevicePool.Block block;
    private final int words;

    DeviceStatus(CudaContext context, int... initial) {
        this.context = context;
        this.words = initial.length;
        this.block = context.pool().allocate(4L * words);
        for (int i = 0; i < words; i++) context.memset32(block.address() + 4L * i, initial[i], 1);
    }

    long address() { return block.address(); }

    int[] read() {
        int[] v = new int[words];
        context.download(block.address(), MemorySegment.ofArray(v), 4L * words);
        return v;
    }

    @Override public void close() { context.pool().release(block); }
}
