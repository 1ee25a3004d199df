package org.tessella.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessella.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class CheckpointTest {
    @TempDir Path dir;

    @Test
    void saveAndLoad() {
        Map<String, Tensor> t = new LinkedHashMap<>();
        t.put("encoder.conv_in.weight", Tensor.of(new float[]{1, 2, 3, 4}, 1, 1, 2, 2));
        t.put("optim.exp_avg.encoder.conv_in.weight", Tensor.of(new float[]{.1f, .2f, .3f, .4f}, 1, 1, 2, 2));
        t.put("optim.exp_avg_sq.encoder.conv_in.weight", Tensor.of(new float[4], 1, 1, 2, 2));
        Map<String, String> meta = Checkpoint.meta(Map.of("model", "vq-s", "codebook", 1024), 1500, Map.of("seed", 7, "epoch", 2, "position", 640));
        meta.put("note", "hello");
        Path f = dir.resolve("step-1500.safetensors");
        Checkpoint.save(f, t, meta);

        Checkpoint c = Checkpoint.load(f);
        assertEquals(1500, c.step());
        assertEquals("vq-s", c.config().string("model"));
        assertEquals(1024, c.config().integer("codebook"));
        assertEquals(640, c.rng().integer("position"));
        assertEquals("hello", c.metaValue("note"));
        assertEquals(Checkpoint.FORMAT, c.meta().get("format"));
        assertArrayEquals(new float[]{1, 2, 3, 4}, c.tensor("encoder.conv_in.weight").toFloatArray());
        assertEquals(List.of("encoder.conv_in.weight"), List.copyOf(c.withPrefix("optim.exp_avg.").keySet()));
        assertEquals(List.of("encoder.conv_in.weight"), List.copyOf(c.without("optim.").keySet()));
        TessellaIOException e = assertThrows(TessellaIOException.class, () -> c.tensor("decoder.w"));
        assertTrue(e.getMessage().contains(f.toString()) && e.getMessage().contains("decoder.w"), e.getMessage());
    }

    @Test
    void plainSafetensorsIsNotACheckpoint() {
        Path f = dir.resolve("plain.safetensors");
        Safetensors.write(f, Map.of("w", Tensor.scalar(1)), Map.of("format", "pt"));
        TessellaIOException e = assertThrows(TessellaIOException.class, () -> Checkpoint.load(f));
        assertTrue(e.getMessage().startsWith(f + ": not a Tessella checkpoint"), e.getMessage());
        Safetensors.write(f, Map.of("w", Tensor.scalar(1)));
        assertTrue(assertThrows(TessellaIOException.class, () -> Checkpoint.load(f)).getMessage().contains("not a Tessella checkpoint"));
    }

    @Test
    void corruptCheckpointNamesTheFile() throws IOException {
        Path f = dir.resolve("c.safetensors");
        Checkpoint.save(f, Map.of("w", Tensor.of(new float[64], 64)), Checkpoint.meta("{}", 3, null));
        byte[] b = Files.readAllBytes(f);
        Files.write(f, java.util.Arrays.copyOf(b, b.length - 100));
        TessellaIOException e = assertThrows(TessellaIOException.class, () -> Checkpoint.load(f));
        assertTrue(e.getMessage().startsWith(f.toString()), e.getMessage());
        Checkpoint.save(f, Map.of(), Map.of("step", "ten"));
        assertTrue(assertThrows(TessellaIOException.class, () -> Checkpoint.load(f)).getMessage().contains("not an integer"));
    }
}
