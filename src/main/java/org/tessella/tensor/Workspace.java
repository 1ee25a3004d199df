package org.tessella.tensor;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The per-step bump allocator. Activations and temporaries of one step are carved out of reused chunks; closing the
 * step recycles them all at once. The first step sizes the chunks (growing, up to 64 MiB each), later steps fill the
 * same chunks in the same order, so a steady-state step allocates no array at all and the garbage collector has
 * nothing to do; the chunks add up to little more than the step uses.
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
    private static final int MAX_CHUNK = 1 << 24; // elements (64 MiB of floats) per chunk, unless one tensor needs more

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
        int[] filled = new int[8]; // per chunk: the next free element
        long used;      // elements handed out this step, including alignment
        long highWater;

        Slab(DType dtype) { this.dtype = dtype; }

        /**
         * First fit: the first chunk with room for the tensor. A tensor that does not fit where the last one went
         * leaves that chunk's rest open for later, smaller ones (taking the next chunk for good wasted a quarter of a
         * gpt-s step's chunks). The same sequence of requests lands in the same places every step.
         */
        Tensor allocate(int n, int[] shape) {
            int size = (n + ALIGN - 1) / ALIGN * ALIGN;
            int c = 0;
            while (c < chunks.size() && filled[c] + size > chunks.get(c).length()) c++;
            if (c == chunks.size()) {
                // As large as what the step has used so far (few chunks for small steps), but at most MAX_CHUNK, so
                // that the chunks of a large step add up to little more than what it uses.
                long grow = Math.max(size, Math.min(MAX_CHUNK, Math.max(1 << 16, used)));
                chunks.add(HeapStorage.allocate(dtype, (int) Math.min(grow, Integer.MAX_VALUE - 64)));
                if (c == filled.length) filled = java.util.Arrays.copyOf(filled, 2 * c);
                filled[c] = 0;
            }
            Tensor t = new Tensor(chunks.get(c), filled[c], shape.clone(), Shape.contiguousStrides(shape));
            filled[c] += size;
            used += size;
            return t;
        }

        /**
         * Recycles every chunk for the next step, which fills them again in the same order. They are kept as they
         * are: merging them into one slab (as this once did) needed a second copy of the whole step's memory at once,
         * on top of the garbage of the growing chunks, and the process's peak memory was three times the step's.
         */
        void reset() {
            highWater = Math.max(highWater, used);
            for (HeapStorage s : chunks) s.recycle();
            java.util.Arrays.fill(filled, 0);
            used = 0;
        }

        long capacity() {
            long c = 0;
            for (HeapStorage s : chunks) c += s.length();
            return c;
        }
    }
}
