package org.tessella.cuda;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

/** Small helpers shared by the hand-written bindings: downcall handles by symbol name, C strings. */
final class Native {
    private Native() {}

    private static final Linker LINKER = Linker.nativeLinker();

    /** A downcall handle for a symbol that must exist (a library too old to have it is "unavailable"). */
    static MethodHandle function(SymbolLookup lib, String library, String symbol, FunctionDescriptor descriptor) {
        MemorySegment address = lib.find(symbol).orElseThrow(() -> new CudaUnavailableException(
                "no CUDA: " + library + " has no function " + symbol + "; install a newer CUDA (12 or later)"));
        return LINKER.downcallHandle(address, descriptor);
    }

    /** The first of several symbol names that exists (e.g. a _v2 entry point, then the older one), or null. */
    static MethodHandle firstOf(SymbolLookup lib, FunctionDescriptor descriptor, String... symbols) {
        for (String s : symbols) {
            var address = lib.find(s);
            if (address.isPresent()) return LINKER.downcallHandle(address.get(), descriptor);
        }
        return null;
    }

    /** The NUL-terminated string at a native address, or null for NULL. */
    static String string(MemorySegment p) {
        if (p == null || p.address() == 0) return null;
        return p.reinterpret(Long.MAX_VALUE).getString(0);
    }

    /** Rethrows what a downcall threw: Errors and RuntimeExceptions as they are, anything else wrapped. */
    static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) return r;
        if (t instanceof Error e) throw e;
        return new IllegalStateException("native call failed", t);
    }
}
