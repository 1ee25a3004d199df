package org.tessella.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * One vector shape in the whole engine. When two species (say 512- and 256-bit) run through the same generic Vector
 * API methods, their type profiles get polluted and C2 may compile a hot kernel without the intrinsics: the quickstart
 * ran its transformer 8x slower after the tokenizer's convolutions had used 8-lane vectors. Only RowReduce names a
 * fixed species, the one that matches the preferred shape up to 16 lanes.
 */
class VectorShapeTest {
    private static final Pattern FIXED = Pattern.compile("SPECIES_(64|128|256|512|MAX)\\b");

    @Test
    void onlyThePreferredSpeciesIsUsed() throws IOException {
        Path root = Path.of("src", "main", "java");
        assertTrue(Files.isDirectory(root), "run from the project root: " + root.toAbsolutePath());
        List<String> offenders;
        try (Stream<Path> files = Files.walk(root)) {
            offenders = files.filter(f -> f.toString().endsWith(".java") && !f.getFileName().toString().equals("RowReduce.java"))
                    .filter(f -> {
                        try { return FIXED.matcher(Files.readString(f)).find(); } catch (IOException e) { throw new RuntimeException(e); }
                    }).map(Path::toString).toList();
        }
        assertEquals(List.of(), offenders, "fixed vector species outside RowReduce");
    }

    @Test
    void rowReduceUsesThePreferredShapeUpToSixteenLanes() {
        if (jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.length() <= 16)
            assertEquals(jdk.incubator.vector.FloatVector.SPECIES_PREFERRED, RowReduce.species());
    }
}
