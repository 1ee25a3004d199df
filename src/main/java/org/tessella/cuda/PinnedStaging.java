package org.tessella.cuda;

import java.lang.foreign.MemorySegment;

/**
 * Host-to-device and device-to-host copies through one page-locked staging buffer. Java arrays cannot be handed to
 * an asynchronous copy (the GC may move them, and pageable memory makes the driver stage it anyway), so data goes
 * array -> pinned buffer -> device in chunks, and the other way round. Each chunk's copy is waited for before the
 * buffer is refilled, which is what keeps the pinned memory alive until the copy completes.
 */
final class PinnedStaging {
    private static final long CHUNK = 16L << 20;

    private final CudaContext context;
    private MemorySegment buffer;

    PinnedStaging(CudaContext context) { this.context = context; }

    private MemorySegment buffer(long bytes) {
        long want = Math.min(CHUNK, Math.max(bytes, 1L << 16));
        if (buffer == null || buffer.byteSize() < want) {
            if (buffer != null) context.driver().hostFree(buffer);
            buffer = null;
            buffer = context.driver().hostAlloc(Long.highestOneBit(want - 1) << 1);
        }
        return buffer;
    }

    synchronized void upload(MemorySegment src, long dst, long bytes) {
        Driver d = context.driver();
        MemorySegment pinned = buffer(bytes);
        for (long done = 0; done < bytes; ) {
            long n = Math.min(pinned.byteSize(), bytes - done);
            MemorySegment.copy(src, done, pinned, 0, n);
            d.copyHostToDevice(dst + done, pinned, n, context.stream());
            d.synchronize(context.stream());
            done += n;
        }
    }

    synchronized void download(long src, MemorySegment dst, long bytes) {
        Driver d = context.driver();
        MemorySegment pinned = buffer(bytes);
        for (long done = 0; done < bytes; ) {
            long n = Math.min(pinned.byteSize(), bytes - done);
            d.copyDeviceToHost(pinned, src + done, n, context.stream());
            d.synchronize(context.stream());
            MemorySegment.copy(pinned, 0, dst, done, n);
            done += n;
        }
    }
}
