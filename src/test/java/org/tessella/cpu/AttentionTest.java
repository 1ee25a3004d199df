package org.tessella.cpu;

import static org.tessella.cpu.RowOpsTest.assertClose;
import static org.tessella.cpu.RowOpsTest.assertSameForOneAndTwoThreads;
import static org.tessella.cpu.RowOpsTest.concat;
import static org.tessella.cpu.RowOpsTest.random;
import static org.tessella.cpu.RowOpsTest.zeros;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.tessella.tensor.Tensor;

/** Fused attention and RoPE against double-precision reference loops (analytic backward). */
class AttentionTest {
    static final CpuBackend B = CpuBackend.INSTANCE;

    @AfterAll
    static void restorePool() { WorkerPool.configure(2); }

    /** Reference results for one problem: out, lse, gq, gk, gv. */
    record Ref(double[] out, double[] lse, double[] gq, double[] gk, double[] gv) {}

    static Ref reference(float[] q, float[] k, float[] v, float[] go, int bh, int t, int s, int d, int dv,
                         boolean causal, double scale) {
        double[] out = new double[bh * t * dv], lse = new double[bh * t];
        double[] gq = new double[bh * t * d], gk = new double[bh * s * d], gv = new double[bh * s * dv];
        for (int p = 0; p < bh; p++)
            for (int i = 0; i < t; i++) {
                int n = causal ? Math.min(s, i + s - t + 1) : s;
                double[] sc = new double[n], pr = new double[n], dp = new double[n];
                double m = Double.NEGATIVE_INFINITY, sum = 0;
                for (int j = 0; j < n; j++) {
                    double a = 0;
                    for (int x = 0; x < d; x++) a += (double) q[(p * t + i) * d + x] * k[(p * s + j) * d + x];
                    sc[j] = a * scale;
                    m = Math.max(m, sc[j]);
                }
                for (int j = 0; j < n; j++) sum += Math.exp(sc[j] - m);
                lse[p * t + i] = m + Math.log(sum);
                for (int j = 0; j < n; j++) pr[j] = Math.exp(sc[j] - lse[p * t + i]);
                for (int j = 0; j < n; j++)
                    for (int x = 0; x < dv; x++) out[(p * t + i) * dv + x] += pr[j] * v[(p * s + j) * dv + x];
                double delta = 0;
                for (int j = 0; j < n; j++) {
                    for (int x = 0; x < dv; x++) {
                        dp[j] += (double) go[(p * t + i) * dv + x] * v[(p * s + j) * dv + x];
                        gv[(p * s + j) * dv + x] += pr[j] * go[(p * t + i) * dv + x];
                    }
                    delta += pr[j] * dp[j];
                }
                for (int j = 0; j < n; j++) {
                    double ds = pr[j] * (dp[j] - delta) * scale;
                    for (int x = 0; x < d; x++) {
                        gq[(p * t + i) * d + x] += ds * k[(p * s + j) * d + x];
                        gk[(p * s + j) * d + x] += ds * q[(p * t + i) * d + x];
                    }
                }
            }
        return new Ref(out, lse, gq, gk, gv);
    }

    record Got(Tensor out, Tensor lse, Tensor gq, Tensor gk, Tensor gv) {
        float[] all() { return concat(out.floats(), lse.floats(), gq.floats(), gk.floats(), gv.floats()); }
    }

    static Got run(float[] q, float[] k, float[] v, float[] go, int b, int h, int t, int s, int d, int dv,
                   boolean causal, float scale) {
        Tensor qt = Tensor.of(q, b, h, t, d), kt = Tensor.of(k, b, h, s, d), vt = Tensor.of(v, b, h, s, dv);
        Tensor out = zeros(b, h, t, dv), lse = zeros(b, h, t);
        B.attention(qt, kt, vt, causal, scale, out, lse);
        Tensor gq = zeros(b, h, t, d), gk = zeros(b, h, s, d), gv = zeros(b, h, s, dv);
        java.util.Arrays.fill(gk.floats(), Float.NaN); // must be overwritten
        B.attentionBackward(qt, kt, vt, out, lse, Tensor.of(go, b, h, t, dv), causal, scale, gq, gk, gv);
        return new Got(out, lse, gq, gk, gv);
    }

    @Test
    void matchesReference() {
        int[][] cases = { // b, h, t, s, d, dv
                {2, 3, 5, 7, 17, 3}, {1, 2, 9, 9, 64, 100}, {2, 1, 4, 11, 1, 1}, {1, 1, 1, 6, 3, 17},
                {1, 2, 40, 45, 16, 16}};
        for (int[] c : cases)
            for (boolean causal : new boolean[]{false, true}) {
                int b = c[0], h = c[1], t = c[2], s = c[3], d = c[4], dv = c[5];
                float scale = (float) (1 / Math.sqrt(d));
                long seed = d * 31L + t;
                float[] q = random(seed, b * h * t * d, 2), k = random(seed + 1, b * h * s * d, 2);
                float[] v = random(seed + 2, b * h * s * dv, 1), go = random(seed + 3, b * h * t * dv, 1);
                Got got = run(q, k, v, go, b, h, t, s, d, dv, causal, scale);
                Ref ref = reference(q, k, v, go, b * h, t, s, d, dv, causal, scale);
                String tag = "attention " + java.util.Arrays.toString(c) + " causal=" + causal;
                assertClose(tag + " out", ref.out, got.out.floats(), 2e-5);
                assertClose(tag + " lse", ref.lse, got.lse.floats(), 2e-6);
                assertClose(tag + " gq", ref.gq, got.gq.floats(), 5e-5);
                assertClose(tag + " gk", ref.gk, got.gk.floats(), 5e-5);
                assertClose(tag + " gv", ref.gv, got.gv.floats(), 2e-5);
            }
    }

    @Test
    void ropeRotatesPairsAndInverts() {
        int n = 2, t = 5, h = 3;
        for (int d : new int[]{2, 6, 64}) {
            Tensor[] tables = org.tessella.autograd.Functional.ropeTables(t, d, 10000f);
            float[] c = tables[0].floats(), sn = tables[1].floats();
            float[] x = random(d, n * t * h * d, 1);
            Tensor out = zeros(n, t, h, d), back = zeros(n, t, h, d);
            B.rope(Tensor.of(x, n, t, h, d), tables[0], tables[1], false, out);
            B.rope(out, tables[0], tables[1], true, back);
            double[] want = new double[x.length], orig = new double[x.length];
            for (int r = 0; r < n * t * h; r++) {
                int tt = (r / h) % t;
                for (int i = 0; i < d / 2; i++) {
                    double cc = c[tt * d / 2 + i], ss = sn[tt * d / 2 + i];
                    double x0 = x[r * d + 2 * i], x1 = x[r * d + 2 * i + 1];
                    want[r * d + 2 * i] = x0 * cc - x1 * ss;
                    want[r * d + 2 * i + 1] = x0 * ss + x1 * cc;
                    orig[r * d + 2 * i] = x0;
                    orig[r * d + 2 * i + 1] = x1;
                }
            }
            assertClose("rope d=" + d, want, out.floats(), 1e-6);
            assertClose("rope inverse d=" + d, orig, back.floats(), 1e-6);
        }
    }

    @Test
    void deterministicAcrossThreadCounts() {
        int b = 2, h = 3, t = 70, s = 77, d = 24, dv = 20;
        float[] q = random(1, b * h * t * d, 2), k = random(2, b * h * s * d, 2);
        float[] v = random(3, b * h * s * dv, 1), go = random(4, b * h * t * dv, 1);
        for (boolean causal : new boolean[]{false, true})
            assertSameForOneAndTwoThreads("attention causal=" + causal,
                    () -> run(q, k, v, go, b, h, t, s, d, dv, causal, 0.2f).all());
        float[] x = random(5, 4 * t * h * 64, 1);
        Tensor[] tables = org.tessella.autograd.Functional.ropeTables(t, 64, 10000f);
        assertSameForOneAndTwoThreads("rope", () -> {
            Tensor out = zeros(4, t, h, 64);
            B.rope(Tensor.of(x, 4, t, h, 64), tables[0], tables[1], false, out);
            return out.floats();
        });
    }

    /**
     * qkvAttention (q, k, v read from the packed projection, RoPE as they are read) gives the bits of the composition it
     * replaces: heads-first copies, rope, attention, and on the way back attention's backward and the inverse rope,
     * for causal and not, one query block and several, on one thread and three.
     */
    @Test
    void qkvAttentionIsTheComposition() {
        int[][] shapes = {{2, 5, 3, 4}, {2, 70, 2, 32}, {1, 33, 4, 8}}; // b, t, heads, d
        for (int[] sh : shapes)
            for (boolean causal : new boolean[]{true, false})
                for (int threads : new int[]{1, 3}) {
                    WorkerPool.configure(threads);
                    int b = sh[0], t = sh[1], h = sh[2], d = sh[3], n = b * t * 3 * h * d, m = b * t * h * d;
                    String tag = "qkvAttention " + java.util.Arrays.toString(sh) + " causal=" + causal + " threads=" + threads;
                    float scale = (float) (1.0 / Math.sqrt(d));
                    Tensor qkv = Tensor.of(random(sh[1] + 40, n, 2), b, t, 3, h, d);
                    Tensor[] tables = org.tessella.autograd.Functional.ropeTables(t, d, 10000f);
                    float[] g = random(sh[1] + 41, m, 1); // gradient of the output, [B, T, H, D]
                    // the composition, on heads-first copies
                    Tensor[] part = new Tensor[3];
                    for (int w = 0; w < 3; w++) {
                        part[w] = zeros(b, 1, h, t, d);
                        B.copy(qkv.slice(2, w, w + 1).permute(0, 2, 3, 1, 4), part[w]);
                        part[w] = part[w].reshape(b * h, t, 1, d);
                    }
                    Tensor q = zeros(b * h, t, 1, d), k = zeros(b * h, t, 1, d);
                    B.rope(part[0], tables[0], tables[1], false, q);
                    B.rope(part[1], tables[0], tables[1], false, k);
                    Tensor q4 = q.reshape(b, h, t, d), k4 = k.reshape(b, h, t, d), v4 = part[2].reshape(b, h, t, d);
                    Tensor out = zeros(b, h, t, d), lse = zeros(b, h, t), gOut = zeros(b, h, t, d);
                    B.attention(q4, k4, v4, causal, scale, out, lse);
                    B.copy(Tensor.of(g, b, t, h, d).permute(0, 2, 1, 3), gOut);
                    Tensor gq = zeros(b, h, t, d), gk = zeros(b, h, t, d), gv = zeros(b, h, t, d);
                    B.attentionBackward(q4, k4, v4, out, lse, gOut, causal, scale, gq, gk, gv);
                    Tensor gq0 = zeros(b * h, t, 1, d), gk0 = zeros(b * h, t, 1, d);
                    B.rope(gq.reshape(b * h, t, 1, d), tables[0], tables[1], true, gq0);
                    B.rope(gk.reshape(b * h, t, 1, d), tables[0], tables[1], true, gk0);
                    // fused
                    Tensor fOut = zeros(b, t, h, d), fLse = zeros(b, h, t), fg = zeros(b, t, 3, h, d);
                    B.qkvAttention(qkv, tables[0], tables[1], causal, scale, fOut, fLse);
                    B.qkvAttentionBackward(qkv, tables[0], tables[1], fOut, fLse, Tensor.of(g, b, t, h, d), causal, scale, fg);
                    org.junit.jupiter.api.Assertions.assertArrayEquals(lse.floats(), fLse.floats(), tag + " lse");
                    Tensor[] grads = {gq0, gk0, gv};
                    for (int bi = 0; bi < b; bi++)
                        for (int hi = 0; hi < h; hi++)
                            for (int ti = 0; ti < t; ti++)
                                for (int x = 0; x < d; x++) {
                                    int headsFirst = ((bi * h + hi) * t + ti) * d + x;
                                    String at = tag + " at b=" + bi + " h=" + hi + " t=" + ti + " d=" + x;
                                    org.junit.jupiter.api.Assertions.assertEquals(out.floats()[headsFirst],
                                            fOut.floats()[((bi * t + ti) * h + hi) * d + x], 0f, at + " out");
                                    for (int w = 0; w < 3; w++)
                                        org.junit.jupiter.api.Assertions.assertEquals(grads[w].floats()[headsFirst],
                                                fg.floats()[(((bi * t + ti) * 3 + w) * h + hi) * d + x], 0f, at + " grad " + w);
                                }
                }
        WorkerPool.configure(2);
    }
}
