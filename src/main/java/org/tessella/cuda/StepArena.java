package org.tessella.cuda;

import java.util.ArrayList;
import java.util.List;
import org.tessella.tensor.DType;
import org.tessella.tensor.Workspace;

/**
 * The device side of a workspace step: the storages {@code CudaBackend.empty} made while a
 * {@link Workspace} was open, all returned to the pool when the workspace resets. With the pool's size classes a
 * steady-state step reuses the same blocks every time, so device memory stays flat, as the CPU slab does.
 */
final class StepArena implements Workspace.Companion {
    private final CudaContext context;
    private final List<DeviceStorage> live = new ArrayList<>();

    StepArena(CudaContext context) { this.context = context; }

    DeviceStorage allocate(DType dtype, long length) {
        DeviceStorage s = DeviceStorage.forStep(context, dtype, length);
        live.add(s);
        return s;
    }

    @Override public void reset() {
        for (DeviceStorage s : live) s.release();
        live.clear();
    }
}
