package org.tessella.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The argument block of one kernel launch: cuLaunchKernel takes an array of pointers, one per parameter, each to the
 * parameter's value. Values go into a per-thread native buffer (8-byte slots; a {@link Layout} takes its struct's
 * bytes), reused for every launch: cuLaunchKernel copies the values before it returns. Device pointers are passed as
 * 64-bit integers ({@link #ptr}), which is what a {@code T*} kernel parameter holds.
 */
final class KernelArgs {
    private static final int VALUE_BYTES = 4096, MAX_ARGS = 32;
    private static final ThreadLocal<KernelArgs> LOCAL = ThreadLocal.withInitial(KernelArgs::new);

    private final MemorySegment values, pointers;
    private int used, count;

    private KernelArgs() {
        Arena arena = Arena.ofAuto();
        values = arena.allocate(VALUE_BYTES, 16);
        pointers = arena.allocate(ADDRESS, MAX_ARGS);
    }

    /** This thread's (cleared) argument block. */
    static KernelArgs begin() {
        KernelArgs a = LOCAL.get();
        a.used = 0;
        a.count = 0;
        return a;
    }

    private MemorySegment slot(long bytes) {
        if (count == MAX_ARGS || used + bytes > VALUE_BYTES)
            throw new IllegalStateException("kernel argument block full (" + count + " arguments, " + used + " bytes)");
        MemorySegment s = values.asSlice(used, bytes);
        pointers.setAtIndex(ADDRESS, count++, s);
        used += (int) ((bytes + 7) & ~7L);
        return s;
    }

    KernelArgs ptr(long deviceAddress) {
        slot(8).set(JAVA_LONG, 0, deviceAddress);
        return this;
    }

    KernelArgs i32(int v) {
        slot(4).set(JAVA_INT, 0, v);
        return this;
    }

    KernelArgs i64(long v) {
        slot(8).set(JAVA_LONG, 0, v);
        return this;
    }

    KernelArgs f32(float v) {
        slot(4).set(JAVA_FLOAT, 0, v);
        return this;
    }

    KernelArgs layout(Layout l) {
        l.writeTo(slot(Layout.BYTES));
        return this;
    }

    MemorySegment pointers() { return pointers; }
}
