package org.tessella.bench;

import java.util.concurrent.TimeUnit;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * FP32 FMA peak of this machine per thread: a register-only loop of {@code FloatVector.fma} on independent
 * accumulators ({@code SPECIES_PREFERRED}), no memory traffic. It is the ceiling the GEMM micro-kernel is measured
 * against.
 *
 * <p>Read the secondary result {@code :flop} (unit ops/ns): it is GFLOP/s, summed over the threads (one FMA lane
 * = 2 flops). {@code fma8} has 8 independent chains, {@code fma12} 12; when fma12 is clearly faster, 8 chains do not
 * cover FMA latency x throughput on this core. Threads: {@code -t N} (default 1), e.g. {@code -t max} for the whole
 * machine.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 2)
@Threads(1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
        "-XX:+UseParallelGC"})
public class FmaPeakBench {

    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    /** FMA steps per chain per invocation. */
    static final int ITER = 1 << 16;

    /** Per-thread flop counter, reported by JMH as a rate next to the primary score. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Flops {
        public long flop;

        @Setup(Level.Iteration)
        public void reset() {
            flop = 0;
        }
    }

    // acc = acc * a + b converges to b / (1 - a): no overflow, no denormals, no constant folding.
    float a = 0.999f;
    float b = 1e-3f;

    @Setup(Level.Trial)
    public void announce() {
        System.out.println("# FmaPeakBench: SPECIES_PREFERRED = " + S.length() + " x float (" + S.vectorBitSize()
                + " bit); :flop in ops/ns = GFLOP/s");
    }

    @Benchmark
    public float fma8(Flops f) {
        FloatVector va = FloatVector.broadcast(S, a), vb = FloatVector.broadcast(S, b);
        FloatVector c0 = FloatVector.broadcast(S, 0.0f), c1 = FloatVector.broadcast(S, 0.1f);
        FloatVector c2 = FloatVector.broadcast(S, 0.2f), c3 = FloatVector.broadcast(S, 0.3f);
        FloatVector c4 = FloatVector.broadcast(S, 0.4f), c5 = FloatVector.broadcast(S, 0.5f);
        FloatVector c6 = FloatVector.broadcast(S, 0.6f), c7 = FloatVector.broadcast(S, 0.7f);
        for (int i = 0; i < ITER; i++) {
            c0 = c0.fma(va, vb); c1 = c1.fma(va, vb); c2 = c2.fma(va, vb); c3 = c3.fma(va, vb);
            c4 = c4.fma(va, vb); c5 = c5.fma(va, vb); c6 = c6.fma(va, vb); c7 = c7.fma(va, vb);
        }
        f.flop += 2L * 8 * S.length() * ITER;
        return c0.add(c1).add(c2).add(c3).add(c4).add(c5).add(c6).add(c7).reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
    }

    @Benchmark
    public float fma12(Flops f) {
        FloatVector va = FloatVector.broadcast(S, a), vb = FloatVector.broadcast(S, b);
        FloatVector c0 = FloatVector.broadcast(S, 0.0f), c1 = FloatVector.broadcast(S, 0.1f);
        FloatVector c2 = FloatVector.broadcast(S, 0.2f), c3 = FloatVector.broadcast(S, 0.3f);
        FloatVector c4 = FloatVector.broadcast(S, 0.4f), c5 = FloatVector.broadcast(S, 0.5f);
        FloatVector c6 = FloatVector.broadcast(S, 0.6f), c7 = FloatVector.broadcast(S, 0.7f);
        FloatVector c8 = FloatVector.broadcast(S, 0.8f), c9 = FloatVector.broadcast(S, 0.9f);
        FloatVector c10 = FloatVector.broadcast(S, 1.0f), c11 = FloatVector.broadcast(S, 1.1f);
        for (int i = 0; i < ITER; i++) {
            c0 = c0.fma(va, vb); c1 = c1.fma(va, vb); c2 = c2.fma(va, vb); c3 = c3.fma(va, vb);
            c4 = c4.fma(va, vb); c5 = c5.fma(va, vb); c6 = c6.fma(va, vb); c7 = c7.fma(va, vb);
            c8 = c8.fma(va, vb); c9 = c9.fma(va, vb); c10 = c10.fma(va, vb); c11 = c11.fma(va, vb);
        }
        f.flop += 2L * 12 * S.length() * ITER;
        return c0.add(c1).add(c2).add(c3).add(c4).add(c5).add(c6).add(c7).add(c8).add(c9).add(c10).add(c11)
                .reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
    }
}
