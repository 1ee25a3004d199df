package org.tessella.tensor;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The per-step bump allocator. Activations and temporaries of one step are carved out of reused slabs; closing the
 * step recycles them all at once. The first steps size the slabs (several chunks are merged into one at reset), so a
 * steady-state step allocates no array at all and the garbage collector has nothing to do.
 *
 * <pre>{@code
 * Workspace ws = new Workspace();
 * for (...) try (Workspace step = ws.open()) { forward; backward; optimizer.step(); }
 * }</pre>
 *
 * A workspace belongs to one thread at a time. Tensors made in a step are invalid after it closes
 * ({@link Tensor#checkAlive()}); copy out what must outlive it.
 *
 * <p>A device backend keeps its own per-step memory as a {@link Companion} of the workspace, reset with it, so GPU
 * temporaries follow the same step lifetime without this package knowing any device.
 */
public final class Workspace implements AutoCloseable {
    private static final ThreadLocal<ArrayDeque<Workspace>> ACTIVE = ThreadLocal.withInitial(ArrayDeque::new);
    private static final int ALIGN = 16; // elements: one 512-bit vector

    private final Slab floats = new Slab(DType.F32);
    private final Slab ints = new Slab(DType.I32);
    private final Map<Object, Companion> companions = new LinkedHashMap<>();

    /** Memory of another device that lives for one step of this workspace (a GPU backend's step arena). */
    public interface Companion {
        /** Recycles everything handed out since the last reset. */
        void reset();
    }

    /** The innermost workspace opened on this thread, or null. */
    public static Workspace current() {
        return ACTIVE.get().peek();
    }

    /** Makes this the thread's current workspace until {@link #close()}. */
    public Workspace open() {
        ACTIVE.get().push(this);
        return this;
    }

    /** Ends the step: this workspace stops being current and all its memory is recycled. */
    @Override public void close() {
        ArrayDeque<Workspace> stack = ACTIVE.get();
        if (stack.peek() != this) throw new IllegalStateException("workspace closed out of order");
        stack.pop();
        reset();
    }

    /** Recycles all memory handed out so far (tensors from it become invalid). */
    public void reset() {
        floats.reset();
        ints.reset();
        if (!companions.isEmpty()) for (Companion c : companions.values()) c.reset();
    }

    /**
     * The companion registered under key (e.g. a device), made by {@code make} on first use; it is reset whenever this
     * workspace is.
     */
    @SuppressWarnings("unchecked") // one key, one companion type: the backend that registers it is the one reading it
    public <C extends Companion> C companion(Object key, Supplier<C> make) {
        return (C) companions.computeIfAbsent(key, k -> make.get());
    }

    /** Runs {@code body} with the workspace current and no allocation kept afterwards. */
    public void run(Runnable body) {
        try (Workspace w = open()) { body.run(); }
    }

    public Tensor allocate(DType dtype, int... shape) {
        long n = Shape.numel(shape);
        if (n > Integer.MAX_VALUE / 2)
            throw new ShapeException("workspace: " + Shape.str(shape) + " is too large for one CPU tensor");
        Slab slab = dtype == DType.F32 ? floats : ints;
        return slab.allocate((int) n, shape);
    }

    /** Bytes held by the slabs (their capacity, not what the current step used). */
    public long capacityBytes() { return 4L * (floats.capacity() + ints.capacity()); }

    /** The most bytes one step has used since creation. */
    public long highWaterBytes() { return 4L * (floats.highWater + ints.highWater); }

    private static final class Slab {
        final DType dtype;
        final List<HeapStorage> chunks = new ArrayList<>();
        int chunk;      // index of the chunk being filled
        int position;   // next free element in it
        long used;      // elements handed out this step, including alignment
        long highWater;

        Slab(DType dtype) { this.dtype = dtype; }

        Tensor allocate(int n, int[] shape) {
            int size = (n + ALIGN - 1) / ALIGN * ALIGN;
            while (chunk < chunks.size() && position + size > chunks.get(chunk).length()) {
                chunk++;
                position = 0;
            }
            if (chunk == chunks.size()) {
                long grow = Math.max(size, Math.max(1 << 16, used));
                chunks.add(HeapStorage.allocate(dtype, (int) Math.min(grow, Integer.MAX_VALUE - 64)));
                position = 0;
            }
            HeapStorage s = chunks.get(chunk);
            Tensor t = new Tensor(s, position, shape.clone(), Shape.contiguousStrides(shape));
            position += size;
            used += size;
            return t;
        }

        void reset() {
            highWater = Math.max(highWater, used);
            for (HeapStorage s : chunks) s.recycle();
            if (chunks.size() > 1) {
                // Merge into one slab that holds a whole step, so the next step needs no new array.
                chunks.clear();
                chunks.add(HeapStorage.allocate(dtype, (int) Math.min(highWater + highWater / 8, Integer.MAX_VALUE - 64)));
            }
            chunk = 0;
            position = 0;
            used = 0;
        }

        long capacity() {
            long c = 0;
            for (HeapStorage s : chunks) c += s.length();
            return c;
        }
    }
}
