package org.tessella.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.List;

/**
 * Hand-written bindings of the CUDA driver API (libcuda.so.1) for what Tessella uses: init and device properties,
 * the primary context, streams, events, device and pinned host memory, copies, modules and kernel launches. The
 * {@code _v2} entry points are bound where the header maps a name to one (cuMemAlloc is cuMemAlloc_v2, ...). Every
 * return code is checked: a failure becomes a {@link CudaException} naming the call, cuGetErrorName and
 * cuGetErrorString. Loaded on first use only ({@link #get}), never by CPU code paths.
 */
final class Driver {
    static final int CUDA_SUCCESS = 0;
    static final int CUDA_ERROR_OUT_OF_MEMORY = 2;
    static final int CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16;
    static final int CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE = 36;
    static final int CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH = 37;
    static final int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
    static final int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;
    static final int CU_STREAM_NON_BLOCKING = 1;
    static final int CU_MEMHOSTALLOC_PORTABLE = 1;
    static final int CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8;

    private static Driver instance;

    private final MethodHandle cuInit, cuDriverGetVersion, cuDeviceGetCount, cuDeviceGet, cuDeviceGetName,
            cuDeviceGetAttribute, cuDeviceTotalMem, cuDevicePrimaryCtxRetain, cuCtxSetCurrent, cuStreamCreate,
            cuStreamSynchronize, cuEventCreate, cuEventRecord, cuEventSynchronize, cuEventElapsedTime, cuEventDestroy,
            cuMemAlloc, cuMemFree, cuMemGetInfo, cuMemHostAlloc, cuMemFreeHost, cuMemcpyHtoDAsync, cuMemcpyDtoHAsync,
            cuMemcpyDtoDAsync, cuMemsetD32Async, cuModuleLoadData, cuModuleGetFunction, cuFuncSetAttribute, cuLaunchKernel,
            cuGetErrorName, cuGetErrorString;

    /** The driver, loaded and initialised on first call; throws {@link CudaUnavailableException} when absent. */
    static synchronized Driver get() {
        if (instance == null) {
            Driver d = new Driver(NativeLibrary.load("libcuda.so.1", "tessella.cuda.libcuda", List.of("libcuda.so.1", "libcuda.so"),
                    List.of(), "install the NVIDIA driver (it provides libcuda.so.1) or add its directory to LD_LIBRARY_PATH"));
            d.init();
            instance = d;
        }
        return instance;
    }

    private Driver(SymbolLookup lib) {
        String l = "libcuda.so.1";
        cuGetErrorName = Native.function(lib, l, "cuGetErrorName", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
        cuGetErrorString = Native.function(lib, l, "cuGetErrorString", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
        cuInit = Native.function(lib, l, "cuInit", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
        cuDriverGetVersion = Native.function(lib, l, "cuDriverGetVersion", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        cuDeviceGetCount = Native.function(lib, l, "cuDeviceGetCount", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        cuDeviceGet = Native.function(lib, l, "cuDeviceGet", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        cuDeviceGetName = Native.function(lib, l, "cuDeviceGetName", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
        cuDeviceGetAttribute = Native.function(lib, l, "cuDeviceGetAttribute", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
        cuDeviceTotalMem = Native.function(lib, l, "cuDeviceTotalMem_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        cuDevicePrimaryCtxRetain = Native.function(lib, l, "cuDevicePrimaryCtxRetain", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        cuCtxSetCurrent = Native.function(lib, l, "cuCtxSetCurrent", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        cuStreamCreate = Native.function(lib, l, "cuStreamCreate", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        cuStreamSynchronize = Native.function(lib, l, "cuStreamSynchronize", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        cuEventCreate = Native.function(lib, l, "cuEventCreate", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        cuEventRecord = Native.function(lib, l, "cuEventRecord", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        cuEventSynchronize = Native.function(lib, l, "cuEventSynchronize", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        // CUDA 12.8 added cuEventElapsedTime_v2 (and CUDA 13's header maps the name to it); older drivers have only v1.
        MethodHandle elapsed = Native.firstOf(lib, FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS),
                "cuEventElapsedTime_v2", "cuEventElapsedTime");
        if (elapsed == null) throw new CudaUnavailableException("no CUDA: " + l + " has no cuEventElapsedTime; update the NVIDIA driver");
        cuEventElapsedTime = elapsed;
        cuEventDestroy = Native.function(lib, l, "cuEventDestroy_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        cuMemAlloc = Native.function(lib, l, "cuMemAlloc_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
        cuMemFree = Native.function(lib, l, "cuMemFree_v2", FunctionDescriptor.of(JAVA_INT, JAVA_LONG));
        cuMemGetInfo = Native.function(lib, l, "cuMemGetInfo_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        cuMemHostAlloc = Native.function(lib, l, "cuMemHostAlloc", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
        cuMemFreeHost = Native.function(lib, l, "cuMemFreeHost", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        cuMemcpyHtoDAsync = Native.function(lib, l, "cuMemcpyHtoDAsync_v2", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS, JAVA_LONG, ADDRESS));
        cuMemcpyDtoHAsync = Native.function(lib, l, "cuMemcpyDtoHAsync_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS));
        cuMemcpyDtoDAsync = Native.function(lib, l, "cuMemcpyDtoDAsync_v2", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, ADDRESS));
        cuMemsetD32Async = Native.function(lib, l, "cuMemsetD32Async", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_LONG, ADDRESS));
        cuModuleLoadData = Native.function(lib, l, "cuModuleLoadData", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        cuModuleGetFunction = Native.function(lib, l, "cuModuleGetFunction", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
        cuFuncSetAttribute = Native.function(lib, l, "cuFuncSetAttribute", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
        cuLaunchKernel = Native.function(lib, l, "cuLaunchKernel", FunctionDescriptor.of(JAVA_INT, ADDRESS,
                JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
    }

    // ---- errors --------------------------------------------------------------------------------------------------

    /** Throws a {@link CudaException} for a non-zero CUresult, naming the call. */
    void check(String call, int result) {
        if (result != CUDA_SUCCESS) throw error(call, result);
    }

    CudaException error(String call, int result) {
        return new CudaException(call, result, errorName(result), errorString(result));
    }

    String errorName(int result) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            int rc = (int) cuGetErrorName.invokeExact(result, p);
            return rc == CUDA_SUCCESS ? Native.string(p.get(ADDRESS, 0)) : "CUDA_ERROR_" + result;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    String errorString(int result) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            int rc = (int) cuGetErrorString.invokeExact(result, p);
            return rc == CUDA_SUCCESS ? Native.string(p.get(ADDRESS, 0)) : "unknown CUDA error";
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    // ---- init and devices ----------------------------------------------------------------------------------------

    private void init() {
        int rc;
        try {
            rc = (int) cuInit.invokeExact(0);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        // cuInit failing means no usable GPU (no device, driver/library mismatch, ...): unavailable, in one line.
        if (rc != CUDA_SUCCESS)
            throw new CudaUnavailableException("no CUDA: cuInit failed with " + errorName(rc) + " (" + errorString(rc)
                    + "); check that a GPU is visible (nvidia-smi) and the driver matches libcuda.so.1");
    }

    int driverVersion() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_INT);
            check("cuDriverGetVersion", (int) cuDriverGetVersion.invokeExact(v));
            return v.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    int deviceCount() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_INT);
            check("cuDeviceGetCount", (int) cuDeviceGetCount.invokeExact(v));
            return v.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** The CUdevice handle of an ordinal. */
    int device(int ordinal) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_INT);
            check("cuDeviceGet", (int) cuDeviceGet.invokeExact(v, ordinal));
            return v.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    String deviceName(int device) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(256);
            check("cuDeviceGetName", (int) cuDeviceGetName.invokeExact(v, 256, device));
            return v.getString(0);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    int attribute(int attribute, int device) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_INT);
            check("cuDeviceGetAttribute", (int) cuDeviceGetAttribute.invokeExact(v, attribute, device));
            return v.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    long totalMemory(int device) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_LONG);
            check("cuDeviceTotalMem_v2", (int) cuDeviceTotalMem.invokeExact(v, device));
            return v.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** {free, total} bytes of the current context's device. */
    long[] memoryInfo() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment f = a.allocate(JAVA_LONG), t = a.allocate(JAVA_LONG);
            check("cuMemGetInfo_v2", (int) cuMemGetInfo.invokeExact(f, t));
            return new long[]{f.get(JAVA_LONG, 0), t.get(JAVA_LONG, 0)};
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    // ---- context, streams, events --------------------------------------------------------------------------------

    MemorySegment primaryContext(int device) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(ADDRESS);
            check("cuDevicePrimaryCtxRetain", (int) cuDevicePrimaryCtxRetain.invokeExact(v, device));
            return v.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    void setCurrent(MemorySegment context) {
        try {
            check("cuCtxSetCurrent", (int) cuCtxSetCurrent.invokeExact(context));
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    MemorySegment createStream(int flags) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(ADDRESS);
            check("cuStreamCreate", (int) cuStreamCreate.invokeExact(v, flags));
            return v.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    void synchronize(MemorySegment stream) {
        try {
            check("cuStreamSynchronize", (int) cuStreamSynchronize.invokeExact(stream));
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    MemorySegment createEvent() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(ADDRESS);
            check("cuEventCreate", (int) cuEventCreate.invokeExact(v, 0));
            return v.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    void record(MemorySegment event, MemorySegment stream) {
        try {
            check("cuEventRecord", (int) cuEventRecord.invokeExact(event, stream));
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** Milliseconds between two recorded events (waits for the second). */
    float elapsedMillis(MemorySegment start, MemorySegment end) {
        try (Arena a = Arena.ofConfined()) {
            check("cuEventSynchronize", (int) cuEventSynchronize.invokeExact(end));
            MemorySegment v = a.allocate(JAVA_FLOAT);
            check("cuEventElapsedTime", (int) cuEventElapsedTime.invokeExact(v, start, end));
            return v.get(JAVA_FLOAT, 0);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    void destroyEvent(MemorySegment event) {
        try {
            check("cuEventDestroy_v2", (int) cuEventDestroy.invokeExact(event));
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    // ---- memory --------------------------------------------------------------------------------------------------

    long malloc(long bytes) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_LONG);
            check("cuMemAlloc_v2", (int) cuMemAlloc.invokeExact(v, bytes));
            return v.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    void free(long address) {
        try {
            check("cuMemFree_v2", (int) cuMemFree.invokeExact(address));
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** Page-locked host memory, usable by asynchronous copies, as a segment of the given size. */
    MemorySegment hostAlloc(long bytes) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(ADDRESS);
            check("cuMemHostAlloc", (int) cuMemHostAlloc.invokeExact(v, bytes, CU_MEMHOSTALLOC_PORTABLE));
            return v.get(ADDRESS, 0).reinterpret(bytes);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    void hostFree(MemorySegment pinned) {
        try {
            check("cuMemFreeHost", (int) cuMemFreeHost.invokeExact(pinned));
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    void copyHostToDevice(long dst, MemorySegment src, long bytes, MemorySegment stream) {
        try {
            check("cuMemcpyHtoDAsync_v2", (int) cuMemcpyHtoDAsync.invokeExact(dst, src, bytes, stream));
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    void copyDeviceToHost(MemorySegment dst, long src, long bytes, MemorySegment stream) {
        try {
            check("cuMemcpyDtoHAsync_v2", (int) cuMemcpyDtoHAsync.invokeExact(dst, src, bytes, stream));
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    void copyDeviceToDevice(long dst, long src, long bytes, MemorySegment stream) {
        try {
            check("cuMemcpyDtoDAsync_v2", (int) cuMemcpyDtoDAsync.invokeExact(dst, src, bytes, stream));
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** Sets count 32-bit words at dst to value. */
    void memset32(long dst, int value, long count, MemorySegment stream) {
        try {
            check("cuMemsetD32Async", (int) cuMemsetD32Async.invokeExact(dst, value, count, stream));
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    // ---- modules and launches ------------------------------------------------------------------------------------

    /** Loads a CUBIN or NUL-terminated PTX image into the current context. */
    MemorySegment loadModule(byte[] image) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment img = a.allocate(image.length + 1L, 16);
            MemorySegment.copy(image, 0, img, JAVA_BYTE, 0, image.length);
            MemorySegment v = a.allocate(ADDRESS);
            check("cuModuleLoadData", (int) cuModuleLoadData.invokeExact(v, img));
            return v.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    MemorySegment function(MemorySegment module, String name) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(ADDRESS);
            int rc = (int) cuModuleGetFunction.invokeExact(v, module, a.allocateFrom(name));
            if (rc != CUDA_SUCCESS) throw new CudaException("cuModuleGetFunction(" + name + ")", rc, errorName(rc), errorString(rc));
            return v.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** Lets a kernel's launches ask for up to {@code bytes} of dynamic shared memory (above the default 48 KiB). */
    void setMaxDynamicShared(MemorySegment function, int bytes) {
        try {
            check("cuFuncSetAttribute", (int) cuFuncSetAttribute.invokeExact(function,
                    CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes));
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** cuLaunchKernel with a 1-D grid; params is the void*[] of pointers to the argument values. */
    void launch(MemorySegment function, int gridX, int gridY, int blockX, int sharedBytes, MemorySegment stream,
                MemorySegment params, String name) {
        int rc;
        try {
            rc = (int) cuLaunchKernel.invokeExact(function, gridX, gridY, 1, blockX, 1, 1, sharedBytes, stream, params,
                    MemorySegment.NULL);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (rc != CUDA_SUCCESS)
            throw new CudaException("cuLaunchKernel(" + name + ")", rc, errorName(rc), errorString(rc));
    }
}
