package org.tessella.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.List;

/**
 * Hand-written bindings of NVRTC, CUDA's runtime compiler: CUDA C source to CUBIN (for a real architecture, sm_XY)
 * or PTX (for a virtual one, compute_XY, which the driver then JIT-compiles). A failed compile throws
 * {@link KernelCompileException} with the compiler's log; any other failure a {@link CudaException}.
 */
final class Nvrtc {
    private static final int NVRTC_SUCCESS = 0;
    private static Nvrtc instance;

    private final MethodHandle nvrtcVersion, nvrtcGetErrorString, nvrtcCreateProgram, nvrtcCompileProgram,
            nvrtcDestroyProgram, nvrtcGetProgramLogSize, nvrtcGetProgramLog, nvrtcGetCUBINSize, nvrtcGetCUBIN,
            nvrtcGetPTXSize, nvrtcGetPTX, nvrtcGetNumSupportedArchs, nvrtcGetSupportedArchs;

    /** What a compile produced: a CUBIN, or PTX (NUL-terminated) when the target was a virtual architecture. */
    record Output(byte[] image, boolean cubin, String log) {}

    static synchronized Nvrtc get() {
        if (instance == null)
            instance = new Nvrtc(NativeLibrary.load("libnvrtc.so", "tessella.cuda.libnvrtc",
                    List.of("libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12"), List.of(),
                    "install the CUDA toolkit's NVRTC (e.g. the cuda-nvrtc package) and set CUDA_HOME or LD_LIBRARY_PATH to its lib64"));
        return instance;
    }

    private Nvrtc(SymbolLookup lib) {
        String l = "libnvrtc.so";
        nvrtcVersion = Native.function(lib, l, "nvrtcVersion", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        nvrtcGetErrorString = Native.function(lib, l, "nvrtcGetErrorString", FunctionDescriptor.of(ADDRESS, JAVA_INT));
        nvrtcCreateProgram = Native.function(lib, l, "nvrtcCreateProgram",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS));
        nvrtcCompileProgram = Native.function(lib, l, "nvrtcCompileProgram", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS));
        nvrtcDestroyProgram = Native.function(lib, l, "nvrtcDestroyProgram", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        nvrtcGetProgramLogSize = Native.function(lib, l, "nvrtcGetProgramLogSize", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        nvrtcGetProgramLog = Native.function(lib, l, "nvrtcGetProgramLog", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        nvrtcGetCUBINSize = Native.function(lib, l, "nvrtcGetCUBINSize", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        nvrtcGetCUBIN = Native.function(lib, l, "nvrtcGetCUBIN", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        nvrtcGetPTXSize = Native.function(lib, l, "nvrtcGetPTXSize", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        nvrtcGetPTX = Native.function(lib, l, "nvrtcGetPTX", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        nvrtcGetNumSupportedArchs = Native.function(lib, l, "nvrtcGetNumSupportedArchs", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        nvrtcGetSupportedArchs = Native.function(lib, l, "nvrtcGetSupportedArchs", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    }

    private void check(String call, int rc) {
        if (rc != NVRTC_SUCCESS) throw new CudaException(call, rc, errorName(rc), null);
    }

    String errorName(int rc) {
        try {
            String s = Native.string((MemorySegment) nvrtcGetErrorString.invokeExact(rc));
            return s == null ? "NVRTC_ERROR_" + rc : s;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** "major.minor" of the library, part of the kernel cache key. */
    String version() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment major = a.allocate(JAVA_INT), minor = a.allocate(JAVA_INT);
            check("nvrtcVersion", (int) nvrtcVersion.invokeExact(major, minor));
            return major.get(JAVA_INT, 0) + "." + minor.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** The real architectures this NVRTC can emit CUBINs for, as compute capabilities times ten (e.g. 90). */
    int[] supportedArchitectures() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment n = a.allocate(JAVA_INT);
            check("nvrtcGetNumSupportedArchs", (int) nvrtcGetNumSupportedArchs.invokeExact(n));
            int count = n.get(JAVA_INT, 0);
            MemorySegment archs = a.allocate(JAVA_INT, Math.max(1, count));
            check("nvrtcGetSupportedArchs", (int) nvrtcGetSupportedArchs.invokeExact(archs));
            return archs.asSlice(0, 4L * count).toArray(JAVA_INT);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /**
     * Compiles one translation unit. {@code arch} is "sm_XY" (a CUBIN comes back) or "compute_XY" (PTX). The options
     * must not include the architecture; it is added here.
     */
    Output compile(String name, String source, String arch, List<String> options) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment progHolder = a.allocate(ADDRESS);
            check("nvrtcCreateProgram", (int) nvrtcCreateProgram.invokeExact(progHolder, a.allocateFrom(source),
                    a.allocateFrom(name), 0, MemorySegment.NULL, MemorySegment.NULL));
            MemorySegment prog = progHolder.get(ADDRESS, 0);
            try {
                MemorySegment opts = a.allocate(ADDRESS, options.size() + 1);
                opts.setAtIndex(ADDRESS, 0, a.allocateFrom("--gpu-architecture=" + arch));
                for (int i = 0; i < options.size(); i++) opts.setAtIndex(ADDRESS, i + 1, a.allocateFrom(options.get(i)));
                int rc = (int) nvrtcCompileProgram.invokeExact(prog, options.size() + 1, opts);
                String log = log(a, prog);
                if (rc != NVRTC_SUCCESS) throw new KernelCompileException(name, arch, rc, errorName(rc), log);
                boolean cubin = arch.startsWith("sm_");
                MemorySegment size = a.allocate(JAVA_LONG);
                if (cubin) check("nvrtcGetCUBINSize", (int) nvrtcGetCUBINSize.invokeExact(prog, size));
                else check("nvrtcGetPTXSize", (int) nvrtcGetPTXSize.invokeExact(prog, size));
                MemorySegment image = a.allocate(Math.max(1, size.get(JAVA_LONG, 0)));
                if (cubin) check("nvrtcGetCUBIN", (int) nvrtcGetCUBIN.invokeExact(prog, image));
                else check("nvrtcGetPTX", (int) nvrtcGetPTX.invokeExact(prog, image));
                return new Output(image.asSlice(0, size.get(JAVA_LONG, 0)).toArray(JAVA_BYTE), cubin, log);
            } finally {
                check("nvrtcDestroyProgram", (int) nvrtcDestroyProgram.invokeExact(progHolder));
            }
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    private String log(Arena a, MemorySegment prog) throws Throwable {
        MemorySegment size = a.allocate(JAVA_LONG);
        check("nvrtcGetProgramLogSize", (int) nvrtcGetProgramLogSize.invokeExact(prog, size));
        long n = size.get(JAVA_LONG, 0);
        if (n <= 1) return "";
        MemorySegment text = a.allocate(n);
        check("nvrtcGetProgramLog", (int) nvrtcGetProgramLog.invokeExact(prog, text));
        return text.getString(0);
    }
}
