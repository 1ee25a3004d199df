package org.tessella.data;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessella.io.TessellaIOException;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class FashionMnistTest {
    @TempDir Path dir;

    private static boolean installed() {
        return Files.isRegularFile(Path.of(FashionMnist.SYSTEM_DIR, "t10k-images-idx3-ubyte.gz"));
    }

    @Test
    void loadsTheRealTestSplit() {
        assumeTrue(installed(), "Fashion-MNIST is not installed (Debian package dataset-fashion-mnist): skipped");
        Dataset d = FashionMnist.load(Optional.empty(), FashionMnist.Split.TEST);
        assertEquals(10_000, d.size());
        assertEquals(1, d.channels());
        assertEquals(32, d.height());
        assertEquals(32, d.width());
        assertEquals(10, d.numClasses());
        assertEquals("Ankle boot", d.classNames().get(9));
        int[] perClass = new int[10];
        for (int l : d.labels()) perClass[l]++;
        for (int c : perClass) assertEquals(1000, c, "the test split is balanced");
        float min = Float.MAX_VALUE, max = -Float.MAX_VALUE;
        for (float v : d.images()) { min = Math.min(min, v); max = Math.max(max, v); }
        assertEquals(-1f, min);
        assertEquals(1f, max);
        float[] img = d.images();
        for (int i = 0; i < 50; i++)
            for (int k = 0; k < 32; k++) {
                int base = i * 1024;
                assertEquals(-1f, img[base + k]);             // top rows are padding
                assertEquals(-1f, img[base + 32 + k]);
                assertEquals(-1f, img[base + 30 * 32 + k]);   // bottom rows
                assertEquals(-1f, img[base + k * 32]);        // left column
                assertEquals(-1f, img[base + k * 32 + 31]);   // right column
            }
        assertEquals(9, d.label(0), "the first test image is an ankle boot");
        Dataset sub = d.subset(100);
        assertEquals(100, sub.size());
        assertArrayEquals(java.util.Arrays.copyOf(d.labels(), 100), sub.labels());
        assertArrayEquals(d.image(99).toFloatArray(), sub.image(99).toFloatArray());
    }

    @Test
    void loadsAPrefixOfTheTrainSplitAfterVerifyingIt() {
        assumeTrue(installed(), "Fashion-MNIST is not installed (Debian package dataset-fashion-mnist): skipped");
        Dataset d = FashionMnist.load(Optional.empty(), FashionMnist.Split.TRAIN, 500);
        assertEquals(500, d.size());
        assertEquals(500 * 1024, d.images().length);
        for (int l : d.labels()) assertTrue(l >= 0 && l < 10);
        assertEquals(9, d.label(0), "the first training image is an ankle boot");
    }

    @Test
    void explicitDirectoryWithPlainFilesIsUsed() {
        // A tiny fake set with the right names but the wrong counts: found, then refused by the verification.
        Idx.writeImages(dir.resolve("train-images-idx3-ubyte"), new Idx.Images(2, 28, 28, new byte[2 * 784]), false);
        Idx.writeLabels(dir.resolve("train-labels-idx1-ubyte"), new int[]{1, 2}, false);
        Idx.writeImages(dir.resolve("t10k-images-idx3-ubyte.gz"), new Idx.Images(2, 28, 28, new byte[2 * 784]), true);
        Idx.writeLabels(dir.resolve("t10k-labels-idx1-ubyte.gz"), new int[]{1, 2}, true);
        assertEquals(dir, FashionMnist.locate(Optional.of(dir)));
        TessellaIOException e = assertThrows(TessellaIOException.class, () -> FashionMnist.load(Optional.of(dir), FashionMnist.Split.TEST));
        assertTrue(e.getMessage().contains("holds 2 images") && e.getMessage().contains("10000"), e.getMessage());
    }

    @Test
    void missingDataSaysHowToGetIt() {
        Path none = dir.resolve("nowhere");
        TessellaIOException e = assertThrows(TessellaIOException.class, () -> FashionMnist.load(Optional.of(none), FashionMnist.Split.TRAIN));
        assertTrue(e.getMessage().contains("dataset-fashion-mnist"), e.getMessage());
        assertTrue(e.getMessage().contains("--data DIR"), e.getMessage());
        assertTrue(e.getMessage().contains(none.toString()), e.getMessage());
        assertFalse(e.getMessage().contains("\n"));
        TessellaIOException partial = assertThrows(TessellaIOException.class, () -> FashionMnist.locate(Optional.of(dir)));
        assertTrue(partial.getMessage().contains("missing train-images-idx3-ubyte"), partial.getMessage());
    }

    @Test
    void paddingAndScaling() {
        byte[] px = new byte[784];
        px[0] = (byte) 255;
        px[783] = (byte) 51;
        float[] out = FashionMnist.pad(new Idx.Images(1, 28, 28, px), 1);
        assertEquals(1024, out.length);
        assertEquals(1f, out[2 * 32 + 2]);
        assertEquals(51 / 127.5f - 1f, out[29 * 32 + 29]);
        assertEquals(-1f, out[2 * 32 + 3]);
        assertEquals(-1f, out[0]);
    }
}
