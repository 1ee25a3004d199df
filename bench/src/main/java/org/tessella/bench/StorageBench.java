package org.tessella.bench;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * Why CPU tensors are Java arrays: the same Vector API dot product and axpy over a float[] and over a native
 * MemorySegment (see the tensor package docs for the numbers).
 */
@State(Scope.Thread)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
public class StorageBench {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int N = 4096;
    private float[] a, b;
    private MemorySegment sa, sb;

    @Setup
    public void setup() {
        a = new float[N];
        b = new float[N];
        for (int i = 0; i < N; i++) {
            a[i] = i * 1e-4f;
            b[i] = 1f;
        }
        Arena arena = Arena.ofAuto();
        sa = arena.allocate(4L * N, 64);
        sb = arena.allocate(4L * N, 64);
        MemorySegment.copy(MemorySegment.ofArray(a), 0, sa, 0, 4L * N);
        MemorySegment.copy(MemorySegment.ofArray(b), 0, sb, 0, 4L * N);
    }

    @Benchmark
    public float dotArray() {
        FloatVector acc = FloatVector.zero(S);
        for (int i = 0; i < S.loopBound(N); i += S.length())
            acc = FloatVector.fromArray(S, a, i).fma(FloatVector.fromArray(S, b, i), acc);
        return acc.reduceLanes(VectorOperators.ADD);
    }

    @Benchmark
    public float dotNativeSegment() {
        FloatVector acc = FloatVector.zero(S);
        for (int i = 0; i < S.loopBound(N); i += S.length())
            acc = FloatVector.fromMemorySegment(S, sa, 4L * i, ByteOrder.nativeOrder())
                    .fma(FloatVector.fromMemorySegment(S, sb, 4L * i, ByteOrder.nativeOrder()), acc);
        return acc.reduceLanes(VectorOperators.ADD);
    }

    @Benchmark
    public float[] axpyArray() {
        FloatVector two = FloatVector.broadcast(S, 2f);
        for (int i = 0; i < S.loopBound(N); i += S.length())
            FloatVector.fromArray(S, a, i).fma(two, FloatVector.fromArray(S, b, i)).intoArray(b, i);
        return b;
    }

    @Benchmark
    public MemorySegment axpyNativeSegment() {
        FloatVector two = FloatVector.broadcast(S, 2f);
        for (int i = 0; i < S.loopBound(N); i += S.length())
            FloatVector.fromMemorySegment(S, sa, 4L * i, ByteOrder.nativeOrder()).fma(two,
                    FloatVector.fromMemorySegment(S, sb, 4L * i, ByteOrder.nativeOrder())).intoMemorySegment(sb, 4L * i, ByteOrder.nativeOrder());
        return sb;
    }
}
