package org.tessella.cuda;

import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * CUDA C source to a loadable module image: from the {@link KernelCache} when this source, architecture, option set
 * and compiler were seen before, else through NVRTC (and then stored). The target is the device's real architecture
 * (sm_XY, a CUBIN) when this NVRTC supports it, else the newest virtual architecture it knows (compute_XY, PTX that
 * the driver compiles for the newer GPU).
 */
final class KernelCompiler {
    /** Options every module is compiled with: C++17; no fast-math, so expf, logf and division are IEEE-accurate. */
    static final List<String> OPTIONS = List.of("--std=c++17");

    /** A compiled module image; fromCache says whether NVRTC was skipped. */
    record Image(byte[] bytes, boolean cubin, boolean fromCache, String key) {}

    private final Nvrtc nvrtc;
    private final KernelCache cache;
    private final AtomicLong hits = new AtomicLong(), compiles = new AtomicLong();

    KernelCompiler(Nvrtc nvrtc, KernelCache cache) {
        this.nvrtc = nvrtc;
        this.cache = cache;
    }

    /** The NVRTC target for a device: "sm_90", or "compute_XY" when the GPU is newer than this NVRTC. */
    String target(DeviceInfo device) {
        int cc = device.major() * 10 + device.minor();
        int[] supported = nvrtc.supportedArchitectures();
        int newest = 0, oldest = Integer.MAX_VALUE;
        for (int a : supported) {
            if (a == cc) return device.architecture();
            newest = Math.max(newest, a);
            oldest = Math.min(oldest, a);
        }
        if (supported.length > 0 && cc > newest) return "compute_" + newest;
        throw new CudaUnavailableException("no CUDA: " + device.name() + " (" + device.architecture()
                + ") is not supported by NVRTC " + nvrtc.version() + " (sm_" + oldest + " to sm_" + newest
                + "); install a CUDA toolkit that supports it");
    }

    Image compile(String name, String source, String arch, List<String> options) {
        String key = KernelCache.key(source, arch, options, nvrtc.version());
        boolean cubin = arch.startsWith("sm_");
        String ext = cubin ? "cubin" : "ptx";
        byte[] cached = cache.load(key, ext);
        if (cached != null) {
            hits.incrementAndGet();
            return new Image(cached, cubin, true, key);
        }
        Nvrtc.Output out = nvrtc.compile(name, source, arch, options);
        compiles.incrementAndGet();
        cache.store(key, ext, out.image());
        return new Image(out.image(), out.cubin(), false, key);
    }

    long cacheHits() { return hits.get(); }

    long compilations() { return compiles.get(); }

    KernelCache cache() { return cache; }
}
