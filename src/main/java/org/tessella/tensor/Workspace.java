package org.tessella.tensor;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The per-step allocator. Activations and temporaries of one step are carved out of reused chunks; closing the step
 * recycles them all at once. The first step sizes the chunks (growing, up to 64 MiB each), later steps fill the same
 * chunks in the same places, so a steady-state step allocates no array at all and the garbage collector has nothing
 * to do.
 *
 * <p>Memory made during a backward pass is given back sooner: a gradient or a backward rule's temporary is dead as
 * soon as no pending gradient refers to it (the tape asks after every rule, {@link #releaseUnreferencedGradients}),
 * and its room is reused by the rest of the pass, as PyTorch frees a gradient once the pass has consumed it. Forward
 * activations stay until the step ends, since the caller may still read them (a loss, logits for a metric). Each
 * tensor made here knows its allocation (views share it), and {@link Tensor#setGrad} counts the gradients that refer
 * to it. Placement is first fit over the chunks, so the same requests and releases land in the same places every step.
 *
 * <pre>{@code
 * Workspace ws = new Workspace();
 * for (...) try (Workspace step = ws.open()) { forward; backward; optimizer.step(); }
 * }</pre>
 *
 * A workspace belongs to one thread at a time. Tensors made in a step are invalid after it closes
 * ({@link Tensor#checkAlive()}); copy out what must outlive it. With {@code -Dtessella.workspace.poison=true} (the
 * tests run with it) released memory is filled with NaN, so a read after release shows up in the results.
 *
 * <p>A device backend keeps its own per-step memory as a {@link Companion} of the workspace, reset with it, so GPU
 * temporaries follow the same step lifetime without this package knowing any device.
 */
public final class Workspace implements AutoCloseable {
    private static final ThreadLocal<ArrayDeque<Workspace>> ACTIVE = ThreadLocal.withInitial(ArrayDeque::new);
    private static final int ALIGN = 16; // elements: one 512-bit vector
    private static final int MAX_CHUNK = 1 << 24; // elements (64 MiB of floats) per chunk, unless one tensor needs more
    private static final boolean POISON = Boolean.getBoolean("tessella.workspace.poison");

    private final Slab floats = new Slab(DType.F32);
    private final Slab ints = new Slab(DType.I32);
    private final Map<Object, Companion> companions = new LinkedHashMap<>();

    // this step's allocations, by number: where each lives and how many gradients refer to it
    private int count, step;
    private int[] blockChunk = new int[256], blockOffset = new int[256], blockSize = new int[256], blockRefs = new int[256];
    private boolean[] blockInts = new boolean[256];
    // allocations made during a backward pass and not yet released
    private int[] backwardLive = new int[64];
    private int backwardLiveCount;
    private int backwardDepth;

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
        count = 0;
        step++;
        backwardLiveCount = 0;
        backwardDepth = 0;
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
        boolean isInts = dtype != DType.F32;
        Slab slab = isInts ? ints : floats;
        int size = (int) ((n + ALIGN - 1) / ALIGN * ALIGN);
        if (count == blockSize.length) growBlocks();
        int b = count++;
        blockSize[b] = size;
        blockInts[b] = isInts;
        slab.place(b, size);
        blockRefs[b] = 0;
        if (backwardDepth > 0) {
            if (backwardLiveCount == backwardLive.length) backwardLive = Arrays.copyOf(backwardLive, 2 * backwardLiveCount);
            backwardLive[backwardLiveCount++] = b;
        }
        Tensor t = new Tensor(slab.chunks.get(blockChunk[b]), blockOffset[b], shape.clone(), Shape.contiguousStrides(shape));
        return t.ownedBy(this, b, step);
    }

    private void growBlocks() {
        int c = 2 * blockSize.length;
        blockChunk = Arrays.copyOf(blockChunk, c);
        blockOffset = Arrays.copyOf(blockOffset, c);
        blockSize = Arrays.copyOf(blockSize, c);
        blockRefs = Arrays.copyOf(blockRefs, c);
        blockInts = Arrays.copyOf(blockInts, c);
    }

    // ---- release during backward (called by the tape) ---------------------------------------------------------------

    /** A backward pass starts: what is allocated from now until {@link #endBackward} may be released early. */
    public void beginBackward() { backwardDepth++; }

    /** The backward pass has ended (its gradients are cleared): releases what it allocated. */
    public void endBackward() {
        if (backwardDepth == 0) throw new IllegalStateException("workspace: endBackward without beginBackward");
        releaseUnreferencedGradients();
        backwardDepth--;
    }

    /**
     * Releases every allocation of the running backward pass that no gradient refers to any more. The tape calls it
     * between rules, when a rule's temporaries and the gradient it consumed are dead unless a pending gradient is
     * (a view of) them.
     */
    public void releaseUnreferencedGradients() {
        int kept = 0;
        for (int i = 0; i < backwardLiveCount; i++) {
            int b = backwardLive[i];
            if (blockRefs[b] > 0) backwardLive[kept++] = b;
            else release(b);
        }
        backwardLiveCount = kept;
    }

    private void release(int b) {
        Slab slab = blockInts[b] ? ints : floats;
        if (POISON) slab.poison(blockChunk[b], blockOffset[b], blockSize[b]);
        slab.remove(b);
    }

    /**
     * Whether allocation b was made by the running backward pass and exactly one gradient refers to it: that
     * gradient's tensor may then be added into in place (nothing else can read it before its owner's rule runs).
     */
    boolean soleBackwardGradient(int b, int ofStep) {
        if (ofStep != step || b >= count || blockRefs[b] != 1 || backwardDepth == 0) return false;
        for (int i = 0; i < backwardLiveCount; i++) if (backwardLive[i] == b) return true;
        return false;
    }

    /** Counts a gradient that starts ({@code +1}) or stops ({@code -1}) referring to allocation {@code b}. */
    void gradReference(int b, int ofStep, int delta) {
        if (ofStep == step && b < count) blockRefs[b] += delta;
    }

    /** Bytes held by the slabs (their capacity, not what the current step used). */
    public long capacityBytes() { return 4L * (floats.capacity() + ints.capacity()); }

    /** The most bytes one step has had live at once since creation. */
    public long highWaterBytes() { return 4L * (floats.highWater + ints.highWater); }

    /**
     * The chunks of one element type. Each chunk keeps its live allocations sorted by offset; a request goes to the
     * lowest offset of the first chunk with a gap that fits it, else to a new chunk.
     */
    private final class Slab {
        final DType dtype;
        final List<HeapStorage> chunks = new ArrayList<>();
        final List<int[]> liveByChunk = new ArrayList<>(); // allocation numbers, by offset
        int[] liveCount = new int[8];
        long live;      // elements live now, including alignment
        long highWater;

        Slab(DType dtype) { this.dtype = dtype; }

        void place(int b, int size) {
            for (int c = 0; c < chunks.size(); c++) {
                int at = gap(c, size);
                if (at >= 0) {
                    insert(c, b, at);
                    return;
                }
            }
            // As large as what is live now (few chunks for small steps), but at most MAX_CHUNK, so that the chunks of
            // a large step add up to little more than what it needs at once.
            long grow = Math.max(size, Math.min(MAX_CHUNK, Math.max(1 << 16, live)));
            chunks.add(HeapStorage.allocate(dtype, (int) Math.min(grow, Integer.MAX_VALUE - 64)));
            liveByChunk.add(new int[16]);
            int c = chunks.size() - 1;
            if (c == liveCount.length) liveCount = Arrays.copyOf(liveCount, 2 * c);
            liveCount[c] = 0;
            insert(c, b, 0);
        }

        /** The lowest offset in chunk c where size elements fit between its live allocations, or -1. */
        private int gap(int c, int size) {
            int[] order = liveByChunk.get(c);
            long cursor = 0;
            for (int i = 0; i < liveCount[c]; i++) {
                int o = order[i];
                if (blockOffset[o] - cursor >= size) return (int) cursor;
                cursor = (long) blockOffset[o] + blockSize[o];
            }
            return chunks.get(c).length() - cursor >= size ? (int) cursor : -1;
        }

        private void insert(int c, int b, int offset) {
            blockChunk[b] = c;
            blockOffset[b] = offset;
            int[] order = liveByChunk.get(c);
            int n = liveCount[c];
            if (n == order.length) {
                order = Arrays.copyOf(order, 2 * n);
                liveByChunk.set(c, order);
            }
            int at = n;
            while (at > 0 && blockOffset[order[at - 1]] > offset) at--;
            System.arraycopy(order, at, order, at + 1, n - at);
            order[at] = b;
            liveCount[c] = n + 1;
            live += blockSize[b];
            highWater = Math.max(highWater, live);
        }

        void remove(int b) {
            int c = blockChunk[b];
            int[] order = liveByChunk.get(c);
            int n = liveCount[c], at = 0;
            while (order[at] != b) at++;
            System.arraycopy(order, at + 1, order, at, n - at - 1);
            liveCount[c] = n - 1;
            live -= blockSize[b];
        }

        void poison(int c, int offset, int size) {
            HeapStorage s = chunks.get(c);
            if (dtype == DType.F32) Arrays.fill(s.floats(), offset, offset + size, Float.NaN);
            else Arrays.fill(s.ints(), offset, offset + size, Integer.MIN_VALUE);
        }

        /**
         * Recycles every chunk for the next step, which fills them again in the same order. They are kept as they
         * are: merging them into one slab (as this once did) needed a second copy of the whole step's memory at once,
         * on top of the garbage of the growing chunks, and the process's peak memory was three times the step's.
         */
        void reset() {
            for (HeapStorage s : chunks) s.recycle();
            Arrays.fill(liveCount, 0);
            live = 0;
        }

        long capacity() {
            long c = 0;
            for (HeapStorage s : chunks) c += s.length();
            return c;
        }
    }
}
