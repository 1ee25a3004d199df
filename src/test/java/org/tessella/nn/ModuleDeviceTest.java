package org.tessella.nn;

import org.junit.jupiter.api.Test;
import org.tessella.autograd.Ops;
import org.tessella.tensor.Device;
import org.tessella.tensor.ShapeException;
import org.tessella.tensor.Tensor;
import org.tessella.tensor.Workspace;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The device mechanism on the CPU alone (the GPU side is org.tessella.cuda.ModelTrainingTest): moving to where a
 * module already is copies nothing, setData moves a tensor in place for whoever holds it, persistent copies outlive
 * a workspace step.
 */
class ModuleDeviceTest {

    @Test
    void moduleOnItsOwnDeviceIsLeftAsIs() {
        Linear l = new Linear(3, 2, true, new Init(1));
        assertEquals(Device.CPU, l.device());
        var storage = l.weight.storage();
        assertSame(l, l.to(Device.CPU));
        assertSame(storage, l.weight.storage(), "no copy when the module is already there");
        Tensor x = Tensor.of(new float[]{1, 2, 3}, 1, 3);
        assertSame(x, l.onDevice(x));
    }

    @Test
    void setDataMovesATensorInPlace() {
        Linear l = new Linear(3, 2, false, new Init(1));
        float[] values = {1, 2, 3, 4, 5, 6};
        Tensor w = l.weight;
        w.setData(Ops.persistentCopy(Tensor.of(values, 2, 3), Device.CPU));
        assertSame(w, l.weight);
        assertTrue(w.requiresGrad(), "autodiff state stays");
        assertArrayEquals(new float[]{14, 32}, l.forward(Tensor.of(new float[]{1, 2, 3}, 1, 3)).toFloatArray());
        assertThrows(ShapeException.class, () -> w.setData(Tensor.of(values, 3, 2)));
    }

    @Test
    void persistentCopiesOutliveTheStepAndStepCopiesDoNot() {
        Tensor host = Tensor.of(new float[]{1, 2, 3, 4}, 2, 2).transpose(0, 1);
        Tensor kept;
        try (Workspace w = new Workspace().open()) {
            kept = Ops.persistentCopy(host, Device.CPU);
            assertSame(host, Ops.to(host, Device.CPU), "to() is the identity on the tensor's own device");
        }
        assertNotSame(host.storage(), kept.storage());
        assertArrayEquals(new float[]{1, 3, 2, 4}, kept.checkAlive().toFloatArray(), "contiguous, in row-major order");
    }
}
