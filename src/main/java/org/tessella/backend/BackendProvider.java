package org.tessella.backend;

import org.tessella.tensor.Device;

/** A service that creates the backend for one kind of device (registered in META-INF/services). */
public interface BackendProvider {
    Device.Kind kind();

    Backend create(Device device);
}
