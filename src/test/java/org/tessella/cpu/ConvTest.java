package org.tessella.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.tessella.tensor.DType;
import org.tessella.tensor.Tensor;

class ConvTest {
    private static final CpuBackend B = CpuBackend.INSTANCE;

    @AfterAll
    static void restorePool() {
        WorkerPool.configure(WorkerPool.defaultThreads());
    }

    static float[] random(SplittableRandom r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (r.nextDouble() * 2 - 1);
        return x;
    }

    /** A tensor full of NaN: outputs must be overwritten, never accumulated into. */
    static Tensor garbage(int... shape) {
        Tensor t = Tensor.empty(DType.F32, shape);
        java.util.Arrays.fill(t.floats(), t.offset(), t.offset() + t.numel(), Float.NaN);
        return t;
    }

    static void assertClose(String what, double[] ref, double[] mag, float[] got) {
        assertClose(what, ref, mag, got, 1e-5);
    }

    /** Worst error / scale seen by {@link #assertClose}, for the record. */
    static double worst;

    static void assertClose(String what, double[] ref, double[] mag, float[] got, double tol) {
        for (int i = 0; i < ref.length; i++) {
            double err = Math.abs(got[i] - ref[i]);
            worst = Math.max(worst, err / (mag[i] + 1e-30));
            if (!(err <= tol * mag[i] + 1e-30))
                fail(what + " at " + i + ": got " + got[i] + ", want " + ref[i] + " (error " + err + ", scale " + mag[i] + ")");
        }
    }

    /** One convolution problem with naive double-precision references for all three passes. */
    record Conv(int n, int c, int h, int w, int o, int k, int stride, int pad, boolean bias, long seed) {
        int ho() { return (h + 2 * pad - k) / stride + 1; }
        boolean winograd() { return Winograd.applies(c, o, k, k, stride, pad); }
        int wo() { return (w + 2 * pad - k) / stride + 1; }

        @Override public String toString() {
            return "conv n=" + n + " c=" + c + " " + h + "x" + w + " o=" + o + " k=" + k + " stride=" + stride + " pad=" + pad;
        }

        record Data(float[] x, float[] w, float[] b, float[] gy) {}

        Data data() {
            SplittableRandom r = new SplittableRandom(seed);
            return new Data(random(r, n * c * h * w), random(r, o * c * k * k), bias ? random(r, o) : null,
                    random(r, n * o * ho() * wo()));
        }

        /** Index of x[in, ic, ih, iw], or -1 off the image. */
        int xi(int in, int ic, int ih, int iw) {
            if (ih < 0 || ih >= h || iw < 0 || iw >= w) return -1;
            return ((in * c + ic) * h + ih) * w + iw;
        }

        /** Returns {y, gx, gw, gb} computed by the backend. */
        float[][] run(Data d) {
            Tensor x = Tensor.of(d.x.clone(), n, c, h, w), wt = Tensor.of(d.w.clone(), o, c, k, k);
            Tensor b = d.b == null ? null : Tensor.of(d.b.clone(), o);
            Tensor gy = Tensor.of(d.gy.clone(), n, o, ho(), wo());
            Tensor y = garbage(n, o, ho(), wo()), gx = garbage(n, c, h, w), gw = garbage(o, c, k, k);
            Tensor gb = bias ? garbage(o) : null;
            B.conv2d(x, wt, b, stride, pad, y);
            B.conv2dBackwardInput(gy, wt, stride, pad, gx);
            B.conv2dBackwardWeight(gy, x, stride, pad, gw, gb);
            return new float[][]{y.toFloatArray(), gx.toFloatArray(), gw.toFloatArray(), bias ? gb.toFloatArray() : null};
        }

        void check(Data d, float[][] got) {
            int ho = ho(), wo = wo();
            double[] y = new double[n * o * ho * wo], ym = new double[y.length];
            double[] gx = new double[n * c * h * w], gxm = new double[gx.length];
            double[] gw = new double[o * c * k * k], gwm = new double[gw.length];
            double[] gb = new double[o], gbm = new double[o];
            for (int in = 0; in < n; in++)
                for (int oc = 0; oc < o; oc++)
                    for (int oh = 0; oh < ho; oh++)
                        for (int ow = 0; ow < wo; ow++) {
                            int yi = ((in * o + oc) * ho + oh) * wo + ow;
                            double g = d.gy[yi];
                            if (bias) {
                                y[yi] += d.b[oc];
                                ym[yi] += Math.abs(d.b[oc]);
                                gb[oc] += g;
                                gbm[oc] += Math.abs(g);
                            }
                            for (int ic = 0; ic < c; ic++)
                                for (int i = 0; i < k; i++)
                                    for (int j = 0; j < k; j++) {
                                        int xi = xi(in, ic, oh * stride - pad + i, ow * stride - pad + j);
                                        if (xi < 0) continue;
                                        int wi = ((oc * c + ic) * k + i) * k + j;
                                        double p = (double) d.w[wi] * d.x[xi];
                                        y[yi] += p;
                                        ym[yi] += Math.abs(p);
                                        gx[xi] += g * d.w[wi];
                                        gxm[xi] += Math.abs(g * d.w[wi]);
                                        gw[wi] += g * d.x[xi];
                                        gwm[wi] += Math.abs(g * d.x[xi]);
                                    }
                        }
            // Winograd F(4x4, 3x3) rounds more than a direct sum (transforms scale by up to 8 and 1/24)
            double tol = winograd() ? WINOGRAD_TOLERANCE : 1e-5;
            assertClose(this + " forward", y, ym, got[0], tol);
            assertClose(this + " input gradient", gx, gxm, got[1], tol);
            assertClose(this + " weight gradient", gw, gwm, got[2], tol);
            if (bias) assertClose(this + " bias gradient", gb, gbm, got[3]);
        }
    }

    static final Conv[] CASES = {
            new Conv(2, 5, 7, 6, 3, 1, 1, 0, true, 1),     // 1x1: no im2col
            new Conv(3, 4, 9, 8, 7, 3, 1, 1, true, 2),     // 3x3 same
            new Conv(2, 3, 9, 7, 5, 3, 2, 1, false, 3),    // 3x3 stride 2 (odd sizes)
            new Conv(2, 6, 8, 8, 4, 3, 2, 1, true, 4),     // the tokenizer's downsampling shape
            new Conv(2, 3, 16, 12, 6, 4, 4, 0, true, 5),   // patchify 4x4 stride 4
            new Conv(2, 4, 6, 5, 3, 1, 2, 0, true, 6),     // 1x1 stride 2 (general path)
            new Conv(1, 2, 5, 5, 2, 3, 1, 0, true, 7),     // no padding
            new Conv(3, 1, 5, 6, 2, 5, 1, 2, true, 8),     // 5x5 pad 2, one channel
            new Conv(1, 1, 1, 1, 1, 1, 1, 0, true, 9),
            new Conv(30, 16, 32, 32, 8, 3, 1, 1, true, 10), // more than one chunk of images
            // implicit GEMM from a padded copy (output rows of whole vectors), the weight gradient by tap GEMM
            new Conv(2, 8, 16, 16, 7, 3, 1, 1, true, 11),   // 16-pixel rows
            new Conv(3, 10, 8, 8, 13, 3, 1, 1, true, 12),   // 8-pixel rows (column-shifted copy under 16-lane vectors, padded copy under 8)
            new Conv(2, 9, 32, 32, 6, 3, 2, 1, true, 13),   // stride 2 to 16x16 (phase-split padded copy)
            new Conv(2, 20, 16, 16, 11, 3, 2, 1, true, 14), // stride 2 to 8x8; channels not a multiple of a vector
            new Conv(2, 8, 20, 20, 5, 5, 1, 2, false, 15),  // 5x5 pad 2
            new Conv(1, 64, 8, 8, 8, 3, 1, 1, true, 16),    // batch 1, depth 576
            new Conv(2, 8, 16, 16, 1, 3, 1, 1, true, 17),   // one output channel (the decoder's conv_out)
            new Conv(2, 16, 16, 16, 12, 1, 1, 1, true, 18), // 1x1 with padding
            // stride 1, rows of other widths: column-shifted copy
            new Conv(2, 12, 9, 11, 5, 3, 1, 1, true, 19),   // odd sizes
            new Conv(1, 60, 7, 7, 9, 3, 1, 1, true, 22),    // depth 540, 7-pixel rows
            // B panels packed from the image (stride > 1, rows of other widths)
            new Conv(2, 8, 13, 13, 7, 3, 2, 0, true, 23),   // stride 2, no padding, odd sizes
            new Conv(3, 10, 4, 4, 9, 3, 1, 1, true, 26),    // 4-pixel rows (vq-s16's 4x4 stage), shifted copy
            new Conv(2, 6, 9, 7, 4, 3, 1, 0, true, 27),     // shifted copy without padding (rows of 5)
            new Conv(2, 136, 8, 8, 7, 3, 1, 1, true, 29),   // depth 1224: more than one K block; a last tile of one row
            // Winograd F(4x4, 3x3): channels multiples of 16, 3x3 stride 1 pad 1
            new Conv(3, 16, 9, 7, 32, 3, 1, 1, true, 31),   // partial tiles at the bottom and right edges
            new Conv(5, 64, 12, 12, 64, 3, 1, 1, true, 32), // 45 tiles: two blocks, the second partial
            new Conv(2, 16, 4, 4, 48, 3, 1, 1, false, 33),  // one tile per image; 48 outputs: a partial vector tile
            new Conv(20, 32, 8, 8, 16, 3, 1, 1, true, 34),  // weight gradient in 16 image groups of 1-2 images
            new Conv(2, 128, 8, 8, 128, 3, 1, 1, true, 35), // vq-s's widest layer at its smallest size
    };

    /** Error bound of the Winograd cases, relative to the sum of the magnitudes of each output's terms. */
    static final double WINOGRAD_TOLERANCE = 2e-5;

    @Test
    void convolutionMatchesNaiveLoops() {
        for (Conv cv : CASES) {
            Conv.Data d = cv.data();
            worst = 0;
            cv.check(d, cv.run(d));
            System.out.printf("%s: worst error / scale %.2e%n", cv, worst);
        }
    }

    /** Every path (padded copy, shifted copy, packed, strided, tap weight gradient, fallbacks), at sizes that split over tasks. */
    static final Conv[] THREAD_CASES = {CASES[0], CASES[3], CASES[4], CASES[10], CASES[11], CASES[12], CASES[13],
            CASES[15], CASES[16], CASES[18], CASES[19], CASES[20], new Conv(8, 16, 16, 16, 32, 3, 1, 1, true, 20), new Conv(4, 32, 8, 8, 16, 1, 1, 0, true, 21),
            new Conv(9, 24, 16, 16, 20, 3, 1, 1, true, 24), new Conv(6, 16, 32, 32, 16, 3, 2, 1, true, 25),
            CASES[21], CASES[22], new Conv(12, 24, 8, 8, 20, 3, 1, 1, true, 28), CASES[23],
            new Conv(24, 16, 16, 16, 1, 3, 1, 1, true, 30), // one output channel, weight gradient in 3 image groups
            CASES[24], CASES[25], CASES[26], CASES[27], CASES[28]}; // Winograd: edges, blocks, partial tiles, groups

    @Test
    void weightGradientImageGroupsComeFromTheShapeAlone() {
        assertEquals(16, ConvWeightGrad.groups(64, 1024, 64 * 64 * 9), "vq-s 32x32 layer: capped at 16 groups");
        assertEquals(8, ConvWeightGrad.groups(64, 256, 128 * 128 * 9), "vq-s 16x16 layer: 2048 pixels a group");
        assertEquals(2, ConvWeightGrad.groups(64, 64, 128 * 128 * 9), "vq-s 8x8 layer");
        assertEquals(3, ConvWeightGrad.groups(3, 4096, 9), "never more groups than images");
        assertEquals(1, ConvWeightGrad.groups(64, 1024, 512 * 512 * 9), "a wide layer keeps one set of accumulators");
        assertEquals(1, ConvWeightGrad.groups(2, 64, 9), "few pixels: one group");
    }

    @Test
    void winogradRunsByShapeAloneWithGroupsFromTheShape() {
        if (!Winograd.ENABLED) return; // -Dtessella.cpu.winograd=false: the direct kernels run instead
        assertEquals(true, Winograd.applies(64, 64, 3, 3, 1, 1), "vq-s's 3x3 layers");
        assertEquals(false, Winograd.applies(64, 1, 3, 3, 1, 1), "one output channel (conv_out)");
        assertEquals(false, Winograd.applies(1, 64, 3, 3, 1, 1), "one input channel (conv_in)");
        assertEquals(false, Winograd.applies(64, 64, 3, 3, 2, 1), "stride 2");
        assertEquals(false, Winograd.applies(24, 64, 3, 3, 1, 1), "channels not a multiple of 16");
        assertEquals(false, Winograd.applies(64, 64, 1, 1, 1, 0), "1x1");
        assertEquals(16, Winograd.groups(64, 64, 64), "vq-s 64-channel layers: 16 groups");
        assertEquals(8, Winograd.groups(64, 128, 128), "128 x 128: 14 fit in 32 MB, rounded down to a power of two");
        assertEquals(2, Winograd.groups(3, 16, 16), "never more groups than images (a power of two)");
        assertEquals(1, Winograd.groups(64, 512, 512), "a wide layer keeps one set of accumulators");
    }

    @Test
    void referenceKernelsRunTheDirectSums() {
        Conv cv = CASES[25]; // 64 channels, 12 x 12: Winograd by default
        Conv.Data d = cv.data();
        float[][] wino = cv.run(d), direct = B.withReferenceKernels(() -> cv.run(d));
        worst = 0;
        cv.check(d, direct);
        assertEquals(true, worst < 1e-6, "the reference kernels are the direct sums (worst error / scale " + worst + ")");
        if (Winograd.ENABLED)
            assertEquals(false, java.util.Arrays.equals(wino[0], direct[0]), "Winograd and direct outputs should differ in their last bits");
        assertEquals(false, Winograd.DIRECT.get()[0], "the override ends with the call");
    }

    /** SHA-256 over all outputs of THREAD_CASES' three passes. */
    static String hashOfCases() throws Exception {
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        for (Conv cv : THREAD_CASES)
            for (float[] out : cv.run(cv.data()))
                if (out != null)
                    for (float f : out) {
                        int b = Float.floatToRawIntBits(f);
                        sha.update(new byte[]{(byte) b, (byte) (b >> 8), (byte) (b >> 16), (byte) (b >> 24)});
                    }
        return HexFormat.of().formatHex(sha.digest());
    }

    /** Entry point for the child JVM of {@link #convolutionIdenticalWithAvx2Vectors}. */
    public static void main(String[] args) throws Exception {
        WorkerPool.configure(Integer.parseInt(args[0]));
        System.out.println("CONV " + hashOfCases());
    }

    @Test
    void convolutionIdenticalWithAvx2Vectors() throws Exception {
        String here = hashOfCases();
        String javaCmd = ProcessHandle.current().info().command().orElse("java");
        Process p = new ProcessBuilder(javaCmd, "-XX:UseAVX=2", otherTiles(), "--add-modules", "jdk.incubator.vector",
                "-cp", System.getProperty("java.class.path"), ConvTest.class.getName(), "1")
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) fail("child JVM failed:\n" + out);
        String child = out.lines().filter(l -> l.startsWith("CONV ")).map(l -> l.substring(5)).findFirst()
                .orElseThrow(() -> new AssertionError("child printed no hash:\n" + out));
        assertEquals(here, child, "convolution outputs differ between the default vector width and AVX2 with the other micro-kernel tiles (one thread)");
    }

    @Test
    void convolutionIdenticalForOneTwoAndThreeThreads() {
        try {
            for (Conv cv : THREAD_CASES) {
                Conv.Data d = cv.data();
                WorkerPool.configure(1);
                float[][] one = cv.run(d);
                cv.check(d, one);
                for (int threads : new int[]{2, 3}) {
                    WorkerPool.configure(threads);
                    float[][] more = cv.run(d);
                    for (int i = 0; i < 4; i++)
                        if (one[i] != null)
                            assertArrayEquals(one[i], more[i], cv + ": output " + i + " differs with " + threads + " threads");
                }
            }
        } finally {
            WorkerPool.configure(WorkerPool.defaultThreads());
        }
    }

    @Test
    void upsampleNearestAndBackward() {
        SplittableRandom r = new SplittableRandom(30);
        for (int[] s : new int[][]{{2, 3, 4, 5, 2}, {1, 1, 3, 1, 3}, {2, 2, 8, 8, 2}}) {
            int n = s[0], c = s[1], h = s[2], w = s[3], f = s[4];
            float[] x = random(r, n * c * h * w), gy = random(r, n * c * h * f * w * f);
            Tensor y = garbage(n, c, h * f, w * f), gx = garbage(n, c, h, w);
            B.upsampleNearest(Tensor.of(x, n, c, h, w), f, y);
            B.upsampleNearestBackward(Tensor.of(gy, n, c, h * f, w * f), f, gx);
            double[] gref = new double[x.length], gmag = new double[x.length];
            float[] ya = y.toFloatArray();
            for (int p = 0; p < n * c; p++)
                for (int i = 0; i < h * f; i++)
                    for (int j = 0; j < w * f; j++) {
                        int src = (p * h + i / f) * w + j / f, yi = (p * h * f + i) * w * f + j;
                        if (ya[yi] != x[src]) fail("upsample at " + yi + ": got " + ya[yi] + ", want " + x[src]);
                        gref[src] += gy[yi];
                        gmag[src] += Math.abs(gy[yi]);
                    }
            assertClose("upsample backward", gref, gmag, gx.toFloatArray());
        }
    }

    @Test
    void avgPoolAndBackward() {
        SplittableRandom r = new SplittableRandom(40);
        for (int[] s : new int[][]{{2, 3, 8, 6, 2, 2}, {1, 2, 7, 9, 3, 2}, {2, 1, 5, 5, 3, 1}, {1, 2, 9, 8, 4, 4}}) {
            int n = s[0], c = s[1], h = s[2], w = s[3], k = s[4], st = s[5];
            int ho = (h - k) / st + 1, wo = (w - k) / st + 1;
            float[] x = random(r, n * c * h * w), gy = random(r, n * c * ho * wo);
            Tensor y = garbage(n, c, ho, wo), gx = garbage(n, c, h, w);
            B.avgPool2d(Tensor.of(x, n, c, h, w), k, st, y);
            B.avgPool2dBackward(Tensor.of(gy, n, c, ho, wo), k, st, gx);
            double[] yref = new double[n * c * ho * wo], ymag = new double[yref.length];
            double[] gref = new double[x.length], gmag = new double[x.length];
            for (int p = 0; p < n * c; p++)
                for (int oh = 0; oh < ho; oh++)
                    for (int ow = 0; ow < wo; ow++) {
                        int yi = (p * ho + oh) * wo + ow;
                        for (int a = 0; a < k; a++)
                            for (int b = 0; b < k; b++) {
                                int xi = (p * h + oh * st + a) * w + ow * st + b;
                                yref[yi] += x[xi] / (double) (k * k);
                                ymag[yi] += Math.abs(x[xi] / (double) (k * k));
                                gref[xi] += gy[yi] / (double) (k * k);
                                gmag[xi] += Math.abs(gy[yi] / (double) (k * k));
                            }
                    }
            assertClose("avgPool k=" + k + " stride=" + st, yref, ymag, y.toFloatArray());
            assertClose("avgPool backward k=" + k + " stride=" + st, gref, gmag, gx.toFloatArray());
        }
    }

    /**
     * The child's tile shapes, the other ones than here: with AVX2 vectors they default to the 16-register tiles, so on
     * a parent that already has them the child takes the 32-register ones.
     */
    static String otherTiles() {
        return "-Dtessella.cpu.registers=" + (org.tessella.cpu.CpuBackend.sixteenRegisterTiles() ? "32" : "16");
    }
}
