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
 * Convolution throughput of the CPU backend on the {@code vq-s} tokenizer's layers at batch 64: forward
 * ({@code fwd}), input gradient ({@code bwdInput}) and weight gradient with the bias gradient ({@code bwdWeight}).
 *
 * <p>shape is {@code CxHxW-OkK-sS-pP}: C input channels of H x W, O output channels, a K x K kernel, stride S,
 * padding P. GFLOP/s = ops/s x 2 * N * O * C * K^2 * Ho * Wo / 1e9 for every pass (the bias work is not counted), e.g.
 * {@code 64x32x32-o64k3-s1-p1} is 4.832 GFLOP per call at batch 64, {@code 128x16x16-o128k3-s1-p1} also 4.832,
 * {@code 64x16x16-o128k3-s1-p1} and {@code 128x16x16-o64k3-s1-p1} 2.416, {@code 128x8x8-o128k3-s1-p1},
 * {@code 64x32x32-o64k3-s2-p1} and {@code 128x16x16-o128k3-s2-p1} 1.208, {@code 64x16x16-o128k1-s1-p0} 0.268,
 * {@code 64x32x32-o1k3-s1-p1} and {@code 1x32x32-o64k3-s1-p1} 0.075.
 * threads 0 keeps the pool's default size.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
        "-XX:+UseParallelGC"})
public class ConvBench {

    @Param({"64x32x32-o64k3-s1-p1",    // encoder res1, decoder up2/res3 (the bulk of the work)
            "64x16x16-o128k3-s1-p1",   // encoder res2.conv1
            "128x16x16-o128k3-s1-p1",  // encoder res2.conv2, decoder up1
            "128x16x16-o64k3-s1-p1",   // decoder res2.conv1
            "128x8x8-o128k3-s1-p1",    // encoder res3, decoder res1
            "64x32x32-o64k3-s2-p1",    // encoder down1
            "128x16x16-o128k3-s2-p1",  // encoder down2
            "64x16x16-o128k1-s1-p0",   // encoder res2.skip
            "1x32x32-o64k3-s1-p1",     // encoder conv_in
            "64x32x32-o1k3-s1-p1"})    // decoder conv_out
    public String shape;

    @Param({"64"})
    public int batch;

    @Param({"0"})
    public int threads;

    private Tensor x, w, b, y, gy, gx, gw, gb;
    private int stride, pad;

    @Setup(Level.Trial)
    public void setup() {
        String[] parts = shape.split("-");
        String[] in = parts[0].split("x");
        int c = Integer.parseInt(in[0]), h = Integer.parseInt(in[1]), wd = Integer.parseInt(in[2]);
        String[] ok = parts[1].substring(1).split("k");
        int o = Integer.parseInt(ok[0]), k = Integer.parseInt(ok[1]);
        stride = Integer.parseInt(parts[2].substring(1));
        pad = Integer.parseInt(parts[3].substring(1));
        int ho = (h + 2 * pad - k) / stride + 1, wo = (wd + 2 * pad - k) / stride + 1, n = batch;
        if (threads > 0) WorkerPool.configure(threads);
        x = Tensor.of(random(n * c * h * wd, 1), n, c, h, wd);
        w = Tensor.of(random(o * c * k * k, 2), o, c, k, k);
        b = Tensor.of(random(o, 3), o);
        gy = Tensor.of(random(n * o * ho * wo, 4), n, o, ho, wo);
        y = Tensor.of(new float[n * o * ho * wo], n, o, ho, wo);
        gx = Tensor.of(new float[n * c * h * wd], n, c, h, wd);
        gw = Tensor.of(new float[o * c * k * k], o, c, k, k);
        gb = Tensor.of(new float[o], o);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (threads > 0) WorkerPool.configure(Runtime.getRuntime().availableProcessors());
    }

    private static float[] random(int size, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[size];
        for (int i = 0; i < size; i++) v[i] = (float) (r.nextDouble() * 2 - 1);
        return v;
    }

    @Benchmark
    public void fwd(Blackhole bh) {
        CpuBackend.INSTANCE.conv2d(x, w, b, stride, pad, y);
        bh.consume(y);
    }

    @Benchmark
    public void bwdInput(Blackhole bh) {
        CpuBackend.INSTANCE.conv2dBackwardInput(gy, w, stride, pad, gx);
        bh.consume(gx);
    }

    @Benchmark
    public void bwdWeight(Blackhole bh) {
        CpuBackend.INSTANCE.conv2dBackwardWeight(gy, x, stride, pad, gw, gb);
        bh.consume(gw);
    }
}
