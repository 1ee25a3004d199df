package org.tessella.backend;

import org.tessella.tensor.Device;

import java.util.ServiceLoader;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Finds the backend for a device. Backends register through {@link BackendProvider} (java.util.ServiceLoader), so
 * layers above this one never name a backend class and nothing GPU-related loads unless a GPU device is asked for.
 */
public final class Backends {
    private static final ConcurrentHashMap<Device, Backend> CACHE = new ConcurrentHashMap<>();

    private Backends() {}

    public static Backend of(Device device) {
        Backend b = CACHE.get(device);
        if (b != null) return b;
        return CACHE.computeIfAbsent(device, Backends::load);
    }

    public static Backend cpu() { return of(Device.CPU); }

    private static Backend load(Device device) {
        for (BackendProvider p : ServiceLoader.load(BackendProvider.class)) {
            if (p.kind() == device.kind()) {
                Backend b = p.create(device);
                return OpProfiler.ENABLED && device.kind() == Device.Kind.CPU ? OpProfiler.wrap(b) : b;
            }
        }
        throw new IllegalStateException("no backend for device " + device
                + (device.kind() == Device.Kind.CUDA ? ": this build has no CUDA backend" : ""));
    }
}
