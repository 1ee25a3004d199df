package org.tessella.cuda;

import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.Map;

/**
 * One GPU as Tessella uses it: the device's primary context, the one stream every copy, kernel and cuBLAS call is
 * queued on (so work is ordered without events, and pool blocks can be reused at once), the memory pool and the
 * pinned staging buffer. A CUDA context is current per thread: {@link #bind()} makes this one current on the calling
 * thread and is called at every entry point, so any thread may use the device.
 */
public final class CudaContext {
    private static final Map<Integer, CudaContext> CONTEXTS = new HashMap<>();
    /** The context last made current on each thread (binding again is skipped). */
    private static final ThreadLocal<MemorySegment> CURRENT = new ThreadLocal<>();

    private final Driver driver;
    private final DeviceInfo info;
    private final MemorySegment context;
    private final MemorySegment stream;
    private final DevicePool pool;
    private final PinnedStaging staging;
    private final KernelProfiler profiler = new KernelProfiler(this);

    /** The context of GPU {@code ordinal}, opened on first use; throws {@link CudaUnavailableException} without one. */
    public static synchronized CudaContext of(int ordinal) {
        CudaContext c = CONTEXTS.get(ordinal);
        if (c == null) {
            c = new CudaContext(Driver.get(), ordinal);
            CONTEXTS.put(ordinal, c);
        }
        return c;
    }

    private CudaContext(Driver driver, int ordinal) {
        this.driver = driver;
        int count = driver.deviceCount();
        if (count == 0) throw new CudaUnavailableException("no CUDA: the driver sees no GPU; check nvidia-smi and CUDA_VISIBLE_DEVICES");
        if (ordinal < 0 || ordinal >= count)
            throw new CudaUnavailableException("no CUDA device cuda:" + ordinal + ": this machine has " + count
                    + " (cuda:0" + (count > 1 ? " to cuda:" + (count - 1) : "") + ")");
        int dev = driver.device(ordinal);
        this.info = new DeviceInfo(ordinal, driver.deviceName(dev),
                driver.attribute(Driver.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev),
                driver.attribute(Driver.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev),
                driver.attribute(Driver.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev),
                driver.totalMemory(dev),
                optionalAttribute(driver, Driver.CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE, dev),
                optionalAttribute(driver, Driver.CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH, dev),
                driver.driverVersion());
        this.context = driver.primaryContext(dev);
        bind();
        this.stream = driver.createStream(Driver.CU_STREAM_NON_BLOCKING);
        this.pool = new DevicePool(new DevicePool.Allocator() {
            @Override public long allocate(long bytes) {
                bind();
                return driver.malloc(bytes);
            }

            @Override public void free(long address) {
                bind();
                driver.synchronize(stream); // queued work may still use the block
                driver.free(address);
            }
        });
        this.staging = new PinnedStaging(this);
    }

    /** An attribute only reports use (some are deprecated in newer drivers): 0 when the driver declines it. */
    private static int optionalAttribute(Driver driver, int attribute, int dev) {
        try {
            return driver.attribute(attribute, dev);
        } catch (CudaException e) {
            return 0;
        }
    }

    /** Makes this context current on the calling thread (cheap when it already is). */
    void bind() {
        if (CURRENT.get() != context) {
            driver.setCurrent(context);
            CURRENT.set(context);
        }
    }

    Driver driver() { return driver; }

    MemorySegment stream() { return stream; }

    public DeviceInfo info() { return info; }

    public DevicePool pool() { return pool; }

    /** Device time per kernel when {@code TESSELLA_CUDA_PROFILE=1} (a no-op otherwise). */
    KernelProfiler profiler() { return profiler; }

    /** Waits until everything queued on the device has run. */
    public void synchronize() {
        bind();
        driver.synchronize(stream);
    }

    /** Gives the pool's cached blocks back to the driver. */
    public void trim() {
        synchronize();
        pool.trim();
    }

    /** Device milliseconds that {@code body}'s queued work takes, measured with events on the stream. */
    public float timeMillis(Runnable body) {
        bind();
        MemorySegment start = driver.createEvent(), end = driver.createEvent();
        try {
            driver.record(start, stream);
            body.run();
            driver.record(end, stream);
            return driver.elapsedMillis(start, end);
        } finally {
            driver.destroyEvent(start);
            driver.destroyEvent(end);
        }
    }

    /** {free, total} device memory in bytes, as the driver sees it. */
    public long[] memoryInfo() {
        bind();
        return driver.memoryInfo();
    }

    /** Copies {@code bytes} from host memory (heap or native) to device address dst; returns when src may be reused. */
    void upload(MemorySegment src, long dst, long bytes) {
        bind();
        staging.upload(src, dst, bytes);
    }

    /** Copies {@code bytes} from device address src into host memory; returns when the data is there. */
    void download(long src, MemorySegment dst, long bytes) {
        bind();
        staging.download(src, dst, bytes);
    }

    void copy(long src, long dst, long bytes) {
        bind();
        driver.copyDeviceToDevice(dst, src, bytes, stream);
    }

    void memset32(long dst, int value, long count) {
        bind();
        driver.memset32(dst, value, count, stream);
    }

    @Override public String toString() { return info.toString(); }
}
