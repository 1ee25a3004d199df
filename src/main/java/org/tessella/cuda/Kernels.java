package org.tessella.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The project's kernels on one device. Each module is a CUDA C resource (src/main/resources/org/tessella/cuda/NAME.cu)
 * compiled, with prelude.cuh put in front of it, at its first use (NVRTC sees one translation unit and no include
 * path), then loaded into the device's context; functions are looked up once and kept.
 */
final class Kernels {
    /** A kernel ready to launch. */
    record Kernel(String name, MemorySegment function) {}

    private final CudaContext context;
    private final KernelCompiler compiler;
    private final String target;
    private final ConcurrentHashMap<String, MemorySegment> modules = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, ConcurrentHashMap<String, Kernel>> kernels = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<Long, Integer> sharedAllowed = new ConcurrentHashMap<>();

    Kernels(CudaContext context, KernelCompiler compiler) {
        this.context = context;
        this.compiler = compiler;
        this.target = compiler.target(context.info());
    }

    String target() { return target; }

    static String source(String module) {
        return resource("prelude.cuh") + "\n#line 1 \"" + module + ".cu\"\n" + resource(module + ".cu");
    }

    private static String resource(String name) {
        try (InputStream in = Kernels.class.getResourceAsStream(name)) {
            if (in == null) throw new IllegalStateException("kernel source " + name + " is missing from the classpath");
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read kernel source " + name, e);
        }
    }

    private MemorySegment module(String module) {
        return modules.computeIfAbsent(module, m -> {
            KernelCompiler.Image image = compiler.compile(m + ".cu", source(m), target, KernelCompiler.OPTIONS);
            context.bind();
            return context.driver().loadModule(image.bytes());
        });
    }

    Kernel get(String module, String name) {
        return kernels.computeIfAbsent(module, m -> new ConcurrentHashMap<>()).computeIfAbsent(name, n -> {
            MemorySegment mod = module(module);
            context.bind();
            return new Kernel(n, context.driver().function(mod, n));
        });
    }

    /**
     * Lets k's launches take {@code bytes} of dynamic shared memory (asked once per size: by default the dynamic and
     * static shared memory together may not pass 48 KiB).
     */
    void allowShared(Kernel k, int bytes) {
        if (bytes <= 0) return;
        sharedAllowed.compute(k.function().address(), (f, had) -> {
            if (had != null && had >= bytes) return had;
            context.bind();
            context.driver().setMaxDynamicShared(k.function(), bytes);
            return bytes;
        });
    }

    /** Launches a 1-D grid of {@code grid} blocks of {@code block} threads on the device's stream. */
    void launch(Kernel k, int grid, int block, int sharedBytes, KernelArgs args) {
        launch(k, grid, 1, block, sharedBytes, args);
    }

    void launch(Kernel k, int gridX, int gridY, int block, int sharedBytes, KernelArgs args) {
        launch(k, gridX, gridY, block, sharedBytes, args, null);
    }

    /** As above; {@code label} (when not null) names the launch in the profiler instead of the kernel's name. */
    void launch(Kernel k, int gridX, int gridY, int block, int sharedBytes, KernelArgs args, String label) {
        if (gridX == 0 || gridY == 0) return;
        context.bind();
        MemorySegment started = context.profiler().begin();
        context.driver().launch(k.function(), gridX, gridY, block, sharedBytes, context.stream(), args.pointers(), k.name());
        context.profiler().end(started, label != null ? label : k.name());
    }
}
