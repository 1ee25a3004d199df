package org.tessella.tokenizer;

import org.junit.jupiter.api.Test;
import org.tessella.autograd.Ops;
import org.tessella.io.Json;
import org.tessella.nn.Init;
import org.tessella.tensor.ShapeException;
import org.tessella.tensor.Tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EncoderDecoderTest {
    @Test
    void presetsGiveTheDesignedGrids() {
        VqConfig s = VqConfig.preset("vq-s"), s16 = VqConfig.preset("vq-s16");
        assertEquals(8, s.gridSide());
        assertEquals(2, s.downsamples());
        assertEquals(4, s16.gridSide());
        assertEquals(3, s16.downsamples());
        assertEquals(1024, s.codebookSize());
        assertEquals(0.25f, s.commitment());
    }

    @Test
    void encoderAndDecoderShapesForBothPresets() {
        for (String name : new String[]{"vq-s", "vq-s16"}) {
            VqConfig c = VqConfig.preset(name);
            Encoder enc = new Encoder(c, new Init(1));
            Decoder dec = new Decoder(c, new Init(2));
            Tensor x = Ops.affine(Ops.rand(7, 0, 2, 1, 32, 32), 2f, -1f);
            Tensor z = enc.forward(x);
            int s = c.gridSide();
            assertArrayEquals(new int[]{2, 8, s, s}, z.shape(), name);
            assertEquals(c.tokensPerImage(), s * s);
            assertArrayEquals(new int[]{2, 1, 32, 32}, dec.forward(z).shape(), name);
        }
    }

    @Test
    void layerNamesArePyTorchStyle() {
        var enc = new Encoder(VqConfig.preset("vq-s"), new Init(1)).stateDict();
        assertTrue(enc.containsKey("conv_in.weight") && enc.containsKey("res1.norm1.weight")
                && enc.containsKey("down2.weight") && enc.containsKey("res2.skip.weight") && !enc.containsKey("res3.skip.weight")
                && enc.containsKey("norm_out.weight") && enc.containsKey("conv_out.bias"), enc.keySet().toString());
        assertArrayEquals(new int[]{8, 128, 1, 1}, enc.get("conv_out.weight").shape());
        var dec = new Decoder(VqConfig.preset("vq-s"), new Init(1)).stateDict();
        assertArrayEquals(new int[]{128, 8, 1, 1}, dec.get("conv_in.weight").shape());
        assertArrayEquals(new int[]{64, 128, 1, 1}, dec.get("res2.skip.weight").shape());
        assertArrayEquals(new int[]{1, 64, 3, 3}, dec.get("conv_out.weight").shape());
        var dec16 = new Decoder(VqConfig.preset("vq-s16"), new Init(1)).stateDict();
        assertTrue(dec16.containsKey("up3.weight") && dec16.containsKey("res3.skip.weight") && !dec16.containsKey("res2.skip.weight"));
    }

    @Test
    void badImagesNameExpectedAndActualShapes() {
        Encoder enc = new Encoder(VqConfig.preset("vq-s"), new Init(1));
        for (int[] shape : new int[][]{{2, 1, 28, 28}, {2, 3, 32, 32}, {1, 32, 32}}) {
            ShapeException e = assertThrows(ShapeException.class, () -> enc.forward(Ops.zeros(shape)));
            assertTrue(e.getMessage().contains("[B, 1, 32, 32]") && e.getMessage().contains(java.util.Arrays.toString(shape)), e.getMessage());
        }
        Decoder dec = new Decoder(VqConfig.preset("vq-s"), new Init(1));
        ShapeException e = assertThrows(ShapeException.class, () -> dec.forward(Ops.zeros(1, 8, 4, 4)));
        assertTrue(e.getMessage().contains("[B, 8, 8, 8]") && e.getMessage().contains("[1, 8, 4, 4]"), e.getMessage());
    }

    @Test
    void configJsonRoundTripAndValidation() {
        VqConfig c = VqConfig.preset("vq-s16").withCodebookSize(256);
        VqConfig back = VqConfig.fromJson(Json.parseObject(Json.write(c.toJson()), "config"));
        assertEquals(c, back);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new VqConfig("x", 64, 48, 1024, 8, 32, 0.25f));
        assertTrue(e.getMessage().contains("48"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new VqConfig("x", 48, 64, 1024, 8, 32, 0.25f));
        assertTrue(e.getMessage().contains("32 GroupNorm groups do not divide 48"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new VqConfig("x", 64, 64, 1, 8, 32, 0.25f));
        assertThrows(IllegalArgumentException.class, () -> new VqConfig("x", 64, 64, 1024, 8, 32, -1f));
        assertThrows(IllegalArgumentException.class, () -> VqConfig.preset("vq-xl"));
    }
}
