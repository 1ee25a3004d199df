package org.tessella.bench;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;
import org.tessella.cpu.CpuBackend;
import org.tessella.cpu.WorkerPool;
import org.tessella.tensor.Tensor;

/**
 * SGEMM throughput of the CPU backend: {@code C = A @ B} on M x K times K x N float matrices.
 * GFLOP/s = ops/s x 2MNK / 1e9 (a 1024^3 product is 2.147 GFLOP; 4096x256x768 is 1.611 GFLOP).
 *
 * <p>shape is "S" for a square S x S x S product or "MxKxN"; threads 0 keeps the pool's default size.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
        "-XX:+UseParallelGC"})
public class GemmBench {

    @Param({"256", "512", "1024", "4096x256x768"})
    public String shape;

    @Param({"false"})
    public boolean transB;

    @Param({"0"})
    public int threads;

    private Tensor a, b, c;

    @Setup(Level.Trial)
    public void setup() {
        String[] p = shape.split("x");
        int m = Integer.parseInt(p[0]);
        int k = p.length == 3 ? Integer.parseInt(p[1]) : m;
        int n = p.length == 3 ? Integer.parseInt(p[2]) : m;
        if (threads > 0) WorkerPool.configure(threads);
        a = Tensor.of(random(m * k, 1), 1, m, k);
        b = transB ? Tensor.of(random(k * n, 2), 1, n, k) : Tensor.of(random(k * n, 2), 1, k, n);
        c = Tensor.of(new float[m * n], 1, m, n);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (threads > 0) WorkerPool.configure(Runtime.getRuntime().availableProcessors());
    }

    private static float[] random(int size, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[size];
        for (int i = 0; i < size; i++) x[i] = (float) (r.nextDouble() * 2 - 1);
        return x;
    }

    @Benchmark
    public void matmul(Blackhole bh) {
        CpuBackend.INSTANCE.matmul(a, false, b, transB, c, 1f, 0f);
        bh.consume(c);
    }
}
