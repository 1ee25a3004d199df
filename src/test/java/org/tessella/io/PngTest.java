package org.tessella.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessella.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

class PngTest {
    @TempDir Path dir;

    @Test
    void greyAndRgbRoundTrip() {
        int w = 37, h = 23;
        byte[] grey = new byte[w * h], rgb = new byte[w * h * 3];
        for (int i = 0; i < grey.length; i++) grey[i] = (byte) ((i * 7919) ^ (i >> 3));
        for (int i = 0; i < rgb.length; i++) rgb[i] = (byte) (i % 3 == 0 ? i / 3 : i * 31 + (i / 111));
        Path g = dir.resolve("g.png"), c = dir.resolve("c.png");
        Png.writeGray(g, w, h, grey);
        Png.writeRgb(c, w, h, rgb);
        Png.Image gi = Png.read(g), ci = Png.read(c);
        assertEquals(w, gi.width());
        assertEquals(h, gi.height());
        assertEquals(1, gi.channels());
        assertArrayEquals(grey, gi.pixels());
        assertEquals(3, ci.channels());
        assertArrayEquals(rgb, ci.pixels());
    }

    @Test
    void floatImagesMapToBytes() {
        Tensor t = Tensor.of(new float[]{-1f, 0f, 1f, 2f, -5f, Float.NaN}, 1, 2, 3);
        Path f = dir.resolve("f.png");
        Png.writeGray(f, t, Png.Range.MINUS_ONE_ONE);
        assertArrayEquals(new byte[]{0, (byte) 128, (byte) 255, (byte) 255, 0, 0}, Png.read(f).pixels());
        Png.writeGray(f, new float[]{9, 0f, 0.5f, 1f}, 1, 1, 3, Png.Range.ZERO_ONE);
        assertArrayEquals(new byte[]{0, (byte) 128, (byte) 255}, Png.read(f).pixels());
    }

    @Test
    void gridPlacesImagesWithGaps() {
        int n = 5, h = 4, w = 3, rows = 2, cols = 3, gap = 2;
        float[] img = new float[n * h * w];
        for (int i = 0; i < n; i++) java.util.Arrays.fill(img, i * h * w, (i + 1) * h * w, -1f + 0.25f * i);
        Path f = dir.resolve("grid.png");
        Png.writeGrid(f, Tensor.of(img, n, 1, h, w), rows, cols, gap, Png.Range.MINUS_ONE_ONE);
        Png.Image g = Png.read(f);
        assertEquals(cols * w + (cols + 1) * gap, g.width());
        assertEquals(rows * h + (rows + 1) * gap, g.height());
        assertEquals(255, g.get(0, 0, 0));
        assertEquals(0, g.get(gap, gap, 0));                                        // image 0 is black
        assertEquals(Png.Range.MINUS_ONE_ONE.toByte(-0.75f), g.get(gap + w + gap, gap, 0)); // image 1
        assertEquals(Png.Range.MINUS_ONE_ONE.toByte(-0.25f), g.get(gap + 1, 2 * gap + h + 3, 0)); // image 3, row 1
        assertEquals(255, g.get(g.width() - 1 - gap - 1, g.height() - gap - 1, 0));  // empty cell 5 stays white
    }

    @Test
    void corruptPngIsAnError() throws IOException {
        Path f = dir.resolve("x.png");
        Png.writeGray(f, 4, 4, new byte[16]);
        byte[] b = Files.readAllBytes(f);
        b[b.length - 20] ^= 0x55;
        Files.write(f, b);
        TessellaIOException e = assertThrows(TessellaIOException.class, () -> Png.read(f));
        assertTrue(e.getMessage().startsWith(f.toString()), e.getMessage());
        Files.write(f, java.util.Arrays.copyOf(b, 30));
        assertTrue(assertThrows(TessellaIOException.class, () -> Png.read(f)).getMessage().contains("truncated"));
        Files.write(f, "hello".getBytes());
        assertTrue(assertThrows(TessellaIOException.class, () -> Png.read(f)).getMessage().contains("not a PNG"));
    }
}
