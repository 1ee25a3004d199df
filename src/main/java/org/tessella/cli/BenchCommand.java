package org.tessella.cli;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.tessella.backend.Backend;
import org.tessella.backend.Backends;
import org.tessella.cpu.WorkerPool;
import org.tessella.tensor.DType;
import org.tessella.tensor.Device;
import org.tessella.tensor.Tensor;

import java.util.Locale;
import java.util.Set;

/**
 * {@code tessella bench}: the machine's FP32 FMA peak (register-only loop on every thread) and GEMM throughput at
 * square sizes, reported as GFLOP/s and as a fraction of the peak measured in the same run, then on the CPU the other
 * heavy kernels ({@link KernelBench}). JMH benchmarks of the
 * kernels live under bench/ (tools/bench).
 */
final class BenchCommand implements Command {
    @Override public String name() { return "bench"; }

    @Override public String summary() { return "measure FMA peak, GEMM and kernel throughput on this machine"; }

    @Override public String help() {
        return """
                usage: tessella bench [--sizes 512,1024,4096x256x768,...] [--threads N] [--seconds S] [--device D]
                                      [--gemm-only]
                       tessella bench ar [--model gpt-s] [--batch 64] [--steps N] [--threads N] [--device D]
                       tessella bench train [--models gpt-s,vq-s] [--batch 64] [--steps 5] [--warmup 2] [--threads N]
                                            [--out bench.json] [--peer peer.json] [--speed-goal 1.5] [--in-process]
                                            [--export-weights DIR] [--device D] [--matmul fp32|tf32|bf16]
                  bench: the FP32 FMA peak of all threads, then C = A B at each size (S or MxKxN), as GFLOP/s and
                  fraction of peak; on the CPU then (unless --gemm-only) vq-s's convolutions and gpt-s's attention at
                  batch 64 (GFLOP/s, fraction of peak) and the memory-bound fused ops (GB/s, fraction of a
                  streaming pass measured in the same run). bench ar: stage-2 training tokens/s at the batch size (vocabulary 1024,
                  64 tokens, 10 classes), and sampling tokens/s with and without the KV cache at batch 1 and
                  the batch size. bench train: one full training step (forward, backward, clip, AdamW) of gpt-s
                  and vq-s on synthetic data, each model in its own child JVM (--in-process: this one): tokens/s or
                  images/s, ms/step, engine GFLOP/s and fraction of the FMA peak, peak RSS (VmHWM); writes
                  bench.json and prints a table; --peer FILE (from tools/bench_train_peer.py, the PyTorch twin)
                  adds PyTorch's numbers and the ratios Tessella/PyTorch; --export-weights DIR writes the initial
                  weights for the twin and exits. tools/bench-train runs both. (JMH kernel benchmarks: tools/bench.)
                  --models also takes gpt-m. --device cuda[:N] (default cpu) runs on a GPU: bench times the GEMMs
                  there (no FMA peak), bench ar and bench train train and sample there; --matmul picks the GPU's
                  matrix-product precision (default fp32; tf32 and bf16 use tensor cores).""";
    }

    @Override public int run(String[] argv) {
        if (argv.length > 0 && argv[0].equals("ar")) return ArBench.run(java.util.Arrays.copyOfRange(argv, 1, argv.length));
        if (argv.length > 0 && argv[0].equals("train")) return TrainBench.run(java.util.Arrays.copyOfRange(argv, 1, argv.length));
        Args a = Args.parse(name(), argv, Set.of("sizes", "threads", "seconds", "device"), Set.of("gemm-only"));
        Main.configureThreads(a);
        Device device = Main.device(a);
        double seconds = a.number("seconds", 1.0f);
        int threads = WorkerPool.global().threads();
        boolean cpu = device.kind() == Device.Kind.CPU;
        double peak = cpu ? fmaPeak(threads, seconds) : 0;
        if (cpu) System.out.printf(Locale.ROOT, "threads %d  fma peak %.1f GFLOP/s  (%d float lanes)%n", threads, peak,
                FloatVector.SPECIES_PREFERRED.length());
        else System.out.println("GEMMs " + Main.where(device));
        Backend be = Backends.of(device);
        for (String s : a.string("sizes", "512,1024,2048,4096x256x768,4096x768x256,4096x256x1024").split(",")) {
            String[] p = s.trim().split("x");
            int m, k, n;
            try {
                m = Integer.parseInt(p[0]);
                k = p.length == 3 ? Integer.parseInt(p[1]) : m;
                n = p.length == 3 ? Integer.parseInt(p[2]) : m;
            } catch (NumberFormatException e) {
                throw new UsageException("--sizes wants S or MxKxN entries, got '" + s + "'");
            }
            Tensor x = be.persistent(DType.F32, 1, m, k), y = be.persistent(DType.F32, 1, k, n), c = be.persistent(DType.F32, 1, m, n);
            be.randomUniform(x, 1, 0);
            be.randomUniform(y, 2, 0);
            long flopsPer = 2L * m * n * k;
            int reps = 0;
            long t0 = System.nanoTime(), warm = t0 + (long) (seconds * 0.3e9);
            while (System.nanoTime() < warm) {
                be.matmul(x, false, y, false, c, 1f, 0f);
                be.synchronize(); // a GPU queues: wait, so the loop measures work done, not work queued
            }
            t0 = System.nanoTime();
            long end = t0 + (long) (seconds * 1e9);
            do {
                be.matmul(x, false, y, false, c, 1f, 0f);
                reps++;
                if (reps % 8 == 0) be.synchronize();
            } while (System.nanoTime() < end);
            be.synchronize();
            double gflops = flopsPer * reps / ((System.nanoTime() - t0) / 1e9) / 1e9;
            if (cpu) System.out.printf(Locale.ROOT, "gemm %14s  %8.1f GFLOP/s  %5.1f%% of peak%n", s.trim(), gflops, 100 * gflops / peak);
            else System.out.printf(Locale.ROOT, "gemm %14s  %8.1f GFLOP/s%n", s.trim(), gflops);
        }
        if (cpu && !a.flag("gemm-only")) KernelBench.run(be, peak, seconds);
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

    /** Runs register-only FMA blocks until the deadline; returns the FLOPs done. */
    private static long fmaLoop(VectorSpecies<Float> sp, long deadline) {
        final int block = 1 << 16;
        for (int i = 0; i < 20; i++) fmaBlock(block); // let C2 compile the block before timing
        long blocks = 0;
        float sink = 0;
        while (System.nanoTime() < deadline) {
            sink += fmaBlock(block);
            blocks++;
        }
        if (sink == 42f) System.out.print("");
        return blocks * block * 8L * 2L * sp.length();
    }

    /**
     * {@code iterations} rounds of 8 independent vector FMAs (enough to cover the FMA latency on two pipes). No
     * vector crosses a method boundary, so C2 keeps all accumulators in registers.
     */
    private static float fmaBlock(int iterations) {
        VectorSpecies<Float> sp = FloatVector.SPECIES_PREFERRED;
        FloatVector a0 = FloatVector.broadcast(sp, 1f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        FloatVector m = FloatVector.broadcast(sp, 0.999999f), b = FloatVector.broadcast(sp, 1e-7f);
        for (int i = 0; i < iterations; i++) {
            a0 = a0.fma(m, b); a1 = a1.fma(m, b); a2 = a2.fma(m, b); a3 = a3.fma(m, b);
            a4 = a4.fma(m, b); a5 = a5.fma(m, b); a6 = a6.fma(m, b); a7 = a7.fma(m, b);
        }
        return a0.add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
    }
}
