package org.tessella.diffusion;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.tessella.autograd.Ops;
import org.tessella.autograd.Tape;
import org.tessella.backend.Backends;
import org.tessella.nn.Init;
import org.tessella.nn.Parameter;
import org.tessella.tensor.ShapeException;
import org.tessella.tensor.Tensor;
import org.tessella.tensor.Workspace;

/** The adaLN-Zero DiT: shapes, zero initialisation, positions, unpatchify, and gradients against finite differences. */
class DitTest {
    static final DitConfig TINY = new DitConfig("tiny", 8, 1, 4, 8, 2, 2, 2, 3);

    static Tensor images(int b, int size, long seed) {
        return Ops.randn(seed, 0, b, 1, size, size);
    }

    @Test
    void startsAsZeroAndOnlyTheLastLayerLearnsFirst() {
        Dit m = new Dit(DitConfig.preset("dit-xs"), new Init(1));
        try (Workspace w = new Workspace().open()) {
            Tensor x = images(3, 32, 5), noise = images(3, 32, 6);
            Tensor eps = m.forward(x, new float[]{0, 500, 999}, Tensor.ofInts(new int[]{0, 9, m.nullClass()}, 3));
            assertArrayEquals(new int[]{3, 1, 32, 32}, eps.shape());
            for (float v : eps.toFloatArray()) assertEquals(0f, v, 0f);
            Tape.backward(org.tessella.autograd.Functional.mse(eps, noise));
        }
        // adaLN-Zero: with the final layer at zero nothing upstream gets a gradient, the final linear does
        for (Parameter p : m.parameters()) {
            float[] g = p.tensor().grad() == null ? new float[0] : p.tensor().grad().toFloatArray();
            double norm = 0;
            for (float v : g) norm += v * v;
            if (p.name().startsWith("final_layer.linear")) assertTrue(norm > 0, p.name() + " should learn first");
            else assertEquals(0.0, norm, 0.0, p.name());
        }
    }

    @Test
    void positionsAndTimestepFeaturesFollowDit() {
        float[] pos = Dit.sinCosPositions(8, 2); // quarter 2: [sin c w, cos c w, sin r w, cos r w], w = 1, 1/100
        assertArrayEquals(new float[]{0, 0, 1, 1, 0, 0, 1, 1}, java.util.Arrays.copyOfRange(pos, 0, 8), 0f);
        int row3 = 3 * 8; // r = 1, c = 1
        assertEquals((float) Math.sin(1), pos[row3], 1e-7f);
        assertEquals((float) Math.sin(0.01), pos[row3 + 1], 1e-7f);
        assertEquals((float) Math.cos(1), pos[row3 + 6], 1e-7f);
        float[] t = Dit.timestepFeatures(new float[]{0, 10}).toFloatArray();
        assertEquals(1f, t[0], 0f);
        assertEquals(0f, t[128], 0f);
        assertEquals((float) Math.cos(10), t[256], 1e-6f);
        assertEquals((float) Math.sin(10 * Math.exp(-Math.log(10000) / 128)), t[256 + 128 + 1], 1e-6f);
    }

    @Test
    void unpatchifyPutsEachPatchInPlace() {
        Dit m = new Dit(TINY, new Init(2));
        float[] bias = new float[16];
        for (int i = 0; i < 16; i++) bias[i] = i;
        Backends.of(m.finalLinear.bias.device()).copy(Tensor.of(bias, 16), m.finalLinear.bias);
        try (var ignored = Tape.noGrad(); Workspace w = new Workspace().open()) {
            float[] out = m.forward(images(2, 8, 3), new float[]{1, 2}, Tensor.ofInts(new int[]{0, 1}, 2)).toFloatArray();
            for (int b = 0; b < 2; b++)
                for (int y = 0; y < 8; y++)
                    for (int x = 0; x < 8; x++) assertEquals((y % 4) * 4 + x % 4, out[b * 64 + y * 8 + x], 0f, "pixel " + y + "," + x);
        }
    }

    @Test
    void gradientsMatchFiniteDifferences() {
        Dit m = new Dit(TINY, new Init(3));
        Init r = new Init(77);
        for (Parameter p : m.parameters()) // wake the zero-initialised layers so every path carries gradient
            Backends.of(p.tensor().device()).copy(r.normal(0f, 0.3f, p.tensor().shape()), p.tensor());
        Tensor x = images(2, 8, 4), weights = images(2, 8, 5);
        float[] t = {3, 700};
        Tensor y = Tensor.ofInts(new int[]{2, 3}, 2);
        java.util.function.DoubleSupplier loss = () -> {
            try (var ignored = Tape.noGrad(); Workspace w = new Workspace().open()) {
                return Ops.sum(Ops.mul(m.forward(x, t, y), weights)).item();
            }
        };
        for (Parameter p : m.parameters()) p.tensor().setGrad(null);
        try (Workspace w = new Workspace().open()) {
            Tape.backward(Ops.sum(Ops.mul(m.forward(x, t, y), weights)));
        }
        List<String> checked = List.of("x_embedder.proj.weight", "t_embedder.mlp.0.weight", "y_embedder.embedding_table.weight",
                "blocks.0.adaLN_modulation.weight", "blocks.0.attn.qkv.weight", "blocks.1.attn.proj.bias", "blocks.1.mlp.fc1.weight",
                "final_layer.adaLN_modulation.bias", "final_layer.linear.weight");
        double h = 1e-2;
        for (Parameter p : m.parameters()) {
            if (!checked.contains(p.name())) continue;
            float[] g = p.tensor().grad().toFloatArray();
            for (int k = 0; k < Math.min(4, g.length); k++) {
                int i = (int) ((k * 7919L) % g.length);
                float[] v = p.tensor().toFloatArray();
                float orig = v[i];
                v[i] = (float) (orig + h);
                Backends.of(p.tensor().device()).copy(Tensor.of(v, p.tensor().shape()), p.tensor());
                double up = loss.getAsDouble();
                v[i] = (float) (orig - h);
                Backends.of(p.tensor().device()).copy(Tensor.of(v, p.tensor().shape()), p.tensor());
                double down = loss.getAsDouble();
                v[i] = orig;
                Backends.of(p.tensor().device()).copy(Tensor.of(v, p.tensor().shape()), p.tensor());
                double fd = (up - down) / (2 * h);
                assertEquals(fd, g[i], 2e-2 * Math.max(1, Math.abs(fd)), p.name() + "[" + i + "]");
            }
        }
    }

    @Test
    void badInputsAreNamed() {
        Dit m = new Dit(TINY, new Init(1));
        ShapeException e = assertThrows(ShapeException.class, () -> m.forward(images(1, 16, 1), new float[]{1}, Tensor.ofInts(new int[]{0}, 1)));
        assertTrue(e.getMessage().contains("[B, 1, 8, 8]"), e.getMessage());
        assertThrows(ShapeException.class, () -> m.forward(images(2, 8, 1), new float[]{1}, Tensor.ofInts(new int[]{0, 1}, 2)));
        IllegalArgumentException c = assertThrows(IllegalArgumentException.class, () -> new DitConfig("bad", 32, 1, 5, 64, 1, 4, 4, 10));
        assertTrue(c.getMessage().contains("patch 5"), c.getMessage());
    }
}
