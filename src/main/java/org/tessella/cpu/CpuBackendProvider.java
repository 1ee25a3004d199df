package org.tessella.cpu;

import org.tessella.backend.Backend;
import org.tessella.backend.BackendProvider;
import org.tessella.tensor.Device;

/** Registers the CPU backend with {@link org.tessella.backend.Backends}. */
public final class CpuBackendProvider implements BackendProvider {
    @Override public Device.Kind kind() { return Device.Kind.CPU; }

    @Override public Backend create(Device device) { return CpuBackend.INSTANCE; }
}
