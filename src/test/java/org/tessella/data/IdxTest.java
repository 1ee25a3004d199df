package org.tessella.data;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessella.io.TessellaIOException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

class IdxTest {
    @TempDir Path dir;

    static Idx.Images sample() {
        byte[] px = new byte[3 * 5 * 4];
        for (int i = 0; i < px.length; i++) px[i] = (byte) (i * 37);
        return new Idx.Images(3, 5, 4, px);
    }

    @Test
    void roundTripGzipAndPlain() {
        for (boolean gz : new boolean[]{true, false}) {
            Path img = dir.resolve("img-" + gz), lab = dir.resolve("lab-" + gz);
            Idx.writeImages(img, sample(), gz);
            Idx.writeLabels(lab, new int[]{0, 9, 255}, gz);
            Idx.Images back = Idx.readImages(img);
            assertEquals(3, back.count());
            assertEquals(5, back.rows());
            assertEquals(4, back.cols());
            assertArrayEquals(sample().pixels(), back.pixels());
            assertEquals(sample().pixel(2, 4, 3), back.pixel(2, 4, 3));
            assertArrayEquals(new int[]{0, 9, 255}, Idx.readLabels(lab));
        }
    }

    private static void assertBad(Path f, boolean images, String fragment) {
        TessellaIOException e = assertThrows(TessellaIOException.class, () -> {
            if (images) Idx.readImages(f);
            else Idx.readLabels(f);
        });
        assertTrue(e.getMessage().startsWith(f.toString()), e.getMessage());
        assertTrue(e.getMessage().contains(fragment), "'" + fragment + "' in: " + e.getMessage());
    }

    @Test
    void corruptFilesAreExplained() throws IOException {
        Path img = dir.resolve("img"), lab = dir.resolve("lab.gz");
        Idx.writeImages(img, sample(), false);
        Idx.writeLabels(lab, new int[]{1, 2, 3}, true);
        assertBad(img, false, "wrong magic 0x00000803");
        assertBad(lab, true, "this is a label file");

        byte[] b = Files.readAllBytes(img);
        Path cut = dir.resolve("cut");
        Files.write(cut, java.util.Arrays.copyOf(b, b.length - 5));
        assertBad(cut, true, "truncated: the header promises 60 bytes of image data, 55 follow");
        Files.write(cut, java.util.Arrays.copyOf(b, 10));
        assertBad(cut, true, "truncated IDX header");
        Files.write(cut, java.util.Arrays.copyOf(b, b.length + 2));
        assertBad(cut, true, "2 bytes follow");
        Files.write(cut, "PK\u0003\u0004 not idx".getBytes());
        assertBad(cut, true, "not an IDX file");

        byte[] g = Files.readAllBytes(lab);
        Path cutGz = dir.resolve("cut.gz");
        Files.write(cutGz, java.util.Arrays.copyOf(g, g.length - 12));
        assertBad(cutGz, false, "gzip");
        g[12] ^= 0x5a;
        Files.write(cutGz, g);
        assertThrows(TessellaIOException.class, () -> Idx.readLabels(cutGz));
        assertBad(dir.resolve("absent"), true, "no such file");
        byte[] huge = java.util.Arrays.copyOf(b, 16);
        huge[4] = huge[8] = huge[12] = 0x7f;  // 2^31-ish cubed: more bytes than a long counts
        Files.write(cut, huge);
        assertBad(cut, true, "truncated");
    }
}
