package org.tessella.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Finds and opens one of CUDA's shared libraries. Candidates, in order: the file a system property names (for tests and
 * unusual installs), then every given name in each LD_LIBRARY_PATH directory, in $CUDA_HOME/lib64 and
 * $CUDA_HOME/targets/x86_64-linux/lib (also $CUDA_PATH and /usr/local/cuda), then the bare name through the dynamic
 * linker's own search (ld.so.cache). When nothing opens, one {@link CudaUnavailableException} line says what is
 * missing and how to fix it. Libraries stay loaded for the life of the JVM (global arena).
 */
final class NativeLibrary {
    private NativeLibrary() {}

    /**
     * @param what     the library as the user knows it, e.g. "libcublas.so"
     * @param property system property that may name the file explicitly
     * @param names    file names to try, most preferred first
     * @param preload  file names of dependencies to open first from the same directory (cuBLAS needs cuBLASLt), or empty
     * @param fix      what the user should do when it is missing
     */
    static SymbolLookup load(String what, String property, List<String> names, List<String> preload, String fix) {
        String explicit = System.getProperty(property);
        String failure = null;
        if (explicit != null && !explicit.isBlank()) {
            Path p = Path.of(explicit);
            if (!Files.exists(p))
                throw new CudaUnavailableException("no CUDA: " + what + " not found at " + p + " (set by -D" + property + "); " + fix);
            try {
                return open(p, preload);
            } catch (IllegalArgumentException e) {
                throw new CudaUnavailableException("no CUDA: " + what + " at " + p + " did not load (" + firstLine(e) + "); " + fix);
            }
        }
        for (Path dir : directories()) {
            for (String name : names) {
                Path p = dir.resolve(name);
                if (!Files.isRegularFile(p)) continue;
                try {
                    return open(p, preload);
                } catch (IllegalArgumentException e) {
                    if (failure == null) failure = p + " did not load (" + firstLine(e) + ")";
                }
            }
        }
        for (String name : names) {
            try {
                return SymbolLookup.libraryLookup(name, Arena.global());
            } catch (IllegalArgumentException e) {
                // not on the linker's search path under this name; try the next
            }
        }
        throw new CudaUnavailableException("no CUDA: " + what + " not found (tried " + String.join(", ", names)
                + " in LD_LIBRARY_PATH, $CUDA_HOME/lib64, $CUDA_HOME/targets/x86_64-linux/lib and the system library path"
                + (failure == null ? "" : "; " + failure) + "); " + fix);
    }

    private static SymbolLookup open(Path p, List<String> preload) {
        for (String dep : preload) {
            Path d = p.resolveSibling(dep);
            if (Files.isRegularFile(d)) {
                try {
                    SymbolLookup.libraryLookup(d, Arena.global());
                } catch (IllegalArgumentException e) {
                    // the main library's own load will report what is wrong
                }
            }
        }
        return SymbolLookup.libraryLookup(p, Arena.global());
    }

    /** LD_LIBRARY_PATH entries, then the CUDA toolkit's library directories. */
    static List<Path> directories() {
        Set<Path> dirs = new LinkedHashSet<>();
        String ld = System.getenv("LD_LIBRARY_PATH");
        if (ld != null)
            for (String d : ld.split(":")) if (!d.isBlank()) dirs.add(Path.of(d));
        List<String> homes = new ArrayList<>();
        for (String env : new String[]{"CUDA_HOME", "CUDA_PATH"}) {
            String h = System.getenv(env);
            if (h != null && !h.isBlank()) homes.add(h);
        }
        homes.add("/usr/local/cuda");
        for (String h : homes) {
            dirs.add(Path.of(h, "lib64"));
            dirs.add(Path.of(h, "targets", "x86_64-linux", "lib"));
        }
        List<Path> existing = new ArrayList<>();
        for (Path d : dirs) if (Files.isDirectory(d)) existing.add(d);
        return existing;
    }

    private static String firstLine(Exception e) {
        String m = String.valueOf(e.getMessage());
        int nl = m.indexOf('\n');
        return nl < 0 ? m : m.substring(0, nl);
    }
}
