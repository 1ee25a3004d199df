package org.tessella.cuda;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.tessella.tensor.DType;
import org.tessella.tensor.Tensor;
import org.tessella.tensor.Workspace;

/**
 * The CUDA backend's check on a GPU machine without Maven or JUnit (tools/cuda-check runs it from the jar): device
 * and library versions, every implemented primitive against the CPU backend ({@link CudaChecks}), the bindings'
 * error paths, the kernel cache and the memory pool, then a few timings (SGEMM at 4096 in FP32, TF32 and BF16, copy
 * and elementwise bandwidth, gpt-s attention and a vq-s convolution). Prints one PASS or FAIL line per check and "N passed, M failed"; exits 1 when anything
 * failed or CUDA is unavailable. (cuBLAS prints its own "On entry to SGEMM parameter number 8" line to stderr during
 * the deliberate error check.)
 *
 * <p>{@code java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp tessella.jar
 * org.tessella.cuda.CudaSelfTest [--device N] [--no-bench]}
 */
public final class CudaSelfTest {
    private CudaSelfTest() {}

    public static void main(String[] args) {
        int device = 0;
        boolean bench = true;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--device" -> device = Integer.parseInt(args[++i]);
                case "--no-bench" -> bench = false;
                default -> {
                    System.err.println("usage: CudaSelfTest [--device N] [--no-bench]");
                    System.exit(2);
                }
            }
        }
        System.exit(run(device, bench) ? 0 : 1);
    }

    static boolean run(int ordinal, boolean bench) {
        CudaBackend gpu;
        long t0 = System.nanoTime();
        try {
            gpu = CudaBackend.of(ordinal);
        } catch (CudaUnavailableException e) {
            System.out.println("FAIL " + e.getMessage());
            System.out.println("0 passed, 1 failed");
            return false;
        }
        DeviceInfo info = gpu.info();
        System.out.printf(Locale.ROOT, "device: %s, %.0f GB/s peak memory bandwidth%n", info, info.peakBandwidthGBs());
        System.out.printf(Locale.ROOT, "libraries: NVRTC %s (target %s), cuBLAS %d; backend up in %.0f ms%n",
                Nvrtc.get().version(), gpu.kernelTarget(), gpu.cublasVersion(), (System.nanoTime() - t0) / 1e6);
        System.out.println("kernel cache: " + gpu.compiler().cache().directory());

        long c0 = System.nanoTime();
        for (String module : List.of("elementwise", "reduce", "rows", "norms", "indexing", "random", "images", "attention"))
            gpu.kernel(module, firstKernel(module));
        System.out.printf(Locale.ROOT, "kernel modules ready in %.0f ms (%d compiled by NVRTC, %d from the disk cache)%n",
                (System.nanoTime() - c0) / 1e6, gpu.compiler().compilations(), gpu.compiler().cacheHits());

        CudaChecks checks = new CudaChecks(gpu);
        List<CudaChecks.Check> all = new ArrayList<>(checks.primitives());
        all.addAll(checks.bindings());
        int passed = 0, failed = 0;
        for (CudaChecks.Check c : all) {
            long s = System.nanoTime();
            String line;
            boolean ok;
            try {
                double err = c.error().getAsDouble();
                ok = err <= c.tolerance();
                line = String.format(Locale.ROOT, "%s %s: error %.2e (tolerance %.0e), %.0f ms", ok ? "PASS" : "FAIL",
                        c.name(), err, c.tolerance(), (System.nanoTime() - s) / 1e6);
            } catch (RuntimeException | AssertionError e) {
                ok = false;
                line = "FAIL " + c.name() + ": " + e;
            }
            System.out.println(line);
            if (ok) passed++;
            else failed++;
        }
        DevicePool.Stats ps = gpu.context().pool().stats();
        System.out.printf(Locale.ROOT, "pool: %.1f MiB in use, %.1f MiB cached, peak %.1f MiB, %d cuMemAlloc, %d reuses%n",
                ps.bytesInUse() / 1048576.0, ps.bytesCached() / 1048576.0, ps.peakBytesInUse() / 1048576.0,
                ps.deviceAllocations(), ps.reuses());
        if (bench) {
            try {
                bench(gpu);
            } catch (RuntimeException e) {
                System.out.println("FAIL bench: " + e);
                failed++;
            }
        }
        System.out.println(passed + " passed, " + failed + " failed");
        return failed == 0;
    }

    private static String firstKernel(String module) {
        return switch (module) {
            case "elementwise" -> "unary";
            case "reduce" -> "reduce_rows";
            case "rows" -> "softmax";
            case "norms" -> "layer_norm";
            case "indexing" -> "embedding";
            case "images" -> "im2col";
            case "attention" -> "attention_forward";
            default -> "random_uniform";
        };
    }

    /** SGEMM 4096^3 in each precision, then copy and elementwise-add bandwidth; device time from events. */
    static void bench(CudaBackend gpu) {
        int n = 4096, reps = 10;
        Tensor a = gpu.empty(DType.F32, 1, n, n), b = gpu.empty(DType.F32, 1, n, n), c = gpu.empty(DType.F32, 1, n, n);
        gpu.randomNormal(a, 1, 0, 0f, 1f);
        gpu.randomNormal(b, 2, 0, 0f, 1f);
        GemmPrecision before = gpu.matmulPrecision();
        for (GemmPrecision p : GemmPrecision.values()) {
            gpu.setMatmulPrecision(p);
            for (int i = 0; i < 2; i++) gpu.matmul(a, false, b, false, c, 1f, 0f);
            float ms = gpu.context().timeMillis(() -> {
                for (int i = 0; i < reps; i++) gpu.matmul(a, false, b, false, c, 1f, 0f);
            }) / reps;
            System.out.printf(Locale.ROOT, "bench sgemm %d^3 %s: %.3f ms, %.0f GFLOP/s%n", n, p.name().toLowerCase(Locale.ROOT),
                    ms, 2.0 * n * n * n / (ms / 1e3) / 1e9);
        }
        gpu.setMatmulPrecision(before);
        int m = 64 << 20; // 64 Mi floats = 256 MiB per tensor
        Tensor x = gpu.empty(DType.F32, m), y = gpu.empty(DType.F32, m), z = gpu.empty(DType.F32, m);
        gpu.fill(x, 1f);
        gpu.fill(y, 2f);
        gpu.copy(x, z);
        float copyMs = gpu.context().timeMillis(() -> {
            for (int i = 0; i < reps; i++) gpu.copy(x, z);
        }) / reps;
        gpu.binary(org.tessella.backend.BinaryOp.ADD, x, y, z);
        float addMs = gpu.context().timeMillis(() -> {
            for (int i = 0; i < reps; i++) gpu.binary(org.tessella.backend.BinaryOp.ADD, x, y, z);
        }) / reps;
        System.out.printf(Locale.ROOT, "bench copy 256 MiB: %.3f ms, %.0f GB/s; add 3 x 256 MiB: %.3f ms, %.0f GB/s%n",
                copyMs, 2.0 * 4 * m / (copyMs / 1e3) / 1e9, addMs, 3.0 * 4 * m / (addMs / 1e3) / 1e9);
        for (Tensor t : List.of(a, b, c, x, y, z)) ((DeviceStorage) t.storage()).release();
        benchModelOps(gpu, reps);
    }

    /** The two heavy fused ops at the reference models' shapes: gpt-s attention and a vq-s 3x3 convolution. */
    static void benchModelOps(CudaBackend gpu, int reps) {
        int bt = 64, heads = 8, t = 65, d = 32;
        Tensor q = gpu.empty(DType.F32, bt, heads, t, d), k = gpu.empty(DType.F32, bt, heads, t, d);
        Tensor v = gpu.empty(DType.F32, bt, heads, t, d), o = gpu.empty(DType.F32, bt, heads, t, d);
        Tensor lse = gpu.empty(DType.F32, bt, heads, t), go = gpu.empty(DType.F32, bt, heads, t, d);
        Tensor gq = gpu.empty(DType.F32, bt, heads, t, d), gk = gpu.empty(DType.F32, bt, heads, t, d);
        Tensor gv = gpu.empty(DType.F32, bt, heads, t, d);
        for (Tensor r : List.of(q, k, v, go)) gpu.randomNormal(r, 3, 0, 0f, 1f);
        float scale = (float) (1 / Math.sqrt(d));
        gpu.attention(q, k, v, true, scale, o, lse);
        float fwd = gpu.context().timeMillis(() -> {
            for (int i = 0; i < reps; i++) gpu.attention(q, k, v, true, scale, o, lse);
        }) / reps;
        gpu.attentionBackward(q, k, v, o, lse, go, true, scale, gq, gk, gv);
        float bwd = gpu.context().timeMillis(() -> {
            for (int i = 0; i < reps; i++) gpu.attentionBackward(q, k, v, o, lse, go, true, scale, gq, gk, gv);
        }) / reps;
        System.out.printf(Locale.ROOT, "bench attention gpt-s [64, 8, 65, 32] causal: forward %.3f ms, backward %.3f ms%n", fwd, bwd);

        int n = 64, ch = 64, hw = 32;
        Tensor x = gpu.empty(DType.F32, n, ch, hw, hw), w = gpu.empty(DType.F32, ch, ch, 3, 3), bias = gpu.empty(DType.F32, ch);
        Tensor y = gpu.empty(DType.F32, n, ch, hw, hw), gy = gpu.empty(DType.F32, n, ch, hw, hw);
        Tensor gx = gpu.empty(DType.F32, n, ch, hw, hw), gw = gpu.empty(DType.F32, ch, ch, 3, 3), gb = gpu.empty(DType.F32, ch);
        for (Tensor r : List.of(x, w, bias, gy)) gpu.randomNormal(r, 4, 0, 0f, 1f);
        double flops = 2.0 * n * ch * hw * hw * ch * 9;
        Workspace ws = new Workspace();
        String[] names = {"forward", "input grad", "weight grad"};
        Runnable[] passes = {() -> gpu.conv2d(x, w, bias, 1, 1, y), () -> gpu.conv2dBackwardInput(gy, w, 1, 1, gx),
                () -> gpu.conv2dBackwardWeight(gy, x, 1, 1, gw, gb)};
        StringBuilder line = new StringBuilder("bench conv 3x3 64->64 at 32x32, batch 64 (fp32):");
        for (int p = 0; p < passes.length; p++) {
            Runnable pass = passes[p];
            ws.run(pass);
            float ms = gpu.context().timeMillis(() -> {
                for (int i = 0; i < reps; i++) ws.run(pass);
            }) / reps;
            line.append(String.format(Locale.ROOT, " %s %.3f ms (%.0f GFLOP/s)%s", names[p], ms, flops / (ms / 1e3) / 1e9,
                    p < passes.length - 1 ? "," : ""));
        }
        System.out.println(line);
    }
}
