package org.tessella.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The on-disk kernel cache without a GPU: keys, round trips, an unwritable directory, the sources on the classpath. */
class KernelCacheTest {
    @TempDir Path dir;

    @Test
    void keyCoversSourceArchitectureOptionsAndCompiler() {
        String k = KernelCache.key("src", "sm_90", List.of("--std=c++17"), "13.0");
        assertEquals(64, k.length());
        assertEquals(k, KernelCache.key("src", "sm_90", List.of("--std=c++17"), "13.0"));
        assertNotEquals(k, KernelCache.key("src ", "sm_90", List.of("--std=c++17"), "13.0"));
        assertNotEquals(k, KernelCache.key("src", "sm_80", List.of("--std=c++17"), "13.0"));
        assertNotEquals(k, KernelCache.key("src", "sm_90", List.of("--std=c++14"), "13.0"));
        assertNotEquals(k, KernelCache.key("src", "sm_90", List.of("--std=c++17"), "12.8"));
    }

    @Test
    void storedImagesComeBack() throws Exception {
        KernelCache cache = new KernelCache(dir.resolve("nested"));
        assertNull(cache.load("abc", "cubin"));
        byte[] image = {1, 2, 3, 0, 5};
        assertTrue(cache.store("abc", "cubin", image));
        assertArrayEquals(image, cache.load("abc", "cubin"));
        assertNull(cache.load("abc", "ptx"));
        try (var files = Files.list(dir.resolve("nested"))) {
            assertEquals(List.of("abc.cubin"), files.map(p -> p.getFileName().toString()).toList(), "no temporary files left");
        }
    }

    @Test
    void anUnwritableCacheIsSkipped() throws Exception {
        Path file = Files.writeString(dir.resolve("not-a-directory"), "x");
        KernelCache cache = new KernelCache(file.resolve("sub"));
        assertFalse(cache.store("abc", "cubin", new byte[]{1}));
        assertNull(cache.load("abc", "cubin"));
    }

    @Test
    void directoryFollowsThePropertyThenTheEnvironment() {
        String old = System.getProperty("tessella.cuda.cache");
        try {
            System.setProperty("tessella.cuda.cache", dir.toString());
            assertEquals(dir, KernelCache.defaultDirectory());
            System.clearProperty("tessella.cuda.cache");
            String env = System.getenv("TESSELLA_CUDA_CACHE");
            Path expected = env != null && !env.isBlank() ? Path.of(env)
                    : Path.of(System.getProperty("user.home"), ".cache", "tessella", "cuda");
            assertEquals(expected, KernelCache.defaultDirectory());
        } finally {
            if (old != null) System.setProperty("tessella.cuda.cache", old);
        }
    }

    @Test
    void everyModuleSourceIsOnTheClasspath() {
        for (String m : List.of("elementwise", "reduce", "rows", "norms", "indexing", "random", "images", "attention")) {
            String s = Kernels.source(m);
            assertTrue(s.contains("struct Layout") && s.contains("extern \"C\" __global__"), m);
        }
    }
}
