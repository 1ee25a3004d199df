package org.tessella.backend;

import org.tessella.tensor.Shape;
import org.tessella.tensor.Tensor;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Wall time per backend op, for a backend whose ops finish before they return (the CPU's): with
 * {@code TESSELLA_CPU_PROFILE=1}, {@link Backends} hands out the CPU backend behind a {@link Proxy} that times every
 * call, keyed by the op and, for the heavy ones (matmul, convolutions, attention), by their shapes. {@code bench
 * train} prints the table after its timed steps: where a step's time goes, and (run at several thread counts) which
 * ops scale badly. Off, nothing of this runs. One thread at a time (the workspace thread calls the backend).
 */
public final class OpProfiler {
    /** Whether {@code TESSELLA_CPU_PROFILE=1} is set. */
    public static final boolean ENABLED = "1".equals(System.getenv("TESSELLA_CPU_PROFILE"));

    private static final Map<String, long[]> TIMES = new HashMap<>(); // key -> {calls, nanos}
    private static final java.util.Set<String> KEYED = java.util.Set.of("matmul", "conv2d", "conv2dBackwardInput",
            "conv2dBackwardWeight", "attention", "attentionBackward", "groupNorm", "groupNormBackward",
            "groupNormSilu", "groupNormSiluBackward");

    private OpProfiler() {}

    /** backend behind a timing proxy. */
    static Backend wrap(Backend backend) {
        InvocationHandler h = (proxy, method, args) -> {
            long t0 = System.nanoTime();
            try {
                return method.invoke(backend, args);
            } catch (InvocationTargetException e) {
                throw e.getCause();
            } finally {
                long dt = System.nanoTime() - t0;
                if (!method.getName().equals("device") && !method.getName().equals("empty")
                        && !method.getName().equals("persistent")) {
                    long[] slot = TIMES.computeIfAbsent(key(method, args), k -> new long[2]);
                    slot[0]++;
                    slot[1] += dt;
                }
            }
        };
        return (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[]{Backend.class}, h);
    }

    private static String key(Method m, Object[] args) {
        String name = m.getName();
        if (!KEYED.contains(name) || args == null) return name;
        StringBuilder sb = new StringBuilder(name);
        for (Object a : args) {
            if (a instanceof Tensor t) sb.append(' ').append(Shape.str(t.shape()));
            else if (a instanceof Boolean b) sb.append(b ? " T" : " N");
            else if (a instanceof Integer i) sb.append(" ").append(i);
        }
        return sb.toString();
    }

    /** Forgets what was timed so far. */
    public static void reset() { TIMES.clear(); }

    /** The {@code rows} ops that took longest since the last reset, per step of {@code steps}. */
    public static String report(int steps, int rows) {
        List<Map.Entry<String, long[]>> es = new ArrayList<>(TIMES.entrySet());
        es.sort((a, b) -> Long.compare(b.getValue()[1], a.getValue()[1]));
        long total = 0;
        for (var e : es) total += e.getValue()[1];
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "backend ops, %.1f ms per step in all:%n", total / 1e6 / steps));
        sb.append(String.format(Locale.ROOT, "%9s %6s %6s  %s%n", "ms/step", "%", "calls", "op"));
        for (int i = 0; i < Math.min(rows, es.size()); i++) {
            long[] v = es.get(i).getValue();
            sb.append(String.format(Locale.ROOT, "%9.2f %5.1f%% %6d  %s%n", v[1] / 1e6 / steps, 100.0 * v[1] / Math.max(1, total),
                    v[0] / steps, es.get(i).getKey()));
        }
        return sb.toString();
    }
}
