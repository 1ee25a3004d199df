package org.tessella.cuda;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.BiFunction;
import java.util.function.DoubleSupplier;
import org.tessella.backend.Backend;
import org.tessella.backend.Backends;
import org.tessella.backend.BinaryOp;
import org.tessella.backend.ReduceOp;
import org.tessella.backend.UnaryOp;
import org.tessella.tensor.DType;
import org.tessella.tensor.Tensor;
import org.tessella.tensor.Workspace;

/**
 * Every primitive the CUDA backend implements, run on random inputs on the GPU and on the CPU backend and compared;
 * plus the bindings' own checks (error text, NVRTC log, disk cache, pool reuse). Shared by {@link CudaSelfTest} (the
 * GPU machine's PASS/FAIL report) and the JUnit tests, so both check the same things.
 *
 * <p>Errors: {@link #relError} is the largest elementwise difference relative to the element, or to 1% of the
 * largest reference magnitude where the element is smaller than that (sums that cancel are compared against their
 * scale); GEMMs use the normwise (Frobenius) relative error. Tolerances: 1e-4 for float32, 1e-2 for TF32 and BF16.
 */
final class CudaChecks {
    static final double FP32 = 1e-4, REDUCED = 1e-2;

    /** One named comparison: the error it measured against its tolerance. */
    record Check(String name, double tolerance, DoubleSupplier error) {}

    private final CudaBackend gpu;
    private final Backend cpu = Backends.cpu();

    CudaChecks(CudaBackend gpu) { this.gpu = gpu; }

    // ---- helpers -------------------------------------------------------------------------------------------------

    static float[] random(long seed, int n, float lo, float hi) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (lo + (hi - lo) * r.nextDouble());
        return x;
    }

    static Tensor rand(long seed, float lo, float hi, int... shape) {
        int n = 1;
        for (int d : shape) n *= d;
        return Tensor.of(random(seed, n, lo, hi), shape);
    }

    static Tensor randInts(long seed, int bound, int... shape) {
        int n = 1;
        for (int d : shape) n *= d;
        SplittableRandom r = new SplittableRandom(seed);
        int[] x = new int[n];
        for (int i = 0; i < n; i++) x[i] = r.nextInt(bound);
        return Tensor.ofInts(x, shape);
    }

    /** A device copy of a CPU tensor. */
    Tensor up(Tensor host) {
        Tensor t = gpu.empty(host.dtype(), host.shape());
        gpu.copy(host, t);
        return t;
    }

    Tensor gpuEmpty(Tensor like) { return gpu.empty(like.dtype(), like.shape()); }

    static Tensor cpuEmpty(Tensor like) { return Tensor.persistent(like.dtype(), like.shape()); }

    /** Max over elements of |got - want| / max(|want|, 1% of max |want|); NaN where only one side is NaN. */
    static double relError(float[] got, float[] want) {
        if (got.length != want.length) return Double.POSITIVE_INFINITY;
        double scale = 0;
        for (float w : want) if (Float.isFinite(w)) scale = Math.max(scale, Math.abs(w));
        double floor = Math.max(1e-2 * scale, 1e-30), err = 0;
        for (int i = 0; i < got.length; i++) {
            float g = got[i], w = want[i];
            if (Float.isNaN(w) || Float.isNaN(g)) {
                if (Float.isNaN(w) != Float.isNaN(g)) return Double.NaN;
                continue;
            }
            if (Float.isInfinite(w) || Float.isInfinite(g)) {
                if (g != w) return Double.POSITIVE_INFINITY;
                continue;
            }
            err = Math.max(err, Math.abs((double) g - w) / Math.max(Math.abs(w), floor));
        }
        return err;
    }

    /** ||got - want|| / ||want|| (Frobenius). */
    static double normError(float[] got, float[] want) {
        if (got.length != want.length) return Double.POSITIVE_INFINITY;
        double d = 0, w = 0;
        for (int i = 0; i < got.length; i++) {
            double e = (double) got[i] - want[i];
            d += e * e;
            w += (double) want[i] * want[i];
        }
        return Math.sqrt(d / Math.max(w, 1e-300));
    }

    static double rel(Tensor got, Tensor want) { return relError(got.toFloatArray(), want.toFloatArray()); }

    static double max(double... errors) {
        double m = 0;
        for (double e : errors) {
            if (Double.isNaN(e)) return Double.NaN;
            m = Math.max(m, e);
        }
        return m;
    }

    /** 0 when equal, else 1 (for integer results and exact checks). */
    static double exact(boolean same) { return same ? 0 : 1; }

    // ---- the checks ----------------------------------------------------------------------------------------------

    List<Check> primitives() {
        List<Check> c = new ArrayList<>();
        c.add(new Check("fill+copy strided/convert", 0, this::copies));
        for (UnaryOp op : UnaryOp.values()) c.add(new Check("unary " + op, FP32, () -> unary(op)));
        for (UnaryOp op : UnaryOp.values()) c.add(new Check("unaryBackward " + op, FP32, () -> unaryBackward(op)));
        for (BinaryOp op : BinaryOp.values()) c.add(new Check("binary " + op + " (broadcast)", FP32, () -> binary(op)));
        c.add(new Check("affine/powScalar/clamp/where", FP32, this::scalarOps));
        for (ReduceOp op : ReduceOp.values()) c.add(new Check("reduce " + op, FP32, () -> reduce(op)));
        c.add(new Check("sumOfSquares", 1e-9, this::sumOfSquares));
        c.add(new Check("argmax/topk", 0, this::argmaxTopk));
        c.add(new Check("matmul fp32 (4 transposes, batched, broadcast, alpha/beta)", FP32, () -> matmuls(GemmPrecision.FP32)));
        c.add(new Check("matmul tf32", REDUCED, () -> matmuls(GemmPrecision.TF32)));
        c.add(new Check("matmul bf16", REDUCED, () -> matmuls(GemmPrecision.BF16)));
        c.add(new Check("softmax/logSoftmax + backward", FP32, this::softmaxes));
        c.add(new Check("crossEntropy (ignore index, gradient, count)", FP32, this::crossEntropy));
        c.add(new Check("layerNorm + backward", FP32, this::layerNorm));
        c.add(new Check("rmsNorm + backward", FP32, this::rmsNorm));
        c.add(new Check("groupNorm + backward", FP32, this::groupNorm));
        c.add(new Check("embedding/gather + scatter backward (one chunk, and several with a hot row)", FP32, this::indexing));
        String[] convOps = {"conv2d", "conv2dBackwardInput", "conv2dBackwardWeight (+ bias)"};
        for (int op = 0; op < 3; op++) {
            int which = op;
            // against the CPU's direct kernels (its default Winograd path for 3x3 stride 1 rounds about 20x more)
            c.add(new Check(convOps[op] + " fp32 (3x3 s1 p1, 3x3 s2 p1, 1x1, 2x2 s2, 4x4 s2 p1, tile tails)", FP32,
                    () -> cpu.withReferenceKernels(() -> convolutions(GemmPrecision.FP32))[which]));
            c.add(new Check(convOps[op] + " tf32 (normwise)", REDUCED,
                    () -> cpu.withReferenceKernels(() -> convolutions(GemmPrecision.TF32))[which]));
        }
        c.add(new Check("upsampleNearest/avgPool2d + backward", FP32, this::resampling));
        c.add(new Check("attention + backward (causal, KV-cache shape, non-causal)", FP32, this::attentions));
        c.add(new Check("rope (strided tables, inverse)", FP32, this::rope));
        c.add(new Check("randomUniform/randomNormal", 1e-6, this::randomness));
        c.add(new Check("adamw", FP32, this::adamw));
        c.add(new Check("scale + adamw of many tensors (chunked, one launch each)", FP32, this::adamwMany));
        c.add(new Check("5 training steps of an MLP (workspace, AdamW): losses", FP32, this::trainingSteps));
        return c;
    }

    List<Check> bindings() {
        List<Check> c = new ArrayList<>();
        c.add(new Check("driver error -> exception text", 0, this::driverErrorText));
        c.add(new Check("cuBLAS error -> exception text", 0, this::cublasErrorText));
        c.add(new Check("NVRTC compile error -> exception with log", 0, this::nvrtcLog));
        c.add(new Check("kernel disk cache hit on second compile", 0, this::diskCache));
        c.add(new Check("pool reuse: bytes in use flat over 1000 steps", 0, this::poolReuse));
        c.add(new Check("index out of range -> exception", 0, this::indexErrors));
        return c;
    }

    double copies() {
        Tensor x = rand(1, -3, 3, 7, 9, 11);
        Tensor gx = up(x);
        // strided (transposed) copy, F32 -> I32 -> F32 conversion, strided fill, device -> host read
        Tensor perm = gx.permute(2, 0, 1), dense = gpu.empty(DType.F32, perm.shape());
        gpu.copy(perm, dense);
        Tensor want = Tensor.persistent(DType.F32, 11, 7, 9);
        cpu.copy(x.permute(2, 0, 1), want);
        Tensor ints = gpu.empty(DType.I32, 7, 9, 11), wantInts = Tensor.persistent(DType.I32, 7, 9, 11);
        gpu.copy(gx, ints);
        cpu.copy(x, wantInts);
        Tensor filled = up(x);
        gpu.fill(filled.slice(1, 2, 5), 4.5f);
        Tensor wantFilled = Tensor.copyOf(x);
        cpu.fill(wantFilled.slice(1, 2, 5), 4.5f);
        boolean intsSame = Arrays.equals(ints.toIntArray(), wantInts.toIntArray());
        return max(rel(dense, want), exact(intsSame), rel(filled, wantFilled));
    }

    /** Inputs inside each function's domain (LOG, SQRT, RSQRT positive; RECIPROCAL away from 0). */
    static Tensor unaryInput(UnaryOp op, long seed, int... shape) {
        Tensor x = rand(seed, -4, 4, shape);
        float[] a = x.floats();
        for (int i = 0; i < a.length; i++) {
            switch (op) {
                case LOG, SQRT, RSQRT -> a[i] = Math.abs(a[i]) + 0.05f;
                case RECIPROCAL -> a[i] = Math.copySign(Math.abs(a[i]) + 0.5f, a[i]);
                default -> { }
            }
        }
        return x;
    }

    double unary(UnaryOp op) {
        Tensor x = unaryInput(op, 10 + op.ordinal(), 37, 129);
        Tensor want = cpuEmpty(x), got = gpuEmpty(x);
        cpu.unary(op, x, want);
        gpu.unary(op, up(x), got);
        // also through a transposed (strided) view
        Tensor xt = x.transpose(0, 1), wantT = Tensor.persistent(DType.F32, 129, 37), gotT = gpu.empty(DType.F32, 129, 37);
        cpu.unary(op, xt, wantT);
        gpu.unary(op, up(x).transpose(0, 1), gotT);
        return max(rel(got, want), rel(gotT, wantT));
    }

    double unaryBackward(UnaryOp op) {
        Tensor x = unaryInput(op, 40 + op.ordinal(), 33, 65);
        Tensor y = cpuEmpty(x);
        cpu.unary(op, x, y);
        Tensor gy = rand(80 + op.ordinal(), -1, 1, 33, 65);
        Tensor want = cpuEmpty(x), got = gpuEmpty(x);
        cpu.unaryBackward(op, x, y, gy, want);
        gpu.unaryBackward(op, up(x), up(y), up(gy), got);
        return rel(got, want);
    }

    double binary(BinaryOp op) {
        Tensor a = rand(100 + op.ordinal(), -3, 3, 5, 31, 67), b = rand(200 + op.ordinal(), -3, 3, 31, 1);
        float[] fa = a.floats(), fb = b.floats();
        if (op == BinaryOp.POW) for (int i = 0; i < fa.length; i++) fa[i] = Math.abs(fa[i]) + 0.1f;
        if (op == BinaryOp.DIV) for (int i = 0; i < fb.length; i++) fb[i] = Math.copySign(Math.abs(fb[i]) + 0.5f, fb[i]);
        if (op == BinaryOp.EQ || op == BinaryOp.NE) b.floats()[3] = a.floats()[3 * 67]; // some equal pairs
        int[] shape = {5, 31, 67};
        Tensor want = Tensor.persistent(DType.F32, shape), got = gpu.empty(DType.F32, shape);
        cpu.binary(op, a, b.expand(shape), want);
        gpu.binary(op, up(a), up(b).expand(shape), got);
        return rel(got, want);
    }

    double scalarOps() {
        Tensor x = rand(300, -3, 3, 19, 41), c = rand(301, -1, 1, 19, 41), y = rand(302, -3, 3, 41);
        Tensor gx = up(x);
        Tensor w1 = cpuEmpty(x), g1 = gpuEmpty(x), w2 = cpuEmpty(x), g2 = gpuEmpty(x), w3 = cpuEmpty(x), g3 = gpuEmpty(x);
        Tensor w4 = cpuEmpty(x), g4 = gpuEmpty(x);
        cpu.affine(x, 1.5f, -0.25f, w1);
        gpu.affine(gx, 1.5f, -0.25f, g1);
        Tensor xp = rand(303, 0.1f, 3, 19, 41);
        cpu.powScalar(xp, 1.7f, w2);
        gpu.powScalar(up(xp), 1.7f, g2);
        cpu.clamp(x, -1f, 0.5f, w3);
        gpu.clamp(gx, -1f, 0.5f, g3);
        Tensor cond = cpuEmpty(c);
        cpu.binary(BinaryOp.GT, c, Tensor.scalar(0f).expand(19, 41), cond);
        cpu.where(cond, x, y.expand(19, 41), w4);
        gpu.where(up(cond), gx, up(y).expand(19, 41), g4);
        return max(rel(g1, w1), rel(g2, w2), rel(g3, w3), rel(g4, w4));
    }

    /** Reduces over several axis sets: trailing (rows), leading (columns, also the long chunked case), mixed. */
    double reduce(ReduceOp op) {
        Tensor x = rand(400 + op.ordinal(), -2, 2, 6, 50, 70);
        int[][] outs = {{6, 50, 1}, {1, 1, 70}, {1, 50, 1}, {6, 1, 70}, {1, 1, 1}};
        double err = 0;
        for (int[] os : outs) {
            Tensor want = Tensor.persistent(DType.F32, os), got = gpu.empty(DType.F32, os);
            cpu.reduce(op, x, want);
            gpu.reduce(op, up(x), got);
            err = max(err, rel(got, want));
        }
        Tensor tall = rand(410 + op.ordinal(), -2, 2, 5000, 3); // few long columns: the chunked path
        Tensor want = Tensor.persistent(DType.F32, 1, 3), got = gpu.empty(DType.F32, 1, 3);
        cpu.reduce(op, tall, want);
        gpu.reduce(op, up(tall), got);
        return max(err, rel(got, want));
    }

    double sumOfSquares() {
        Tensor x = rand(500, -2, 2, 1000, 333);
        double want = cpu.sumOfSquares(x), got = gpu.sumOfSquares(up(x));
        return Math.abs(got - want) / want;
    }

    double argmaxTopk() {
        Tensor x = rand(600, -5, 5, 23, 517);
        Tensor want = Tensor.persistent(DType.I32, 23), got = gpu.empty(DType.I32, 23);
        cpu.argmax(x, want);
        gpu.argmax(up(x), got);
        Tensor wv = Tensor.persistent(DType.F32, 23, 9), wi = Tensor.persistent(DType.I32, 23, 9);
        Tensor gv = gpu.empty(DType.F32, 23, 9), gi = gpu.empty(DType.I32, 23, 9);
        cpu.topk(x, 9, wv, wi);
        gpu.topk(up(x), 9, gv, gi);
        boolean same = Arrays.equals(got.toIntArray(), want.toIntArray()) && Arrays.equals(gi.toIntArray(), wi.toIntArray())
                && Arrays.equals(gv.toFloatArray(), wv.toFloatArray());
        return exact(same);
    }

    double matmuls(GemmPrecision precision) {
        GemmPrecision before = gpu.matmulPrecision();
        gpu.setMatmulPrecision(precision);
        try {
            double err = 0;
            int[][] cases = { // batch, aBatch, bBatch, m, n, k
                    {1, 1, 1, 67, 45, 300}, {3, 3, 3, 31, 64, 77}, {4, 1, 4, 16, 33, 50}, {4, 4, 1, 40, 24, 129}};
            long seed = 700;
            for (int[] cs : cases)
                for (int t = 0; t < 4; t++) {
                    boolean ta = (t & 1) != 0, tb = (t & 2) != 0;
                    int batch = cs[0], m = cs[3], n = cs[4], k = cs[5];
                    Tensor a = ta ? rand(seed++, -2, 2, cs[1], k, m) : rand(seed++, -2, 2, cs[1], m, k);
                    Tensor b = tb ? rand(seed++, -2, 2, cs[2], n, k) : rand(seed++, -2, 2, cs[2], k, n);
                    Tensor c0 = rand(seed++, -2, 2, batch, m, n);
                    float alpha = t == 3 ? 0.75f : 1f, beta = t == 3 ? 0.5f : 0f;
                    Tensor want = Tensor.copyOf(c0), got = up(c0);
                    cpu.matmul(a, ta, b, tb, want, alpha, beta);
                    gpu.matmul(up(a), ta, up(b), tb, got, alpha, beta);
                    err = max(err, normError(got.toFloatArray(), want.toFloatArray()));
                }
            return err;
        } finally {
            gpu.setMatmulPrecision(before);
        }
    }

    double softmaxes() {
        double err = 0;
        for (int d : new int[]{1, 10, 100, 1000, 5000}) {
            Tensor x = rand(800 + d, -6, 6, 13, d), gy = rand(900 + d, -1, 1, 13, d);
            Tensor ws = cpuEmpty(x), gs = gpuEmpty(x), wl = cpuEmpty(x), gl = gpuEmpty(x);
            cpu.softmax(x, ws);
            gpu.softmax(up(x), gs);
            cpu.logSoftmax(x, wl);
            gpu.logSoftmax(up(x), gl);
            Tensor wsb = cpuEmpty(x), gsb = gpuEmpty(x), wlb = cpuEmpty(x), glb = gpuEmpty(x);
            cpu.softmaxBackward(ws, gy, wsb);
            gpu.softmaxBackward(up(ws), up(gy), gsb);
            cpu.logSoftmaxBackward(wl, gy, wlb);
            gpu.logSoftmaxBackward(up(wl), up(gy), glb);
            err = max(err, rel(gs, ws), rel(gl, wl), rel(gsb, wsb), rel(glb, wlb));
        }
        return err;
    }

    double crossEntropy() {
        int n = 57, c = 1030;
        Tensor x = rand(1000, -5, 5, n, c), t = randInts(1001, c, n);
        t.ints()[3] = -100;
        t.ints()[40] = -100;
        Tensor wl = Tensor.persistent(DType.F32, n), gl = gpu.empty(DType.F32, n);
        Tensor wd = cpuEmpty(x), gd = gpuEmpty(x);
        int wc = cpu.crossEntropy(x, t, -100, wl, wd);
        int gc = gpu.crossEntropy(up(x), up(t), -100, gl, gd);
        Tensor gl2 = gpu.empty(DType.F32, n);
        int gc2 = gpu.crossEntropy(up(x), up(t), -100, gl2, null);
        return max(rel(gl, wl), rel(gd, wd), rel(gl2, wl), exact(wc == gc && gc2 == wc));
    }

    double layerNorm() {
        double err = 0;
        for (int d : new int[]{32, 200, 768, 3000}) {
            int rows = 37;
            Tensor x = rand(1100 + d, -3, 3, rows, d), w = rand(1101 + d, 0.5f, 1.5f, d), b = rand(1102 + d, -1, 1, d);
            Tensor gy = rand(1103 + d, -1, 1, rows, d);
            Tensor wy = cpuEmpty(x), wm = Tensor.persistent(DType.F32, rows), wr = Tensor.persistent(DType.F32, rows);
            Tensor gyy = gpuEmpty(x), gm = gpu.empty(DType.F32, rows), gr = gpu.empty(DType.F32, rows);
            cpu.layerNorm(x, w, b, 1e-5f, wy, wm, wr);
            Tensor dx = up(x), dw = up(w);
            gpu.layerNorm(dx, dw, up(b), 1e-5f, gyy, gm, gr);
            Tensor wgx = cpuEmpty(x), wgw = cpuEmpty(w), wgb = cpuEmpty(b);
            Tensor ggx = gpuEmpty(x), ggw = gpuEmpty(w), ggb = gpuEmpty(b);
            cpu.layerNormBackward(x, w, wm, wr, gy, wgx, wgw, wgb);
            gpu.layerNormBackward(dx, dw, gm, gr, up(gy), ggx, ggw, ggb);
            err = max(err, rel(gyy, wy), rel(gm, wm), rel(gr, wr), rel(ggx, wgx), rel(ggw, wgw), rel(ggb, wgb));
            // without weight and bias
            Tensor wy0 = cpuEmpty(x), gy0 = gpuEmpty(x);
            cpu.layerNorm(x, null, null, 1e-5f, wy0, wm, wr);
            gpu.layerNorm(dx, null, null, 1e-5f, gy0, gm, gr);
            err = max(err, rel(gy0, wy0));
        }
        return err;
    }

    double rmsNorm() {
        double err = 0;
        for (int d : new int[]{32, 256, 3000}) {
            int rows = 29;
            Tensor x = rand(1200 + d, -3, 3, rows, d), w = rand(1201 + d, 0.5f, 1.5f, d), gy = rand(1202 + d, -1, 1, rows, d);
            Tensor wy = cpuEmpty(x), wr = Tensor.persistent(DType.F32, rows), gyy = gpuEmpty(x), gr = gpu.empty(DType.F32, rows);
            cpu.rmsNorm(x, w, 1e-6f, wy, wr);
            Tensor dx = up(x), dw = up(w);
            gpu.rmsNorm(dx, dw, 1e-6f, gyy, gr);
            Tensor wgx = cpuEmpty(x), wgw = cpuEmpty(w), ggx = gpuEmpty(x), ggw = gpuEmpty(w);
            cpu.rmsNormBackward(x, w, wr, gy, wgx, wgw);
            gpu.rmsNormBackward(dx, dw, gr, up(gy), ggx, ggw);
            err = max(err, rel(gyy, wy), rel(gr, wr), rel(ggx, wgx), rel(ggw, wgw));
        }
        return err;
    }

    double groupNorm() {
        int n = 3, c = 64, h = 9, w = 7, groups = 32;
        Tensor x = rand(1300, -3, 3, n, c, h, w), wt = rand(1301, 0.5f, 1.5f, c), b = rand(1302, -1, 1, c);
        Tensor gy = rand(1303, -1, 1, n, c, h, w);
        Tensor wy = cpuEmpty(x), wm = Tensor.persistent(DType.F32, n, groups), wr = Tensor.persistent(DType.F32, n, groups);
        Tensor gyy = gpuEmpty(x), gm = gpu.empty(DType.F32, n, groups), gr = gpu.empty(DType.F32, n, groups);
        cpu.groupNorm(x, groups, wt, b, 1e-5f, wy, wm, wr);
        Tensor dx = up(x), dw = up(wt);
        gpu.groupNorm(dx, groups, dw, up(b), 1e-5f, gyy, gm, gr);
        Tensor wgx = cpuEmpty(x), wgw = cpuEmpty(wt), wgb = cpuEmpty(b), ggx = gpuEmpty(x), ggw = gpuEmpty(wt), ggb = gpuEmpty(b);
        cpu.groupNormBackward(x, groups, wt, wm, wr, gy, wgx, wgw, wgb);
        gpu.groupNormBackward(dx, groups, dw, gm, gr, up(gy), ggx, ggw, ggb);
        return max(rel(gyy, wy), rel(gm, wm), rel(gr, wr), rel(ggx, wgx), rel(ggw, wgw), rel(ggb, wgb));
    }

    double indexing() {
        Tensor table = rand(1400, -1, 1, 50, 33), idx = randInts(1401, 50, 40), g = rand(1402, -1, 1, 40, 33);
        Tensor wo = Tensor.persistent(DType.F32, 40, 33), go = gpu.empty(DType.F32, 40, 33);
        cpu.embedding(table, idx, wo);
        gpu.embedding(up(table), up(idx), go);
        Tensor wt = rand(1403, -1, 1, 50, 33), gt = up(wt); // accumulates into existing values
        cpu.embeddingBackward(g, idx, wt);
        gpu.embeddingBackward(up(g), up(idx), gt);
        double chunked = 0; // several index chunks, narrow (d <= 32) and wide rows, most indices on one row
        for (int d : new int[]{8, 40}) {
            int n = 5000, v = 300;
            int[] ids = new int[n];
            SplittableRandom r = new SplittableRandom(1407 + d);
            for (int i = 0; i < n; i++) ids[i] = r.nextInt(4) == 0 ? r.nextInt(v) : 3;
            Tensor ci = Tensor.ofInts(ids, n), cg = rand(1408 + d, -1, 1, n, d), cw = rand(1409 + d, -1, 1, v, d), cgt = up(cw);
            cpu.embeddingBackward(cg, ci, cw);
            gpu.embeddingBackward(up(cg), up(ci), cgt);
            chunked = max(chunked, rel(cgt, cw));
        }
        Tensor x = rand(1404, -1, 1, 3, 7, 5), gi = randInts(1405, 7, 3, 4, 5), gg = rand(1406, -1, 1, 3, 4, 5);
        Tensor wgo = Tensor.persistent(DType.F32, 3, 4, 5), ggo = gpu.empty(DType.F32, 3, 4, 5);
        cpu.gather(x, 1, gi, wgo);
        gpu.gather(up(x), 1, up(gi), ggo);
        Tensor wsx = Tensor.persistent(DType.F32, 3, 7, 5), gsx = gpu.persistent(DType.F32, 3, 7, 5);
        cpu.scatterAdd(gg, 1, gi, wsx);
        gpu.scatterAdd(up(gg), 1, up(gi), gsx);
        return max(rel(go, wo), rel(gt, wt), chunked, rel(ggo, wgo), rel(gsx, wsx));
    }

    private final Map<GemmPrecision, double[]> convErrors = new EnumMap<>(GemmPrecision.class);

    /**
     * The errors of conv2d, its input gradient and its weight (and bias) gradient against the CPU at matmul precision
     * {@code p}, worst over small odd shapes and shapes with several tiles in M (over 64 channels), N (over 128
     * pixels) and K, whose weight gradient splits K; elementwise for FP32, normwise (as the GEMMs) for TF32. Computed
     * once per precision.
     */
    double[] convolutions(GemmPrecision p) {
        return convErrors.computeIfAbsent(p, q -> {
            GemmPrecision before = gpu.matmulPrecision();
            gpu.setMatmulPrecision(q);
            try {
                return convolutionCases(q == GemmPrecision.FP32);
            } finally {
                gpu.setMatmulPrecision(before);
            }
        });
    }

    private double[] convolutionCases(boolean elementwise) {
        int[][] cases = { // n, c, h, w, o, k, stride, pad, bias
                {2, 5, 9, 7, 6, 3, 1, 1, 1}, {3, 4, 8, 8, 5, 3, 2, 1, 0}, {2, 7, 5, 6, 3, 1, 1, 0, 1}, {2, 3, 8, 6, 4, 2, 2, 0, 1},
                {3, 20, 13, 11, 70, 3, 1, 1, 1}, {2, 70, 12, 10, 9, 3, 2, 1, 0}, {2, 6, 12, 12, 131, 4, 2, 1, 1},
                {5, 1, 17, 15, 3, 3, 1, 1, 1},
                // channels-last kernels (channel counts of 16s and 4s): tails in M and N, stride 2, 4x4 and 2x2 taps,
                // a padding wider than the kernel (input gradient padded by -1), M tiles of 128, a weight gradient
                // from gy as it is with 20 rows, and one whose K ranges run several pipeline stages; the last two (a
                // tenth value of 1) forward and input gradient only: their 32768-65536 pixels get the wide tiles, but
                // would make the float32 sums of the weight gradient (on either side) differ by more than the
                // elementwise tolerance
                {2, 32, 9, 10, 48, 3, 1, 1, 1}, {3, 16, 8, 8, 80, 3, 2, 1, 0}, {2, 64, 12, 12, 128, 3, 1, 1, 1},
                {2, 16, 6, 7, 16, 4, 2, 1, 1}, {2, 16, 8, 6, 32, 2, 2, 0, 1}, {2, 16, 5, 5, 16, 1, 1, 1, 1},
                {2, 128, 6, 6, 64, 3, 1, 1, 0}, {2, 16, 8, 8, 20, 3, 1, 1, 1}, {1, 128, 32, 32, 256, 3, 1, 1, 1},
                {64, 16, 32, 32, 16, 3, 1, 1, 1, 1}, {32, 16, 32, 32, 128, 3, 1, 1, 0, 1}};
        double[] err = new double[3];
        long seed = 1700;
        BiFunction<Tensor, Tensor, Double> e =
                elementwise ? CudaChecks::rel : (got, want) -> normError(got.toFloatArray(), want.toFloatArray());
        for (int[] cs : cases) {
            int n = cs[0], ch = cs[1], h = cs[2], w = cs[3], o = cs[4], k = cs[5], st = cs[6], pad = cs[7];
            int ho = (h + 2 * pad - k) / st + 1, wo = (w + 2 * pad - k) / st + 1;
            Tensor x = rand(seed++, -1, 1, n, ch, h, w), wt = rand(seed++, -1, 1, o, ch, k, k);
            Tensor bias = cs[8] == 1 ? rand(seed++, -1, 1, o) : null, gy = rand(seed++, -1, 1, n, o, ho, wo);
            Tensor wy = Tensor.persistent(DType.F32, n, o, ho, wo), gyy = gpu.empty(DType.F32, n, o, ho, wo);
            cpu.conv2d(x, wt, bias, st, pad, wy);
            Tensor dx = up(x), dw = up(wt), dgy = up(gy);
            gpu.conv2d(dx, dw, bias == null ? null : up(bias), st, pad, gyy);
            Tensor wgx = cpuEmpty(x), ggx = gpuEmpty(x);
            cpu.conv2dBackwardInput(gy, wt, st, pad, wgx);
            gpu.conv2dBackwardInput(dgy, dw, st, pad, ggx);
            err[0] = max(err[0], e.apply(gyy, wy));
            err[1] = max(err[1], e.apply(ggx, wgx));
            if (cs.length > 9 && cs[9] == 1) continue;
            Tensor wgw = cpuEmpty(wt), ggw = gpuEmpty(wt);
            Tensor wgb = bias == null ? null : cpuEmpty(bias), ggb = bias == null ? null : gpuEmpty(bias);
            cpu.conv2dBackwardWeight(gy, x, st, pad, wgw, wgb);
            gpu.conv2dBackwardWeight(dgy, dx, st, pad, ggw, ggb);
            err[2] = max(err[2], e.apply(ggw, wgw), bias == null ? 0 : e.apply(ggb, wgb));
        }
        return err;
    }

    double resampling() {
        Tensor x = rand(1800, -1, 1, 2, 3, 5, 4), gy = rand(1801, -1, 1, 2, 3, 10, 8);
        Tensor wy = Tensor.persistent(DType.F32, 2, 3, 10, 8), gyy = gpu.empty(DType.F32, 2, 3, 10, 8);
        cpu.upsampleNearest(x, 2, wy);
        gpu.upsampleNearest(up(x), 2, gyy);
        Tensor wgx = cpuEmpty(x), ggx = gpuEmpty(x);
        cpu.upsampleNearestBackward(gy, 2, wgx);
        gpu.upsampleNearestBackward(up(gy), 2, ggx);
        double err = max(rel(gyy, wy), rel(ggx, wgx));
        int[][] pools = {{2, 3, 8, 6, 2, 2}, {1, 2, 9, 7, 3, 2}}; // n, c, h, w, kernel, stride (the second overlaps)
        long seed = 1810;
        for (int[] pc : pools) {
            int ho = (pc[2] - pc[4]) / pc[5] + 1, wo = (pc[3] - pc[4]) / pc[5] + 1;
            Tensor px = rand(seed++, -1, 1, pc[0], pc[1], pc[2], pc[3]), pg = rand(seed++, -1, 1, pc[0], pc[1], ho, wo);
            Tensor wp = Tensor.persistent(DType.F32, pc[0], pc[1], ho, wo), gp = gpu.empty(DType.F32, pc[0], pc[1], ho, wo);
            cpu.avgPool2d(px, pc[4], pc[5], wp);
            gpu.avgPool2d(up(px), pc[4], pc[5], gp);
            Tensor wb = cpuEmpty(px), gb = gpuEmpty(px);
            cpu.avgPool2dBackward(pg, pc[4], pc[5], wb);
            gpu.avgPool2dBackward(up(pg), pc[4], pc[5], gb);
            err = max(err, rel(gp, wp), rel(gb, wb));
        }
        return err;
    }

    double attentions() {
        int[][] cases = {{2, 3, 17, 17, 32, 32, 1}, {1, 2, 5, 21, 64, 48, 1}, {2, 2, 9, 13, 16, 40, 0}, {1, 1, 3, 4, 96, 96, 1}};
        double err = 0;
        long seed = 1900;
        for (int[] cs : cases) {
            int b = cs[0], h = cs[1], t = cs[2], sk = cs[3], d = cs[4], dv = cs[5];
            boolean causal = cs[6] == 1;
            float scale = (float) (1 / Math.sqrt(d));
            Tensor q = rand(seed++, -1, 1, b, h, t, d), k = rand(seed++, -1, 1, b, h, sk, d), v = rand(seed++, -1, 1, b, h, sk, dv);
            Tensor go = rand(seed++, -1, 1, b, h, t, dv);
            Tensor wo = Tensor.persistent(DType.F32, b, h, t, dv), wl = Tensor.persistent(DType.F32, b, h, t);
            Tensor gout = gpu.empty(DType.F32, b, h, t, dv), gl = gpu.empty(DType.F32, b, h, t);
            cpu.attention(q, k, v, causal, scale, wo, wl);
            Tensor dq = up(q), dk = up(k), dvv = up(v);
            gpu.attention(dq, dk, dvv, causal, scale, gout, gl);
            Tensor wgq = cpuEmpty(q), wgk = cpuEmpty(k), wgv = cpuEmpty(v), ggq = gpuEmpty(q), ggk = gpuEmpty(k), ggv = gpuEmpty(v);
            cpu.attentionBackward(q, k, v, wo, wl, go, causal, scale, wgq, wgk, wgv);
            gpu.attentionBackward(dq, dk, dvv, gout, gl, up(go), causal, scale, ggq, ggk, ggv);
            err = max(err, rel(gout, wo), rel(gl, wl), rel(ggq, wgq), rel(ggk, wgk), rel(ggv, wgv));
        }
        return err;
    }

    double rope() {
        int n = 2, t = 7, h = 3, d = 16;
        Tensor x = rand(2000, -1, 1, n, t, h, d);
        Tensor table = rand(2001, -1, 1, t, d), cos = table.slice(1, 0, d / 2), sin = table.slice(1, d / 2, d);
        double err = 0;
        for (boolean inverse : new boolean[]{false, true}) {
            Tensor want = cpuEmpty(x), got = gpuEmpty(x);
            cpu.rope(x, cos, sin, inverse, want);
            Tensor dt = up(table);
            gpu.rope(up(x), dt.slice(1, 0, d / 2), dt.slice(1, d / 2, d), inverse, got);
            err = max(err, rel(got, want));
        }
        return err;
    }

    double randomness() {
        Tensor wu = Tensor.persistent(DType.F32, 1001), gu = gpu.empty(DType.F32, 1001);
        cpu.randomUniform(wu, 42, 1L << 33);
        gpu.randomUniform(gu, 42, 1L << 33);
        Tensor wn = Tensor.persistent(DType.F32, 1001), gn = gpu.empty(DType.F32, 1001);
        cpu.randomNormal(wn, 7, 5, 0.5f, 2f);
        gpu.randomNormal(gn, 7, 5, 0.5f, 2f);
        return max(exact(Arrays.equals(gu.toFloatArray(), wu.toFloatArray())), rel(gn, wn));
    }

    double adamw() {
        int n = 10_007;
        Tensor p = rand(1500, -1, 1, n), g = rand(1501, -1, 1, n), m = rand(1502, -0.1f, 0.1f, n), v = rand(1503, 0, 0.01f, n);
        Tensor dp = up(p), dg = up(g), dm = up(m), dv = up(v);
        for (int step = 1; step <= 3; step++) {
            float c1 = 1 - (float) Math.pow(0.9, step), c2 = 1 - (float) Math.pow(0.999, step);
            cpu.adamw(p, g, m, v, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, c1, c2);
            gpu.adamw(dp, dg, dm, dv, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, c1, c2);
        }
        return max(rel(dp, p), rel(dm, m), rel(dv, v));
    }

    /**
     * The many-tensor forms, {@code scale(list)} then {@code adamw(list)} with a weight decay per tensor, on tensors of
     * several sizes (one past the GPU's 16,384-element chunks, one of a single element), against the CPU's.
     */
    double adamwMany() {
        int[] sizes = {10_007, 1, 40_000, 300};
        List<Tensor> p = new ArrayList<>(), g = new ArrayList<>(), m = new ArrayList<>(), v = new ArrayList<>();
        List<Tensor> dp = new ArrayList<>(), dg = new ArrayList<>(), dm = new ArrayList<>(), dv = new ArrayList<>();
        for (int i = 0; i < sizes.length; i++) {
            int n = sizes[i], seed = 1600 + 4 * i;
            p.add(rand(seed, -1, 1, n)); g.add(rand(seed + 1, -1, 1, n));
            m.add(rand(seed + 2, -0.1f, 0.1f, n)); v.add(rand(seed + 3, 0, 0.01f, n));
            dp.add(up(p.get(i))); dg.add(up(g.get(i))); dm.add(up(m.get(i))); dv.add(up(v.get(i)));
        }
        float[] decay = {0.01f, 0f, 0.1f, 0.01f};
        cpu.scale(g, 0.5f);
        gpu.scale(dg, 0.5f);
        for (int step = 1; step <= 3; step++) {
            float c1 = 1 - (float) Math.pow(0.9, step), c2 = 1 - (float) Math.pow(0.999, step);
            cpu.adamw(p, g, m, v, 1e-3f, 0.9f, 0.999f, 1e-8f, decay, c1, c2);
            gpu.adamw(dp, dg, dm, dv, 1e-3f, 0.9f, 0.999f, 1e-8f, decay, c1, c2);
        }
        double err = 0;
        for (int i = 0; i < sizes.length; i++)
            err = max(err, max(rel(dg.get(i), g.get(i)), max(rel(dp.get(i), p.get(i)), max(rel(dm.get(i), m.get(i)), rel(dv.get(i), v.get(i))))));
        return err;
    }

    /**
     * A two-layer MLP classifier trained for a few steps with only backend primitives, each step in a workspace, on
     * the CPU and on the GPU from the same start: the losses must agree, and the GPU's pool must not grow after the
     * first step (the step's temporaries are recycled).
     */
    double trainingSteps() {
        int n = 256, din = 64, hid = 128, classes = 10, steps = 5;
        Tensor x = rand(2100, -1, 1, 1, n, din), targets = randInts(2101, classes, n);
        Tensor[] init = {rand(2102, -0.2f, 0.2f, 1, din, hid), rand(2103, -0.1f, 0.1f, hid),
                rand(2104, -0.2f, 0.2f, 1, hid, classes), rand(2105, -0.1f, 0.1f, classes)};
        double[] want = train(cpu, init, x, targets, steps, null);
        double[] got = train(gpu, init, x, targets, steps, gpu.context().pool());
        double err = 0;
        for (int i = 0; i < steps; i++) err = max(err, Math.abs(got[i] - want[i]) / Math.abs(want[i]));
        if (want[steps - 1] >= want[0]) throw new IllegalStateException("the loss did not fall: " + Arrays.toString(want));
        return err;
    }

    private static double[] train(Backend be, Tensor[] init, Tensor hostX, Tensor hostT, int steps, DevicePool pool) {
        Tensor[] p = new Tensor[init.length], m = new Tensor[init.length], v = new Tensor[init.length];
        for (int i = 0; i < init.length; i++) {
            p[i] = be.persistent(DType.F32, init[i].shape());
            be.copy(init[i], p[i]);
            m[i] = be.persistent(DType.F32, init[i].shape());
            v[i] = be.persistent(DType.F32, init[i].shape());
        }
        Tensor x = be.persistent(DType.F32, hostX.shape()), t = be.persistent(DType.I32, hostT.shape());
        be.copy(hostX, x);
        be.copy(hostT, t);
        int n = hostX.shape(1), din = hostX.shape(2), hid = init[0].shape(2), classes = init[2].shape(2);
        double[] losses = new double[steps];
        long inUseAfterFirst = -1;
        Workspace ws = new Workspace();
        for (int s = 0; s < steps; s++) {
            try (Workspace w = ws.open()) {
                Tensor h = be.empty(DType.F32, 1, n, hid), a = be.empty(DType.F32, 1, n, hid);
                be.matmul(x, false, p[0], false, h, 1f, 0f);
                be.binary(BinaryOp.ADD, h, p[1].reshape(1, 1, hid).expand(1, n, hid), h);
                be.unary(UnaryOp.SILU, h, a);
                Tensor logits = be.empty(DType.F32, 1, n, classes);
                be.matmul(a, false, p[2], false, logits, 1f, 0f);
                be.binary(BinaryOp.ADD, logits, p[3].reshape(1, 1, classes).expand(1, n, classes), logits);
                Tensor perRow = be.empty(DType.F32, n), dlogits = be.empty(DType.F32, n, classes);
                int count = be.crossEntropy(logits.reshape(n, classes), t, -100, perRow, dlogits);
                Tensor total = be.empty(DType.F32, 1);
                be.reduce(ReduceOp.SUM, perRow, total);
                losses[s] = total.item() / count;
                be.affine(dlogits, 1f / count, 0f, dlogits);
                Tensor[] g = {be.empty(DType.F32, 1, din, hid), be.empty(DType.F32, hid),
                        be.empty(DType.F32, 1, hid, classes), be.empty(DType.F32, classes)};
                Tensor dl = dlogits.reshape(1, n, classes);
                be.matmul(a, true, dl, false, g[2], 1f, 0f);
                be.reduce(ReduceOp.SUM, dl, g[3].reshape(1, 1, classes));
                Tensor da = be.empty(DType.F32, 1, n, hid), dh = be.empty(DType.F32, 1, n, hid);
                be.matmul(dl, false, p[2], true, da, 1f, 0f);
                be.unaryBackward(UnaryOp.SILU, h, a, da, dh);
                be.matmul(x, true, dh, false, g[0], 1f, 0f);
                be.reduce(ReduceOp.SUM, dh, g[1].reshape(1, 1, hid));
                float c1 = 1 - (float) Math.pow(0.9, s + 1), c2 = 1 - (float) Math.pow(0.999, s + 1);
                for (int i = 0; i < p.length; i++) be.adamw(p[i], g[i], m[i], v[i], 1e-2f, 0.9f, 0.999f, 1e-8f, 0.01f, c1, c2);
            }
            if (pool != null) {
                if (s == 0) inUseAfterFirst = pool.stats().bytesInUse();
                else if (pool.stats().bytesInUse() > inUseAfterFirst) // cleaners may only lower it
                    throw new IllegalStateException("device memory in use grew from " + inUseAfterFirst + " to "
                            + pool.stats().bytesInUse() + " bytes at step " + s);
            }
        }
        return losses;
    }

    // ---- bindings ------------------------------------------------------------------------------------------------

    /** An invalid device ordinal must come back as an exception naming the call, the error name and its text. */
    double driverErrorText() {
        try {
            Driver.get().device(9999);
            return fail("cuDeviceGet(9999) did not throw");
        } catch (CudaException e) {
            String m = e.getMessage();
            boolean ok = m.contains("cuDeviceGet") && m.contains("CUDA_ERROR_INVALID_DEVICE") && m.contains("(101)")
                    && m.toLowerCase().contains("invalid device ordinal");
            return ok ? 0 : fail("unexpected message: " + m);
        }
    }

    double cublasErrorText() {
        Cublas cublas = Cublas.get();
        gpu.context().bind();
        java.lang.foreign.MemorySegment h = cublas.createHandle();
        try (java.lang.foreign.Arena a = java.lang.foreign.Arena.ofConfined()) {
            var one = a.allocate(java.lang.foreign.ValueLayout.JAVA_FLOAT);
            one.set(java.lang.foreign.ValueLayout.JAVA_FLOAT, 0, 1f);
            cublas.sgemm(h, Cublas.OP_N, Cublas.OP_N, 64, 64, 64, one, 0L, 1 /* lda < m */, 0L, 64, one, 0L, 64);
            return fail("sgemm with lda < m did not throw");
        } catch (CudaException e) {
            String m = e.getMessage();
            boolean ok = m.contains("cublasSgemm_v2") && m.contains("CUBLAS_STATUS_INVALID_VALUE") && m.contains("(7)");
            return ok ? 0 : fail("unexpected message: " + m);
        } finally {
            cublas.destroyHandle(h);
        }
    }

    double nvrtcLog() {
        String src = "extern \"C\" __global__ void broken(float* x) {\n  x[0] = not_declared_anywhere;\n}\n";
        try {
            Nvrtc.get().compile("broken.cu", src, gpu.kernelTarget(), KernelCompiler.OPTIONS);
            return fail("a broken kernel compiled");
        } catch (KernelCompileException e) {
            String m = e.getMessage();
            boolean ok = m.contains("NVRTC_ERROR_COMPILATION") && m.contains("broken.cu") && m.contains("not_declared_anywhere")
                    && m.contains("undefined");
            return ok ? 0 : fail("unexpected message: " + m);
        }
    }

    double diskCache() {
        try {
            Path dir = Files.createTempDirectory("tessella-cuda-cache");
            KernelCompiler compiler = new KernelCompiler(Nvrtc.get(), new KernelCache(dir));
            String src = "extern \"C\" __global__ void twice(float* x, int n) {\n"
                    + "  int i = blockIdx.x * blockDim.x + threadIdx.x; if (i < n) x[i] *= 2.f;\n}\n";
            KernelCompiler.Image first = compiler.compile("twice.cu", src, gpu.kernelTarget(), KernelCompiler.OPTIONS);
            KernelCompiler.Image second = compiler.compile("twice.cu", src, gpu.kernelTarget(), KernelCompiler.OPTIONS);
            boolean ok = !first.fromCache() && second.fromCache() && compiler.compilations() == 1
                    && Arrays.equals(first.bytes(), second.bytes())
                    && Files.exists(dir.resolve(first.key() + (first.cubin() ? ".cubin" : ".ptx")));
            gpu.context().bind();
            Driver.get().function(Driver.get().loadModule(second.bytes()), "twice"); // the cached image loads
            return ok ? 0 : fail("first fromCache=" + first.fromCache() + ", second fromCache=" + second.fromCache()
                    + ", compilations=" + compiler.compilations());
        } catch (java.io.IOException e) {
            return fail("temp dir: " + e);
        }
    }

    /**
     * Many workspace steps of varied allocations: after the first, no block comes from the driver any more and the
     * bytes in use never exceed what they were before the steps (cleaners of earlier checks' garbage may only lower
     * them meanwhile, so the check is "never above", which a leak would break at once).
     */
    double poolReuse() {
        DevicePool pool = gpu.context().pool();
        Workspace ws = new Workspace();
        long inUseBefore = pool.stats().bytesInUse();
        long allocsAfterWarmup = -1, maxInUse = 0;
        for (int step = 0; step < 1000; step++) {
            try (Workspace w = ws.open()) {
                for (int j = 1; j <= 8; j++) {
                    Tensor t = gpu.empty(DType.F32, 1000 * j + 17);
                    gpu.fill(t, j);
                }
            }
            if (step == 0) allocsAfterWarmup = pool.stats().deviceAllocations();
            maxInUse = Math.max(maxInUse, pool.stats().bytesInUse());
        }
        DevicePool.Stats s = pool.stats();
        boolean ok = s.deviceAllocations() == allocsAfterWarmup && maxInUse <= inUseBefore;
        return ok ? 0 : fail("pool " + s + ", in use before " + inUseBefore + ", at most " + maxInUse + " during the steps"
                + ", device allocations after the first step " + allocsAfterWarmup);
    }

    double indexErrors() {
        Tensor table = up(rand(1600, -1, 1, 10, 4));
        Tensor idx = up(Tensor.ofInts(new int[]{1, 2, 12, 3}, 4));
        try {
            gpu.embedding(table, idx, gpu.empty(DType.F32, 4, 4));
            return fail("embedding with index 12 of 10 did not throw");
        } catch (IllegalArgumentException e) {
            if (!e.getMessage().contains("index 12 at position 2")) return fail("unexpected message: " + e.getMessage());
        }
        try {
            gpu.crossEntropy(up(rand(1601, -1, 1, 3, 5)), up(Tensor.ofInts(new int[]{0, 7, 1}, 3)), -100,
                    gpu.empty(DType.F32, 3), null);
            return fail("crossEntropy with target 7 of 5 did not throw");
        } catch (IllegalArgumentException e) {
            return e.getMessage().contains("target 7 at row 1") ? 0 : fail("unexpected message: " + e.getMessage());
        }
    }

    /** A binding check failed: the runner reports the exception's message. */
    private static double fail(String why) {
        throw new IllegalStateException(why);
    }
}
