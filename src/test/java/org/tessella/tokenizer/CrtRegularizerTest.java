package org.tessella.tokenizer;

import org.junit.jupiter.api.Test;
import org.tessella.autograd.Functional;
import org.tessella.autograd.Ops;
import org.tessella.autograd.Tape;
import org.tessella.nn.Init;
import org.tessella.optim.AdamW;
import org.tessella.tensor.Tensor;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class CrtRegularizerTest {
    static final int B = 2, N = 10, D = 8;

    static Tensor latents(long seed, int b, int n) {
        return Functional.l2Normalize(Ops.randn(seed, 0, b, n, D), 2, 1e-12f);
    }

    @Test
    void namesAndShapes() {
        CrtRegularizer reg = new CrtRegularizer(D, new Init(1));
        var sd = reg.stateDict();
        assertArrayEquals(new int[]{64, D}, sd.get("in_proj.weight").shape());
        assertArrayEquals(new int[]{D, 64}, sd.get("out_proj.weight").shape());
        assertArrayEquals(new int[]{64}, sd.get("norm.weight").shape());
        for (int l = 0; l < 2; l++) {
            assertArrayEquals(new int[]{192, 64}, sd.get("layers." + l + ".feed_forward.w1.weight").shape());
            assertArrayEquals(new int[]{192, 64}, sd.get("layers." + l + ".attention.wqkv.weight").shape());
        }
        assertFalse(sd.keySet().stream().anyMatch(k -> k.contains("bias")));
        assertFalse(sd.containsKey("layers.2.attention_norm.weight"));
        Tensor x = latents(2, B, N);
        assertArrayEquals(new int[]{B, N, D}, reg.forward(x).shape());
        assertEquals(1, reg.loss(x).numel());
    }

    @Test
    void lossIsMseOfNextLatentPrediction() {
        CrtRegularizer reg = new CrtRegularizer(D, new Init(3));
        Tensor x = latents(4, B, N);
        float loss = reg.loss(x, false).item();
        float[] pred = reg.forward(x).toFloatArray(), lat = x.toFloatArray();
        double s = 0;
        for (int b = 0; b < B; b++)
            for (int i = 0; i < N - 1; i++)
                for (int c = 0; c < D; c++) {
                    double d = pred[(b * N + i) * D + c] - (double) lat[(b * N + i + 1) * D + c];
                    s += d * d;
                }
        assertEquals(s / (B * (N - 1) * D), loss, 1e-5 * Math.max(1, Math.abs(loss)));
        // causality: changing the last latent changes no prediction before it
        float[] lat2 = lat.clone();
        for (int b = 0; b < B; b++) for (int c = 0; c < D; c++) lat2[(b * N + N - 1) * D + c] += 1f;
        float[] pred2 = reg.forward(Tensor.of(lat2, B, N, D)).toFloatArray();
        for (int b = 0; b < B; b++)
            for (int i = 0; i < (N - 1) * D; i++) assertEquals(pred[b * N * D + i], pred2[b * N * D + i], 1e-6f);
        Tape.clear();
    }

    @Test
    void detachFlagStopsGradientToTheTarget() {
        CrtRegularizer reg = new CrtRegularizer(D, new Init(5));
        Tensor x1 = Tensor.copyOf(latents(6, B, N)).requiresGrad(true);
        Tape.backward(reg.loss(x1, false));
        Tensor x2 = Tensor.copyOf(x1).requiresGrad(true);
        Tape.backward(reg.loss(x2, true));
        float[] g1 = x1.grad().toFloatArray(), g2 = x2.grad().toFloatArray();
        assertFalse(java.util.Arrays.equals(g1, g2));
        // the last position is only ever a target: gradient only without detaching
        double last1 = 0, last2 = 0;
        for (int b = 0; b < B; b++)
            for (int c = 0; c < D; c++) {
                last1 += Math.abs(g1[(b * N + N - 1) * D + c]);
                last2 += Math.abs(g2[(b * N + N - 1) * D + c]);
            }
        assertTrue(last1 > 0);
        assertEquals(0.0, last2);
        // the difference is exactly the target term -2 (pred - target) / count at positions 1..N-1
        float[] pred = reg.forward(x1).toFloatArray(), lat = x1.toFloatArray();
        Tape.clear();
        int count = B * (N - 1) * D;
        for (int b = 0; b < B; b++)
            for (int i = 1; i < N; i++)
                for (int c = 0; c < D; c++) {
                    int at = (b * N + i) * D + c;
                    double expected = -2.0 * (pred[(b * N + i - 1) * D + c] - lat[at]) / count;
                    assertEquals(expected, g1[at] - g2[at], 1e-5);
                }
    }

    @Test
    void adamWLearnsAPredictablePattern() {
        // latents cycle through 3 fixed unit vectors: each one determines the next
        Tensor base = latents(8, 1, 3);
        float[] bf = base.toFloatArray();
        int n = 12;
        float[] seq = new float[2 * n * D];
        for (int b = 0; b < 2; b++)
            for (int i = 0; i < n; i++) System.arraycopy(bf, ((i + b) % 3) * D, seq, (b * n + i) * D, D);
        Tensor x = Tensor.of(seq, 2, n, D);
        CrtRegularizer reg = new CrtRegularizer(D, new Init(9));
        AdamW opt = new AdamW(reg.parameters(), 3e-3f, 0.9f, 0.95f, 1e-8f, 0f);
        float first = 0, last = 0;
        for (int step = 0; step < 40; step++) {
            Tensor loss = reg.loss(x);
            if (step == 0) first = loss.item();
            last = loss.item();
            Tape.backward(loss);
            opt.step();
            reg.zeroGrad();
        }
        assertTrue(last < 0.2f * first, "loss " + first + " -> " + last);
    }

    @Test
    void lambdaRamp() {
        assertEquals(0f, CrtRegularizer.lambdaAt(4f, 0, 1000));
        assertEquals(1f, CrtRegularizer.lambdaAt(4f, 250, 1000), 1e-6f);
        assertEquals(2f, CrtRegularizer.lambdaAt(4f, 500, 1000), 1e-6f);
        assertEquals(4f, CrtRegularizer.lambdaAt(4f, 1000, 1000));
        assertEquals(4f, CrtRegularizer.lambdaAt(4f, 5000, 1000));
        assertEquals(4f, CrtRegularizer.lambdaAt(4f, 0, 0));
        assertEquals(0f, CrtRegularizer.lambdaAt(0f, 700, 1000));
    }
}
