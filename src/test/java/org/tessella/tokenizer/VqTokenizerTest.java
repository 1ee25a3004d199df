package org.tessella.tokenizer;

import org.junit.jupiter.api.Test;
import org.tessella.autograd.Ops;
import org.tessella.autograd.Tape;
import org.tessella.nn.Init;
import org.tessella.nn.Parameter;
import org.tessella.optim.AdamW;
import org.tessella.tensor.DType;
import org.tessella.tensor.ShapeException;
import org.tessella.tensor.Tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class VqTokenizerTest {
    /** Images in [-1, 1]: a smooth pattern per image plus a little noise, so a small model can learn them. */
    static Tensor images(int b, long seed) {
        float[] noise = Ops.rand(seed, 0, b, 1, 32, 32).toFloatArray();
        float[] v = new float[b * 32 * 32];
        for (int i = 0; i < b; i++)
            for (int y = 0; y < 32; y++)
                for (int x = 0; x < 32; x++) {
                    int k = (i * 32 + y) * 32 + x;
                    double s = Math.sin(0.2 * (i + 1) * x) * Math.cos(0.15 * (i + 2) * y);
                    v[k] = (float) Math.max(-1, Math.min(1, 0.9 * s + 0.1 * (2 * noise[k] - 1)));
                }
        return Tensor.of(v, b, 1, 32, 32);
    }

    static boolean anyNonZero(Tensor t) {
        for (float v : t.toFloatArray()) if (v != 0f) return true;
        return false;
    }

    /** A narrow tokenizer for the (slower) training tests. */
    static VqConfig small(int tokens) { return new VqConfig("test", 16, tokens, 64, 8, 8, 0.25f); }

    @Test
    void shapesForBothPresets() {
        for (String name : new String[]{"vq-s", "vq-s16"}) {
            VqConfig c = VqConfig.preset(name);
            VqTokenizer t = new VqTokenizer(c, new Init(11));
            assertArrayEquals(new int[]{1024, 8}, t.stateDict().get("quantizer.embedding.weight").shape());
            assertTrue(t.stateDict().containsKey("encoder.conv_in.weight") && t.stateDict().containsKey("decoder.res1.norm1.weight"));
            Tensor x = images(2, 3);
            VqTokenizer.Output o = t.forward(x);
            int n = c.tokensPerImage();
            assertArrayEquals(new int[]{2, 1, 32, 32}, o.reconstruction().shape(), name);
            assertArrayEquals(new int[]{2, n, 8}, o.quant().quantized().shape(), name);
            assertArrayEquals(new int[]{2, n, 8}, o.quant().latents().shape(), name);
            assertEquals(DType.I32, o.quant().indices().dtype());
            assertArrayEquals(new int[]{2, n}, o.quant().indices().shape(), name);
            assertEquals(1, o.loss().numel());
            Tape.clear();
            Tensor idx = t.encodeIndices(x);
            assertEquals(0, Tape.size(), "encodeIndices must not record");
            assertArrayEquals(o.quant().indices().toIntArray(), idx.toIntArray());
            for (int k : idx.toIntArray()) assertTrue(k >= 0 && k < 1024);
            try (var ignored = Tape.noGrad()) {
                // decoding the same indices gives the same images as the forward pass, up to rounding: the forward
                // pass decodes the straight-through z + (q - z), which differs from q in the last bits, and the
                // decoder's Winograd convolutions amplify that more than direct sums do (1.2e-5 seen)
                assertArrayEquals(o.reconstruction().toFloatArray(), t.decodeIndices(idx).toFloatArray(), 1e-4f);
            }
        }
    }

    @Test
    void rasterOrderLayout() {
        Tensor grid = Ops.randn(5, 0, 2, 3, 4, 5);       // [B, D, h, w]
        Tensor seq = VqTokenizer.toSequence(grid);
        assertArrayEquals(new int[]{2, 20, 3}, seq.shape());
        for (int b = 0; b < 2; b++)
            for (int d = 0; d < 3; d++)
                for (int r = 0; r < 4; r++)
                    for (int c = 0; c < 5; c++)
                        assertEquals(grid.get(b, d, r, c), seq.get(b, r * 5 + c, d));
        assertArrayEquals(grid.toFloatArray(), VqTokenizer.toGrid(seq, 4, 5).toFloatArray());
    }

    @Test
    void gradientsReachEveryParameter() {
        VqTokenizer t = new VqTokenizer(small(64), new Init(4));
        VqTokenizer.Output o = t.forward(images(2, 1));
        Tape.backward(o.loss());
        for (Parameter p : t.parameters()) {
            assertNotNull(p.tensor().grad(), p.name() + " got no gradient");
            assertTrue(anyNonZero(p.tensor().grad()), p.name() + " has an all-zero gradient");
        }
        // the reconstruction loss alone reaches encoder and decoder (straight through), but not the codebook
        t.zeroGrad();
        Tape.backward(t.forward(images(2, 1)).reconstructionLoss());
        for (Parameter p : t.parameters()) {
            boolean codebook = p.name().startsWith("quantizer.");
            assertEquals(!codebook, p.tensor().grad() != null && anyNonZero(p.tensor().grad()), p.name());
        }
    }

    @Test
    void adamWReducesReconstructionError() {
        for (int tokens : new int[]{64, 16}) {
            VqTokenizer t = new VqTokenizer(small(tokens), new Init(7));
            AdamW opt = new AdamW(t.parameters(), 2e-3f, 0f);
            Tensor x = images(4, 2);
            float first = 0, last = 0;
            for (int step = 0; step < 12; step++) {
                VqTokenizer.Output o = t.forward(x);
                float rec = o.reconstructionLoss().item();
                if (step == 0) first = rec;
                last = rec;
                opt.zeroGrad();
                Tape.backward(o.loss());
                opt.step();
            }
            assertTrue(last < 0.7f * first, tokens + " tokens: reconstruction mse " + first + " -> " + last);
        }
    }

    @Test
    void badInputsNameExpectedAndActualShapes() {
        VqTokenizer t = new VqTokenizer(small(64), new Init(1));
        ShapeException e = assertThrows(ShapeException.class, () -> t.forward(Ops.zeros(2, 1, 28, 28)));
        assertTrue(e.getMessage().contains("[B, 1, 32, 32]") && e.getMessage().contains("[2, 1, 28, 28]"), e.getMessage());
        e = assertThrows(ShapeException.class, () -> t.forward(Ops.zeros(2, 3, 32, 32)));
        assertTrue(e.getMessage().contains("[2, 3, 32, 32]"), e.getMessage());
        e = assertThrows(ShapeException.class, () -> t.encodeIndices(Ops.zeros(32, 32)));
        assertTrue(e.getMessage().contains("[32, 32]"), e.getMessage());
        e = assertThrows(ShapeException.class, () -> t.decodeIndices(Tensor.ofInts(new int[16], 1, 16)));
        assertTrue(e.getMessage().contains("[B, 64]") && e.getMessage().contains("[1, 16]"), e.getMessage());
        assertThrows(ShapeException.class, () -> t.decodeIndices(Ops.zeros(1, 64)));
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
                () -> t.decodeIndices(Tensor.ofInts(new int[]{64}, 1, 1).reshape(1, 1)));
        assertNotNull(bad);
        int[] out = new int[64];
        out[5] = 64;
        bad = assertThrows(IllegalArgumentException.class, () -> t.decodeIndices(Tensor.ofInts(out, 1, 64)));
        assertTrue(bad.getMessage().contains("64 outside [0, 64)"), bad.getMessage());
    }
}
