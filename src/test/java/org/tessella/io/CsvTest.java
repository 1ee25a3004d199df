package org.tessella.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class CsvTest {
    @TempDir Path dir;

    @Test
    void writeThenRead() throws Exception {
        Path f = dir.resolve("r.csv");
        Csv.write(f, List.of("step", "loss", "note"), List.of(List.of(1, 0.5, "a,b"), java.util.Arrays.asList(2, 1e-7, null), List.of(3, 2.0f, "say \"hi\"\nbye")));
        assertTrue(Files.readString(f).startsWith("step,loss,note\n1,0.5,\"a,b\"\n2,1.0E-7,\n"), Files.readString(f));
        assertEquals(List.of(List.of("step", "loss", "note"), List.of("1", "0.5", "a,b"), List.of("2", "1.0E-7", ""),
                List.of("3", "2.0", "say \"hi\"\nbye")), Csv.read(f));
        assertThrows(IllegalArgumentException.class, () -> Csv.write(f, List.of("a"), List.of(List.of(1, 2))));
    }
}
