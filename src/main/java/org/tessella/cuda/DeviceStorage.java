package org.tessella.cuda;

import java.lang.foreign.MemorySegment;
import java.lang.ref.Cleaner;
import org.tessella.tensor.DType;
import org.tessella.tensor.Device;
import org.tessella.tensor.Storage;

/**
 * Storage in GPU memory: one block of the device's {@link DevicePool}. Tensors over it stay on the device; data
 * crosses to the host only through {@link #readFloats} / {@link #writeFloats} and friends (loading, printing,
 * checkpoints), each a synchronous copy through pinned memory.
 *
 * <p>Lifetime: a storage made inside a workspace step belongs to that step's {@link StepArena} and goes back to the
 * pool when the step closes (its generation then changes, so {@code Tensor.checkAlive} catches stale tensors).
 * Any other storage (parameters, optimizer state, tensors made outside a step) is returned by {@link #release()} or,
 * failing that, by a cleaner once it is unreachable; the cleaner only puts the block on a free list, it never calls
 * CUDA.
 */
public final class DeviceStorage extends Storage {
    private static final Cleaner CLEANER = Cleaner.create();

    /** The block and whether it went back to the pool; separate from the storage so a cleaner can hold it. */
    private static final class Lease implements Runnable {
        final DevicePool pool;
        final DevicePool.Block block;
        volatile boolean released;

        Lease(DevicePool pool, DevicePool.Block block) {
            this.pool = pool;
            this.block = block;
        }

        @Override public synchronized void run() {
            if (released) return;
            released = true;
            pool.release(block);
        }
    }

    private final CudaContext context;
    private final Device device;
    private final long length;
    private final Lease lease;
    private final Cleaner.Cleanable cleanable;
    private volatile int generation;

    private DeviceStorage(CudaContext context, DType dtype, long length, boolean clean) {
        super(dtype);
        this.context = context;
        this.device = Device.cuda(context.info().ordinal());
        this.length = length;
        this.lease = new Lease(context.pool(), context.pool().allocate(Math.max(1, length) * dtype.byteSize()));
        this.cleanable = clean ? CLEANER.register(this, lease) : null;
    }

    /** Uninitialised storage released explicitly or when unreachable. */
    static DeviceStorage allocate(CudaContext context, DType dtype, long length) {
        return new DeviceStorage(context, dtype, length, true);
    }

    /** Uninitialised storage owned by a workspace step (released by the step's {@link StepArena}). */
    static DeviceStorage forStep(CudaContext context, DType dtype, long length) {
        return new DeviceStorage(context, dtype, length, false);
    }

    /** The device address of element 0. */
    public long address() {
        if (lease.released)
            throw new IllegalStateException("device storage of " + length + " " + dtype() + " on " + device
                    + " was released (its workspace step ended?)");
        return lease.block.address();
    }

    /** The device address of an element. */
    long address(long element) { return address() + element * dtype().byteSize(); }

    /** Returns the memory to the pool now; tensors over this storage become invalid. Idempotent. */
    public void release() {
        if (lease.released) return;
        generation++;
        if (cleanable != null) cleanable.clean();
        else lease.run();
    }

    public boolean released() { return lease.released; }

    @Override public Device device() { return device; }

    @Override public long length() { return length; }

    @Override public int generation() { return generation; }

    private void range(long offset, int count) {
        if (offset < 0 || count < 0 || offset + count > length)
            throw new IndexOutOfBoundsException("device storage of " + length + " elements: [" + offset + ", "
                    + (offset + count) + ") is out of range");
    }

    @Override public void readFloats(long offset, float[] dst, int dstPos, int count) {
        range(offset, count);
        if (count == 0) return;
        if (dtype() == DType.F32) {
            context.download(address(offset), MemorySegment.ofArray(dst).asSlice(4L * dstPos, 4L * count), 4L * count);
        } else {
            int[] tmp = new int[count];
            context.download(address(offset), MemorySegment.ofArray(tmp), 4L * count);
            for (int i = 0; i < count; i++) dst[dstPos + i] = tmp[i];
        }
    }

    @Override public void readInts(long offset, int[] dst, int dstPos, int count) {
        range(offset, count);
        if (count == 0) return;
        if (dtype() == DType.I32) {
            context.download(address(offset), MemorySegment.ofArray(dst).asSlice(4L * dstPos, 4L * count), 4L * count);
        } else {
            float[] tmp = new float[count];
            context.download(address(offset), MemorySegment.ofArray(tmp), 4L * count);
            for (int i = 0; i < count; i++) dst[dstPos + i] = (int) tmp[i];
        }
    }

    @Override public void writeFloats(long offset, float[] src, int srcPos, int count) {
        range(offset, count);
        if (count == 0) return;
        if (dtype() == DType.F32) {
            context.upload(MemorySegment.ofArray(src).asSlice(4L * srcPos, 4L * count), address(offset), 4L * count);
        } else {
            int[] tmp = new int[count];
            for (int i = 0; i < count; i++) tmp[i] = (int) src[srcPos + i];
            context.upload(MemorySegment.ofArray(tmp), address(offset), 4L * count);
        }
    }

    @Override public void writeInts(long offset, int[] src, int srcPos, int count) {
        range(offset, count);
        if (count == 0) return;
        if (dtype() == DType.I32) {
            context.upload(MemorySegment.ofArray(src).asSlice(4L * srcPos, 4L * count), address(offset), 4L * count);
        } else {
            float[] tmp = new float[count];
            for (int i = 0; i < count; i++) tmp[i] = src[srcPos + i];
            context.upload(MemorySegment.ofArray(tmp), address(offset), 4L * count);
        }
    }

    @Override public String toString() {
        return "DeviceStorage[" + dtype() + " x " + length + " on " + device + (lease.released ? ", released" : "") + "]";
    }
}
