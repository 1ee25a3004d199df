package org.tessella.data;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class SyntheticImagesTest {
    @Test
    void deterministicLabelledAndInRange() {
        Dataset a = SyntheticImages.shapes(60, 11), b = SyntheticImages.shapes(60, 11), c = SyntheticImages.shapes(60, 12);
        assertArrayEquals(a.images(), b.images());
        assertArrayEquals(a.labels(), b.labels());
        assertFalse(java.util.Arrays.equals(a.images(), c.images()));
        assertEquals(6, a.numClasses());
        for (int i = 0; i < 60; i++) {
            assertEquals(i % 6, a.label(i));
            int on = 0;
            for (float v : a.image(i).toFloatArray()) {
                assertTrue(v >= -1f && v <= 1f);
                if (v > -1f) on++;
            }
            assertTrue(on >= 8 && on < 600, "image " + i + " has " + on + " lit pixels");
        }
        Dataset small = SyntheticImages.shapes(9, 16, 12, 3, 1);
        assertEquals(3, small.numClasses());
        assertEquals(16 * 12, small.imageSize());
    }
}
