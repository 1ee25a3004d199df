package org.tessella.cuda;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.tessella.cli.CudaModelChecks;
import org.tessella.tensor.Device;

/**
 * The models on the GPU against the CPU, through the checks of {@link CudaModelChecks} (which tools/cuda-check runs
 * without Maven): a training step of gpt-s and of vq-s (loss, every gradient and every parameter after AdamW within
 * 1e-4 relative in float32), and device memory in use after 1000 steps equal to that after 10. Skipped, with the
 * reason, where no GPU is usable.
 */
class ModelTrainingTest {
    static String unavailable;

    @BeforeAll
    static void openGpu() {
        try {
            CudaBackend.of(0);
        } catch (CudaUnavailableException e) {
            unavailable = e.getMessage(); // e.g. "no CUDA: libcuda.so.1 not found (...)"
        }
    }

    /** Per test, so each skipped test carries the reason in the report. */
    @BeforeEach
    void requireGpu() { assumeTrue(unavailable == null, unavailable); }

    private static void check(int index) {
        CudaModelChecks.Check c = CudaModelChecks.checks(Device.cuda(0), 1000).get(index);
        CudaModelChecks.Outcome o = c.run().get();
        assertTrue(o.error() <= c.tolerance(), c.name() + ": error " + o.error() + " above " + c.tolerance() + "; " + o.detail());
    }

    @Test
    void deviceMemoryIsFlatOver1000Steps() { check(0); }

    @Test
    void gptStepMatchesTheCpu() { check(1); }

    @Test
    void vqStepMatchesTheCpu() { check(2); }
}
