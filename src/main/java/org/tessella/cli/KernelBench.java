package org.tessella.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.tessella.autograd.Functional;
import org.tessella.backend.Backend;
import org.tessella.tensor.DType;
import org.tessella.tensor.Tensor;

/**
 * {@code tessella bench}'s kernel rows on the CPU, beside GEMM: vq-s's convolutions (Winograd and strided, all three
 * passes), gpt-s's attention straight from its q/k/v projection (forward and backward), and the memory-bound fused ops,
 * each at the shapes a batch-64 training step gives them. Compute-bound rows report GFLOP/s and the fraction of the
 * FMA peak measured in the same run (convolutions count their direct multiply-adds, so Winograd's read above 100%);
 * memory-bound rows report GB/s of the bytes they must move and the fraction of a streaming pass measured in the same
 * run ({@code y = x * s + t} over 64 MB, which reads and writes every byte once).
 */
final class KernelBench {
    private KernelBench() {}

    /** One row: an op at one shape, its work per call (FLOPs or bytes), and the call. */
    private record Row(String op, String shape, double work, Runnable call) {}

    /**
     * Prints every row; peak is the run's FMA peak in GFLOP/s. Every compute row is warmed up before any is timed,
     * so that C2 has compiled them all (timed right after their own short warm-up, the first convolution rows read
     * up to a third low while the compiler was still at work).
     */
    static void run(Backend be, double peak, double seconds) {
        int n = 64;
        List<Row> rows = new ArrayList<>();
        conv(be, rows, n, 64, 64, 32, 1);
        conv(be, rows, n, 128, 128, 16, 1);
        conv(be, rows, n, 64, 64, 32, 2);
        attention(be, rows, n, 64, 8, 32);
        for (Row r : rows) warm(seconds, r.call());
        for (Row r : rows) {
            double gflops = r.work() / time(seconds, r.call()) / 1e9;
            System.out.printf(Locale.ROOT, "%-22s %-24s  %8.1f GFLOP/s  %5.1f%% of peak%n", r.op(), r.shape(), gflops,
                    100 * gflops / peak);
        }
        double stream = stream(be, seconds);
        System.out.printf(Locale.ROOT, "%-22s %-24s  %8.1f GB/s     (the reference of the rows below)%n", "stream", "x*s+t, 64 MB", stream);
        Tensor x = random(be, 1, n, 64, 32, 32), y = be.persistent(DType.F32, n, 64, 32, 32);
        Tensor w = random(be, 2, 64), b = random(be, 3, 64), mean = be.persistent(DType.F32, n, 32), rstd = be.persistent(DType.F32, n, 32);
        if (be.fusesGroupNormSilu())
            memory("groupNormSilu", "[64, 64, 32, 32]", 2L * x.numel() * 4, stream, seconds,
                    () -> be.groupNormSilu(x, 32, w, b, 1e-5f, y, mean, rstd));
        else
            memory("groupNorm", "[64, 64, 32, 32]", 2L * x.numel() * 4, stream, seconds,
                    () -> be.groupNorm(x, 32, w, b, 1e-5f, y, mean, rstd));
        Tensor gate = random(be, 4, 4096, 768), value = random(be, 5, 4096, 768), out = be.persistent(DType.F32, 4096, 768);
        if (be.fusesSwiglu())
            memory("swiglu", "[4096, 768]", 3L * out.numel() * 4, stream, seconds, () -> be.swiglu(gate, value, out));
        Tensor h = random(be, 6, 4096, 256), hw = random(be, 7, 256), hy = be.persistent(DType.F32, 4096, 256);
        Tensor hr = be.persistent(DType.F32, 4096);
        memory("rmsNorm", "[4096, 256]", 2L * h.numel() * 4, stream, seconds, () -> be.rmsNorm(h, hw, 1e-5f, hy, hr));
    }

    /** The three passes of a 3x3 convolution (padding 1) at batch n, c -> o channels, h x h images. */
    private static void conv(Backend be, List<Row> rows, int n, int c, int o, int h, int stride) {
        int ho = (h + 2 - 3) / stride + 1;
        Tensor x = random(be, 11, n, c, h, h), w = random(be, 12, o, c, 3, 3), bias = random(be, 13, o);
        Tensor y = be.persistent(DType.F32, n, o, ho, ho), gx = be.persistent(DType.F32, n, c, h, h);
        Tensor gw = be.persistent(DType.F32, o, c, 3, 3), gb = be.persistent(DType.F32, o);
        double flops = 2.0 * n * o * c * 9 * ho * ho;
        String shape = c + "->" + o + " " + h + "x" + h + (stride > 1 ? " s" + stride : "") + ", n " + n;
        rows.add(new Row("conv2d", shape, flops, () -> be.conv2d(x, w, bias, stride, 1, y)));
        rows.add(new Row("conv2d input grad", shape, flops, () -> be.conv2dBackwardInput(y, w, stride, 1, gx)));
        rows.add(new Row("conv2d weight grad", shape, flops, () -> be.conv2dBackwardWeight(y, x, stride, 1, gw, gb)));
    }

    /** Causal attention of b sequences of t positions, heads x d, from a packed projection (RoPE applied). */
    private static void attention(Backend be, List<Row> rows, int b, int t, int heads, int d) {
        if (!be.fusesQkvAttention()) return;
        Tensor qkv = random(be, 21, b, t, 3, heads, d), out = be.persistent(DType.F32, b, t, heads, d);
        Tensor lse = be.persistent(DType.F32, b, heads, t), g = random(be, 22, b, t, heads, d);
        Tensor gq = be.persistent(DType.F32, b, t, 3, heads, d);
        Tensor[] tables = Functional.ropeTables(t, d, 10000f);
        float scale = (float) (1 / Math.sqrt(d));
        double flops = 2.0 * b * heads * t * t * 2 * d / 2; // causal: half the score matrix
        String shape = "[" + b + ", " + t + ", 3, " + heads + ", " + d + "]";
        rows.add(new Row("qkvAttention", shape, flops,
                () -> be.qkvAttention(qkv, tables[0], tables[1], true, scale, out, lse)));
        rows.add(new Row("qkvAttention backward", shape, 2 * flops,
                () -> be.qkvAttentionBackward(qkv, tables[0], tables[1], out, lse, g, true, scale, gq)));
    }

    private static double stream(Backend be, double seconds) {
        Tensor x = random(be, 31, 1 << 24), y = be.persistent(DType.F32, 1 << 24);
        return 2.0 * x.numel() * 4 / time(seconds, () -> be.affine(x, 1.5f, 0.25f, y)) / 1e9;
    }

    private static void memory(String op, String shape, long bytes, double stream, double seconds, Runnable call) {
        double gbs = bytes / time(seconds, call) / 1e9;
        System.out.printf(Locale.ROOT, "%-22s %-24s  %8.1f GB/s     %5.1f%% of stream%n", op, shape, gbs, 100 * gbs / stream);
    }

    /** Calls for a third of the time (at least once). */
    private static void warm(double seconds, Runnable call) {
        long end = System.nanoTime() + (long) (seconds * 0.33e9);
        do call.run(); while (System.nanoTime() < end);
    }

    /** Seconds per call: a warm-up, then calls until the time is up (at least three). */
    private static double time(double seconds, Runnable call) {
        warm(seconds, call);
        int reps = 0;
        long t0 = System.nanoTime(), end = t0 + (long) (seconds * 1e9);
        do {
            call.run();
            reps++;
        } while (reps < 3 || System.nanoTime() < end);
        return (System.nanoTime() - t0) / 1e9 / reps;
    }

    private static Tensor random(Backend be, long seed, int... shape) {
        Tensor t = be.persistent(DType.F32, shape);
        be.randomUniform(t, seed, 0);
        return t;
    }
}
