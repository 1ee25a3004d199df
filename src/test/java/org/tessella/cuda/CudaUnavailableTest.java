package org.tessella.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.tessella.backend.Backends;
import org.tessella.tensor.Device;

/**
 * Runs on every machine: without CUDA, asking for the CUDA backend gives one line that says what is missing (not a
 * stack of UnsatisfiedLinkErrors), and CPU work never loads the cuda package's native lookups. Both in fresh JVMs,
 * so nothing another test loaded can hide a load.
 */
class CudaUnavailableTest {

    @Test
    void missingDriverIsOneClearLine() throws Exception {
        ChildJvm.Result r = ChildJvm.run(List.of("-Dtessella.cuda.libcuda=/nonexistent/libcuda.so.1"), UnavailableProbe.class);
        String[] lines = r.stdout().strip().split("\n");
        assertEquals(0, r.exitCode(), r.stderr());
        assertEquals(2, lines.length, "expected the exception's class and one message line, got:\n" + r.stdout());
        assertEquals(CudaUnavailableException.class.getName(), lines[0]);
        assertTrue(lines[1].startsWith("no CUDA: libcuda.so.1 not found at /nonexistent/libcuda.so.1"), lines[1]);
        assertTrue(lines[1].contains("install the NVIDIA driver"), "the line should say how to fix it: " + lines[1]);
        assertFalse(r.stdout().contains("UnsatisfiedLinkError") || r.stderr().contains("UnsatisfiedLinkError"), r.stderr());
    }

    @Test
    void withoutLibcudaTheBackendFailsInOneLine() {
        boolean present;
        try {
            Driver.get();
            present = true;
        } catch (CudaUnavailableException e) {
            present = false;
        }
        assumeTrue(!present, "this machine has a CUDA driver; missingDriverIsOneClearLine covers the absent case");
        CudaUnavailableException e = assertThrows(CudaUnavailableException.class, () -> Backends.of(Device.cuda(0)));
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        assertTrue(e.getMessage().startsWith("no CUDA: "), e.getMessage());
        assertEquals(0, e.getStackTrace().length, "no stack trace to wade through");
        assertEquals(null, e.getCause());
    }

    @Test
    void cpuWorkLoadsNothingOfCuda() throws Exception {
        ChildJvm.Result r = ChildJvm.run(List.of("-Xlog:class+load=info"), CpuOnlyProbe.class);
        assertEquals(0, r.exitCode(), r.stderr());
        assertTrue(r.stdout().contains("result 7.0"), r.stdout());
        assertTrue(r.stdout().contains("provider CUDA"), "the CUDA provider is registered: " + r.stdout());
        for (String line : r.stdout().split("\n")) {
            if (!line.contains("org.tessella.cuda.") || !line.contains("class,load")) continue;
            assertTrue(line.contains("org.tessella.cuda.CudaBackendProvider ") || line.contains("org.tessella.cuda.CpuOnlyProbe "),
                    "CPU work loaded a cuda class: " + line);
        }
        assertTrue(r.stdout().contains("maps: none") || r.stdout().contains("maps: unknown"),
                "CPU work mapped a CUDA library: " + r.stdout().lines().filter(l -> l.startsWith("maps:")).findFirst().orElse(""));
    }
}
