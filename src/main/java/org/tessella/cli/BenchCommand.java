package org.tessella.cli;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.tessella.backend.Backend;
import org.tessella.backend.Backends;
import org.tessella.cpu.WorkerPool;
import org.tessella.tensor.DType;
import org.tessella.tensor.Tensor;

import java.util.Locale;
import java.util.Set;

/**
 * {@code tessella bench}: the machine's FP32 FMA peak (register-only loop on every thread) and GEMM throughput at
 * square sizes, reported as GFLOP/s and as a fraction of the peak measured in the same run. JMH benchmarks of the
 * kernels live under bench/ (tools/bench).
 */
final class BenchCommand implements Command {
    @Override public String name() { return "bench"; }

    @Override public String summary() { return "measure FMA peak and GEMM GFLOP/s on this machine"; }

    @Override public String help() {
        return """
                usage: tessella bench [--sizes 256,512,1024] [--threads N] [--seconds S]
                       tessella bench ar [--model gpt-s] [--batch 64] [--steps N] [--threads N]
                  bench: the FP32 FMA peak of all threads, then C = A B at each square size, as GFLOP/s and
                  fraction of peak. bench ar: stage-2 training tokens/s at the batch size (vocabulary 1024,
                  64 tokens, 10 classes), and sampling tokens/s with and without the KV cache at batch 1 and
                  the batch size. (JMH kernel benchmarks: tools/bench.)""";
    }

    @Override public int run(String[] argv) {
        if (argv.length > 0 && argv[0].equals("ar")) return ArBench.run(java.util.Arrays.copyOfRange(argv, 1, argv.length));
        Args a = Args.parse(name(), argv, Set.of("sizes", "threads", "seconds"), Set.of());
        Main.configureThreads(a);
        double seconds = a.number("seconds", 1.0f);
        int threads = WorkerPool.global().threads();
        double peak = fmaPeak(threads, seconds);
        System.out.printf(Locale.ROOT, "threads %d  fma peak %.1f GFLOP/s  (%d float lanes)%n", threads, peak,
                FloatVector.SPECIES_PREFERRED.length());
        Backend be = Backends.cpu();
        for (String s : a.string("sizes", "256,512,1024").split(",")) {
            int n = Integer.parseInt(s.trim());
            Tensor x = be.persistent(DType.F32, 1, n, n), y = be.persistent(DType.F32, 1, n, n), c = be.persistent(DType.F32, 1, n, n);
            be.randomUniform(x, 1, 0);
            be.randomUniform(y, 2, 0);
            long flopsPer = 2L * n * n * n;
            int reps = 0;
            long t0 = System.nanoTime(), warm = t0 + (long) (seconds * 0.3e9);
            while (System.nanoTime() < warm) be.matmul(x, false, y, false, c, 1f, 0f);
            t0 = System.nanoTime();
            long end = t0 + (long) (seconds * 1e9);
            do {
                be.matmul(x, false, y, false, c, 1f, 0f);
                reps++;
            } while (System.nanoTime() < end);
            double gflops = flopsPer * reps / ((System.nanoTime() - t0) / 1e9) / 1e9;
            System.out.printf(Locale.ROOT, "gemm %5d^3  %8.1f GFLOP/s  %5.1f%% of peak%n", n, gflops, 100 * gflops / peak);
        }
        return 0;
    }

    /** Register-only FMA throughput of all pool threads together, in GFLOP/s. */
    static double fmaPeak(int threads, double seconds) {
        VectorSpecies<Float> sp = FloatVector.SPECIES_PREFERRED;
        long[] flops = new long[threads];
        long deadline = System.nanoTime() + (long) (seconds * 1e9);
        long t0 = System.nanoTime();
        WorkerPool.global().parallelFor(threads, 1, (s, e) -> {
            for (int t = s; t < e; t++) flops[t] = fmaLoop(sp, deadline);
        });
        double secs = (System.nanoTime() - t0) / 1e9;
        long total = 0;
        for (long f : flops) total += f;
        return total / secs / 1e9;
    }

    private static long fmaLoop(VectorSpecies<Float> sp, long deadline) {
        FloatVector a0 = FloatVector.broadcast(sp, 1f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        FloatVector a8 = a0, a9 = a0, a10 = a0, a11 = a0;
        FloatVector m = FloatVector.broadcast(sp, 0.999999f), b = FloatVector.broadcast(sp, 1e-7f);
        long iters = 0;
        final int inner = 1 << 14;
        while (System.nanoTime() < deadline) {
            for (int i = 0; i < inner; i++) {
                a0 = a0.fma(m, b); a1 = a1.fma(m, b); a2 = a2.fma(m, b); a3 = a3.fma(m, b);
                a4 = a4.fma(m, b); a5 = a5.fma(m, b); a6 = a6.fma(m, b); a7 = a7.fma(m, b);
                a8 = a8.fma(m, b); a9 = a9.fma(m, b); a10 = a10.fma(m, b); a11 = a11.fma(m, b);
            }
            iters += inner;
        }
        float sink = a0.add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).add(a8).add(a9).add(a10).add(a11).reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
        if (sink == 42f) System.out.print("");
        return iters * 12L * 2L * sp.length();
    }
}
