package org.tessella.tensor;

import org.junit.jupiter.api.Test;
import org.tessella.autograd.Ops;
import org.tessella.autograd.Tape;
import org.tessella.nn.Init;
import org.tessella.nn.Linear;
import org.tessella.nn.Parameter;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Memory made during a backward pass goes back to the workspace as soon as no pending gradient refers to it, and the
 * gradients come out bit for bit as without a workspace (the tests run with {@code tessella.workspace.poison}, so
 * memory released too early would turn them into NaN).
 */
class WorkspaceReleaseTest {

    @Test
    void aDeepChainsBackwardPassAddsLittleToItsForwardMemory() {
        Init init = new Init(5);
        List<Linear> layers = new ArrayList<>();
        for (int i = 0; i < 8; i++) layers.add(new Linear(128, 128, true, init));
        Tensor x = Ops.randn(7, 0, 256, 128);
        Supplier<Tensor> forward = () -> {
            Tensor h = x;
            for (Linear l : layers) h = Ops.silu(l.forward(h));
            return Ops.sum(Ops.mul(h, h));
        };
        Workspace forwardOnly = new Workspace();
        try (Workspace w = forwardOnly.open()) {
            forward.get();
        }
        Tape.clear();
        Workspace whole = new Workspace();
        try (Workspace w = whole.open()) {
            Tape.backward(forward.get());
        }
        long f = forwardOnly.highWaterBytes(), h = whole.highWaterBytes();
        // without release the backward pass would about double the forward memory (a gradient per activation)
        assertTrue(h < f + f / 3, "forward " + f + " bytes, whole step " + h + " bytes at once");
        assertTrue(h > f, "the backward pass needs some memory of its own");
    }

    @Test
    void gradientsThroughViewsSharedAndReusedTensorsAreExact() {
        float[] withWorkspace = gradients(true), without = gradients(false);
        for (float v : withWorkspace) assertFalse(Float.isNaN(v), "a gradient read released memory");
        assertArrayEquals(without, withWorkspace, "the same gradients with and without early release");
    }

    /** A graph where gradients alias: views (reshape, slice), a tensor used twice, a sum that passes its gradient on. */
    private static float[] gradients(boolean workspace) {
        Init init = new Init(11);
        Linear l1 = new Linear(32, 64, true, init), l2 = new Linear(32, 16, false, init);
        List<Parameter> params = new ArrayList<>(l1.parameters());
        params.addAll(l2.parameters());
        Tensor x = Ops.randn(3, 0, 24, 32);
        Runnable step = () -> {
            Tensor a = Ops.silu(l1.forward(x));          // [24, 64]
            Tensor b = Ops.add(a, a);                    // one gradient to both inputs, then accumulated
            Tensor c = Ops.reshape(b, 24, 2, 32);
            Tensor s1 = Ops.reshape(Ops.slice(c, 1, 0, 1), 24, 32), s2 = Ops.reshape(Ops.slice(c, 1, 1, 2), 24, 32);
            Tensor d = Ops.add(Ops.mul(s1, s2), Ops.silu(s1));
            Tensor e = l2.forward(d);
            Tape.backward(Ops.sum(Ops.mul(e, Ops.add(e, Ops.slice(d, 1, 0, 16)))));
        };
        for (Parameter p : params) p.tensor().setGrad(null);
        if (workspace) new Workspace().run(step);
        else step.run();
        List<Float> all = new ArrayList<>();
        for (Parameter p : params) for (float v : p.tensor().grad().toFloatArray()) all.add(v);
        float[] out = new float[all.size()];
        for (int i = 0; i < out.length; i++) out[i] = all.get(i);
        return out;
    }

    @Test
    void releasedMemoryIsReusedAndAGradientsMemoryIsKept() {
        assumeTrue(Boolean.getBoolean("tessella.workspace.poison"), "needs -Dtessella.workspace.poison=true (the Maven tests set it)");
        Workspace ws = new Workspace();
        try (Workspace w = ws.open()) {
            Tensor holder = Ops.full(3f, 1000);
            ws.beginBackward();
            Tensor temporary = Ops.full(1f, 1000), gradient = Ops.full(2f, 1000);
            holder.setGrad(gradient);
            ws.releaseUnreferencedGradients();
            assertTrue(Float.isNaN(temporary.floats()[temporary.offset()]), "the temporary was released (and poisoned)");
            assertEquals(2f, gradient.floats()[gradient.offset() + 999], "a gradient still referred to is kept");
            Tensor next = Tensor.empty(DType.F32, 1000);
            assertEquals(temporary.offset(), next.offset(), "the released room is reused first");
            assertNotEquals(gradient.offset(), next.offset());
            holder.setGrad(null);
            ws.endBackward();
            assertTrue(Float.isNaN(gradient.floats()[gradient.offset()]), "the pass's end releases the rest");
            assertEquals(3f, holder.floats()[holder.offset() + 999], "forward memory is kept until the step ends");
        }
    }
}
