package org.tessella.tokenizer;

import org.junit.jupiter.api.Test;
import org.tessella.autograd.Functional;
import org.tessella.autograd.Ops;
import org.tessella.autograd.Tape;
import org.tessella.nn.Init;
import org.tessella.tensor.Tensor;

import static org.junit.jupiter.api.Assertions.*;

class VectorQuantizerTest {
    static final int B = 2, N = 6, D = 8, K = 16;

    static Tensor randomLatents(long seed) {
        return Ops.randn(seed, 0, B, N, D).requiresGrad(true);
    }

    static double[] normalized(float[] a, int off, int d) {
        double s = 0;
        for (int i = 0; i < d; i++) s += (double) a[off + i] * a[off + i];
        double n = Math.max(Math.sqrt(s), 1e-12);
        double[] r = new double[d];
        for (int i = 0; i < d; i++) r[i] = a[off + i] / n;
        return r;
    }

    @Test
    void parameterNameShapeAndInit() {
        VectorQuantizer vq = new VectorQuantizer(K, D, new Init(1));
        assertEquals(java.util.List.of("embedding.weight"), java.util.List.copyOf(vq.stateDict().keySet()));
        assertArrayEquals(new int[]{K, D}, vq.weight.shape());
        for (float v : vq.weight.toFloatArray()) assertTrue(Math.abs(v) <= 1f / K);
    }

    @Test
    void indicesAreCosineNearestAndQuantizedIsTheNormalisedCode() {
        VectorQuantizer vq = new VectorQuantizer(K, D, new Init(3));
        Tensor z = randomLatents(7);
        VectorQuantizer.Output out = vq.forward(z);
        assertArrayEquals(new int[]{B, N}, out.indices().shape());
        assertArrayEquals(new int[]{B, N, D}, out.quantized().shape());
        float[] zf = z.toFloatArray(), w = vq.weight.toFloatArray(), q = out.quantized().toFloatArray(), zn = out.latents().toFloatArray();
        int[] idx = out.indices().toIntArray();
        for (int r = 0; r < B * N; r++) {
            double[] a = normalized(zf, r * D, D);
            int best = -1;
            double bestCos = Double.NEGATIVE_INFINITY;
            for (int k = 0; k < K; k++) {
                double[] e = normalized(w, k * D, D);
                double c = 0;
                for (int i = 0; i < D; i++) c += a[i] * e[i];
                if (c > bestCos) { bestCos = c; best = k; }
            }
            assertEquals(best, idx[r], "row " + r);
            double[] e = normalized(w, best * D, D);
            for (int i = 0; i < D; i++) {
                assertEquals(e[i], q[r * D + i], 1e-6, "quantized row " + r);
                assertEquals(a[i], zn[r * D + i], 1e-6, "latent row " + r);
            }
        }
        Tape.clear();
    }

    @Test
    void lookupEqualsQuantized() {
        VectorQuantizer vq = new VectorQuantizer(K, D, new Init(4));
        VectorQuantizer.Output out = vq.forward(randomLatents(8));
        assertArrayEquals(out.quantized().toFloatArray(), vq.lookup(out.indices()).toFloatArray(), 1e-7f);
        Tape.clear();
    }

    @Test
    void straightThroughGradientIsThatOfTheNormalisation() {
        VectorQuantizer vq = new VectorQuantizer(K, D, new Init(5));
        Tensor probe = Ops.randn(99, 0, B, N, D);
        Tensor z = randomLatents(9);
        Tape.backward(Ops.sum(Ops.mul(vq.forward(z).quantized(), probe)));
        Tensor z2 = Tensor.copyOf(z).requiresGrad(true);
        Tape.backward(Ops.sum(Ops.mul(Functional.l2Normalize(z2, 2, 1e-12f), probe)));
        assertArrayEquals(z2.grad().toFloatArray(), z.grad().toFloatArray(), 1e-6f);
        // the straight-through path sends nothing to the codebook
        assertTrue(vq.weight.grad() == null || maxAbs(vq.weight.grad()) == 0f);
    }

    @Test
    void codebookLossReachesOnlyTheCodebookAndCommitOnlyTheLatents() {
        VectorQuantizer vq = new VectorQuantizer(K, D, new Init(6));
        Tensor z = randomLatents(10);
        Tape.backward(vq.forward(z).codebookLoss());
        assertTrue(z.grad() == null || maxAbs(z.grad()) == 0f, "codebook loss reached z");
        assertTrue(vq.weight.grad() != null && maxAbs(vq.weight.grad()) > 0f, "codebook loss missed the codebook");

        VectorQuantizer vq2 = new VectorQuantizer(K, D, new Init(6));
        Tensor z2 = randomLatents(10);
        Tape.backward(vq2.forward(z2).commitLoss());
        assertTrue(vq2.weight.grad() == null || maxAbs(vq2.weight.grad()) == 0f, "commitment loss reached the codebook");
        assertTrue(z2.grad() != null && maxAbs(z2.grad()) > 0f, "commitment loss missed z");
    }

    @Test
    void lossesMatchTheClosedForm() {
        VectorQuantizer vq = new VectorQuantizer(K, D, new Init(11));
        VectorQuantizer.Output out = vq.forward(randomLatents(12));
        float[] q = out.quantized().toFloatArray(), zn = out.latents().toFloatArray();
        double s = 0;
        for (int i = 0; i < q.length; i++) s += (q[i] - (double) zn[i]) * (q[i] - (double) zn[i]);
        double mse = s / q.length;
        // for unit vectors ||q - zn||^2 = 2 - 2 cos
        assertEquals(mse, out.codebookLoss().item(), 1e-6);
        assertEquals(mse, out.commitLoss().item(), 1e-6);
        assertEquals(1, out.codebookLoss().numel());
        assertEquals(1, out.commitLoss().numel());
        Tape.clear();
    }

    @Test
    void usageStatistics() {
        VectorQuantizer vq = new VectorQuantizer(4, D, new Init(1));
        vq.recordUsage(Tensor.ofInts(new int[]{0, 0, 1, 1}, 2, 2), 5);
        assertEquals(0.5, vq.usedFraction(), 0);
        assertEquals(1.0, vq.entropyBits(), 1e-12);
        assertArrayEquals(new long[]{2, 2, 0, 0}, vq.usageCounts());
        vq.recordUsage(Tensor.ofInts(new int[]{2, 3, 2, 3}, 4), 6);
        assertEquals(2.0, vq.entropyBits(), 1e-12);
        assertEquals(1.0, vq.usedFraction(), 0);
        assertEquals(5, vq.lastUsedStep(0));
        assertEquals(6, vq.lastUsedStep(3));
        vq.resetUsageWindow();
        assertEquals(0.0, vq.usedFraction(), 0);
        assertEquals(0.0, vq.entropyBits(), 0);
    }

    @Test
    void restartReseedsExactlyTheDeadCodesDeterministically() {
        float[] before = null, after1 = null, after2 = null;
        Tensor recent = Functional.l2Normalize(Ops.randn(3, 0, 2, 10, D), 2, 1e-12f);
        for (int run = 0; run < 2; run++) {
            VectorQuantizer vq = new VectorQuantizer(K, D, new Init(21));
            vq.setDeadAfterSteps(10);
            before = vq.weight.toFloatArray();
            // codes 0..7 used at step 95, codes 8..11 at step 85, codes 12..15 never
            vq.recordUsage(Tensor.ofInts(new int[]{8, 9, 10, 11}, 4), 85);
            vq.recordUsage(Tensor.ofInts(new int[]{0, 1, 2, 3, 4, 5, 6, 7}, 8), 95);
            assertArrayEquals(new int[]{8, 9, 10, 11, 12, 13, 14, 15}, vq.deadCodes(100));
            int n = vq.restartDeadCodes(recent, 42, 100);
            assertEquals(8, n);
            float[] w = vq.weight.toFloatArray();
            if (run == 0) after1 = w; else after2 = w;
            for (int k = 0; k < K; k++) {
                boolean changed = false;
                for (int i = 0; i < D; i++) changed |= w[k * D + i] != before[k * D + i];
                assertEquals(k >= 8, changed, "code " + k);
            }
            // restarted codes point along distinct rows of the recent latents
            float[] lat = recent.toFloatArray();
            java.util.Set<Integer> rows = new java.util.HashSet<>();
            for (int k = 8; k < K; k++) {
                double[] e = normalized(w, k * D, D);
                int match = -1;
                for (int r = 0; r < 20; r++) {
                    double c = 0;
                    for (int i = 0; i < D; i++) c += e[i] * lat[r * D + i];
                    if (c > 1 - 1e-5) match = r;
                }
                assertTrue(match >= 0, "code " + k + " is not a recent latent");
                assertTrue(rows.add(match), "row " + match + " used twice");
                assertEquals(100, vq.lastUsedStep(k));
            }
            assertEquals(0, vq.deadCodes(100).length);
            assertEquals(0, vq.restartDeadCodes(recent, 42, 100));
        }
        assertArrayEquals(after1, after2);
        // another seed picks other rows
        VectorQuantizer other = new VectorQuantizer(K, D, new Init(21));
        other.setDeadAfterSteps(10);
        other.recordUsage(Tensor.ofInts(new int[]{0, 1, 2, 3, 4, 5, 6, 7}, 8), 95);
        other.restartDeadCodes(recent, 43, 100);
        assertFalse(java.util.Arrays.equals(after1, other.weight.toFloatArray()));
    }

    @Test
    void entropyLossMatchesManualComputation() {
        VectorQuantizer vq = new VectorQuantizer(K, D, new Init(30));
        Tensor zn = Functional.l2Normalize(Ops.randn(31, 0, B, N, D), 2, 1e-12f);
        float temp = 0.5f;
        float loss = vq.entropyLoss(zn, temp).item();
        float[] z = zn.toFloatArray(), w = vq.weight.toFloatArray();
        int m = B * N;
        double[] avg = new double[K];
        double sampleEnt = 0;
        for (int r = 0; r < m; r++) {
            double[] logits = new double[K];
            double mx = Double.NEGATIVE_INFINITY;
            for (int k = 0; k < K; k++) {
                double[] e = normalized(w, k * D, D);
                double d = 0;
                for (int i = 0; i < D; i++) d += (z[r * D + i] - e[i]) * (z[r * D + i] - e[i]);
                logits[k] = -d / temp;
                mx = Math.max(mx, logits[k]);
            }
            double sum = 0;
            for (int k = 0; k < K; k++) sum += Math.exp(logits[k] - mx);
            for (int k = 0; k < K; k++) {
                double p = Math.exp(logits[k] - mx) / sum;
                avg[k] += p / m;
                sampleEnt -= p * (logits[k] - mx - Math.log(sum)) / m;
            }
        }
        double avgEnt = 0;
        for (int k = 0; k < K; k++) avgEnt -= avg[k] * Math.log(avg[k] + 1e-5);
        assertEquals(sampleEnt - avgEnt, loss, 2e-4);
        Tape.clear();
    }

    static float maxAbs(Tensor t) {
        float m = 0;
        for (float v : t.toFloatArray()) m = Math.max(m, Math.abs(v));
        return m;
    }
}
