package org.tessella.cuda;

import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Device time per kernel, for finding where a step's time goes: with {@code TESSELLA_CUDA_PROFILE=1} every kernel
 * launch and cuBLAS call is bracketed by two events on the device's stream, and the elapsed times are summed per
 * name (a GEMM's name carries its shape). Events are recycled; pending pairs are read back every
 * {@link #HARVEST_EVERY} records and when a report is asked for, so the profiler never holds the stream back except at
 * those reads. Off (the default), {@link #begin()} returns null and nothing is recorded.
 */
final class KernelProfiler {
    static final boolean ENABLED = System.getenv("TESSELLA_CUDA_PROFILE") != null
            && !System.getenv("TESSELLA_CUDA_PROFILE").equals("0");
    private static final int HARVEST_EVERY = 4096;

    private record Pending(String name, MemorySegment start, MemorySegment end) {}

    private final CudaContext context;
    private final ArrayDeque<MemorySegment> free = new ArrayDeque<>();
    private final List<Pending> pending = new ArrayList<>();
    private final Map<String, double[]> totals = new LinkedHashMap<>(); // name -> {ms, calls}

    KernelProfiler(CudaContext context) { this.context = context; }

    /** The start event of one call, recorded on the stream, or null when profiling is off. */
    synchronized MemorySegment begin() {
        if (!ENABLED) return null;
        MemorySegment e = take();
        context.driver().record(e, context.stream());
        return e;
    }

    /** Closes the call that {@link #begin()} opened (no-op for null). */
    synchronized void end(MemorySegment start, String name) {
        if (start == null) return;
        MemorySegment e = take();
        context.driver().record(e, context.stream());
        pending.add(new Pending(name, start, e));
        if (pending.size() >= HARVEST_EVERY) harvest();
    }

    private MemorySegment take() {
        MemorySegment e = free.poll();
        return e != null ? e : context.driver().createEvent();
    }

    private void harvest() {
        for (Pending p : pending) {
            double ms = context.driver().elapsedMillis(p.start(), p.end());
            double[] t = totals.computeIfAbsent(p.name(), k -> new double[2]);
            t[0] += ms;
            t[1]++;
            free.add(p.start());
            free.add(p.end());
        }
        pending.clear();
    }

    /** Forgets what was recorded so far (after a warm-up, say). */
    synchronized void reset() {
        harvest();
        totals.clear();
    }

    /** A table of the recorded device time per name, largest first, with each one's share and call count. */
    synchronized String report(int rows) {
        harvest();
        double all = totals.values().stream().mapToDouble(t -> t[0]).sum();
        StringBuilder sb = new StringBuilder(String.format("device time per kernel (%.2f ms in all):%n", all));
        sb.append(String.format("  %9s %6s %8s %9s  %s%n", "ms", "share", "calls", "us/call", "kernel"));
        totals.entrySet().stream().sorted(Comparator.comparingDouble((Map.Entry<String, double[]> e) -> -e.getValue()[0]))
                .limit(rows).forEach(e -> {
                    double[] t = e.getValue();
                    sb.append(String.format("  %9.3f %5.1f%% %8d %9.1f  %s%n", t[0], 100 * t[0] / Math.max(all, 1e-12),
                            (long) t[1], 1e3 * t[0] / t[1], e.getKey()));
                });
        return sb.toString();
    }
}
