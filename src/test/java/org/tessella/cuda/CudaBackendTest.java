package org.tessella.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.tessella.tensor.DType;
import org.tessella.tensor.Tensor;
import org.tessella.tensor.Workspace;

/**
 * The CUDA backend against the CPU backend, one dynamic test per check of {@link CudaChecks} (every implemented
 * primitive on random inputs; relative error under 1e-4 in float32, 1e-2 for TF32 and BF16 GEMMs), plus the bindings'
 * error paths, the kernel disk cache and the pool. Skipped, with the reason, where no GPU is usable.
 */
class CudaBackendTest {
    static CudaBackend gpu;
    static String unavailable;

    @BeforeAll
    static void openGpu() {
        try {
            gpu = CudaBackend.of(0);
        } catch (CudaUnavailableException e) {
            unavailable = e.getMessage(); // e.g. "no CUDA: libcuda.so.1 not found (...)"
        }
    }

    /** Per test (not per class), so each skipped test carries the reason in the report. */
    @BeforeEach
    void requireGpu() { assumeTrue(unavailable == null, unavailable); }

    private static Stream<DynamicTest> asTests(java.util.List<CudaChecks.Check> checks) {
        return checks.stream().map(c -> DynamicTest.dynamicTest(c.name(), () -> {
            double err = c.error().getAsDouble();
            assertTrue(err <= c.tolerance(), c.name() + ": error " + err + " above " + c.tolerance());
        }));
    }

    @TestFactory
    Stream<DynamicTest> primitivesAgreeWithTheCpu() { return asTests(new CudaChecks(gpu).primitives()); }

    @TestFactory
    Stream<DynamicTest> bindings() { return asTests(new CudaChecks(gpu).bindings()); }

    @Test
    void stepTensorsAreReleasedWithTheWorkspace() {
        Workspace ws = new Workspace();
        Tensor t;
        try (Workspace w = ws.open()) {
            t = gpu.empty(DType.F32, 1000);
            gpu.fill(t, 1f);
            assertEquals(1f, t.get(999));
        }
        assertTrue(((DeviceStorage) t.storage()).released());
        assertThrows(IllegalStateException.class, t::checkAlive);
        assertThrows(IllegalStateException.class, t::toFloatArray);
    }

    @Test
    void persistentTensorsStartAtZeroAndRoundTrip() {
        Tensor z = gpu.persistent(DType.F32, 3, 5);
        for (float v : z.toFloatArray()) assertEquals(0f, v);
        float[] data = CudaChecks.random(5, 15, -1, 1);
        Tensor t = gpu.empty(DType.F32, 3, 5);
        gpu.copy(Tensor.of(data, 3, 5), t);
        assertEquals(java.util.Arrays.toString(data), java.util.Arrays.toString(t.toFloatArray()));
        assertEquals("cuda:0", t.device().toString());
    }

    @Test
    void limitsSayWhichOp() {
        Tensor q = gpu.empty(DType.F32, 1, 1, 2, 300);
        UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class,
                () -> gpu.attention(q, q, q, true, 1f, gpu.empty(DType.F32, 1, 1, 2, 300), gpu.empty(DType.F32, 1, 1, 2)));
        assertTrue(e.getMessage().startsWith("attention: head dimensions 300"), e.getMessage());
    }
}
