package org.tessella.cuda;

import org.tessella.backend.Backend;
import org.tessella.backend.BackendProvider;
import org.tessella.tensor.Device;

/**
 * Registers the CUDA backend with {@link org.tessella.backend.Backends}. Loading or instantiating this class touches
 * nothing native (a ServiceLoader may do both while looking for the CPU backend); only {@link #create} does.
 */
public final class CudaBackendProvider implements BackendProvider {
    @Override public Device.Kind kind() { return Device.Kind.CUDA; }

    @Override public Backend create(Device device) { return new CudaBackend(device); }
}
