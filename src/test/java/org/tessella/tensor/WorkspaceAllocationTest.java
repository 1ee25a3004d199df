package org.tessella.tensor;

import org.junit.jupiter.api.Test;
import org.tessella.autograd.Functional;
import org.tessella.autograd.Ops;
import org.tessella.autograd.Tape;
import org.tessella.nn.Init;
import org.tessella.nn.Linear;
import org.tessella.nn.Parameter;
import org.tessella.optim.AdamW;
import org.tessella.optim.GradClip;

import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The per-step workspace: memory is recycled, steady-state training steps allocate almost nothing on the heap. */
class WorkspaceAllocationTest {

    @Test
    void steadyStateTrainingStepAllocatesAlmostNothing() {
        Init init = new Init(3);
        Linear l1 = new Linear(64, 256, true, init), l2 = new Linear(256, 64, true, init);
        List<Parameter> params = new ArrayList<>(l1.parameters());
        params.addAll(l2.parameters());
        AdamW opt = new AdamW(params, 1e-3f, 0.01f);
        Tensor x = Ops.randn(1, 0, 128, 64), target = Ops.randn(2, 0, 128, 64);
        Workspace ws = new Workspace();
        Runnable step = () -> {
            try (Workspace w = ws.open()) {
                Tensor loss = Functional.mse(l2.forward(Ops.silu(l1.forward(x))), target);
                opt.zeroGrad();
                Tape.backward(loss);
                GradClip.clip(params, 1.0);
                opt.step();
            }
        };
        for (int i = 0; i < 2000; i++) step.run(); // warm: sizes the slab and lets C2 compile the vector kernels
        var mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long tid = Thread.currentThread().threadId();
        long before = mx.getThreadAllocatedBytes(tid);
        for (int i = 0; i < 10; i++) step.run();
        long perStep = (mx.getThreadAllocatedBytes(tid) - before) / 10;
        long activationBytes = ws.highWaterBytes();
        // Only small Java objects (tensor headers, tape nodes, closures) may remain: a few KB per op.
        System.out.println("workspace step: " + activationBytes + " bytes in the slab, " + perStep + " bytes allocated on the heap");
        assertTrue(activationBytes > 500_000, "the step should use a real amount of workspace, used " + activationBytes);
        assertTrue(perStep < 32 * 1024, "a warm step allocated " + perStep + " bytes on the Java heap (workspace held "
                + activationBytes + ")");
        assertTrue(perStep * 10 < activationBytes, "heap allocation " + perStep + " should be far below the " + activationBytes + " workspace bytes");
    }

    @Test
    void tensorsFromAnEndedStepAreDetected() {
        Workspace ws = new Workspace();
        Tensor kept;
        try (Workspace w = ws.open()) {
            kept = Tensor.empty(DType.F32, 4, 4);
            assertEquals(16, kept.numel());
        }
        Tensor k = kept;
        IllegalStateException e = assertThrows(IllegalStateException.class, k::toFloatArray);
        assertTrue(e.getMessage().contains("workspace"), e.getMessage());
    }

    @Test
    void aLargeStepHoldsLittleMoreThanItUses() {
        Workspace ws = new Workspace();
        for (int round = 0; round < 3; round++) {
            try (Workspace w = ws.open()) {
                for (int i = 0; i < 40; i++) Tensor.empty(DType.F32, 1 << 20);
            }
        }
        long used = ws.highWaterBytes(), cap = ws.capacityBytes();
        assertEquals(40L * 4 * (1 << 20), used);
        assertTrue(cap <= used + used / 4, "160 MiB of tensors held in " + cap / (1 << 20) + " MiB of chunks");
    }

    @Test
    void aStepOfTheSameSizeReusesTheChunks() {
        Workspace ws = new Workspace();
        for (int round = 0; round < 2; round++) {
            try (Workspace w = ws.open()) {
                for (int i = 0; i < 20; i++) Tensor.empty(DType.F32, 100_000);
            }
        }
        long cap = ws.capacityBytes();
        try (Workspace w = ws.open()) {
            for (int i = 0; i < 20; i++) Tensor.empty(DType.F32, 100_000);
        }
        assertEquals(cap, ws.capacityBytes(), "a step of the same size must not grow the slab");
    }
}
