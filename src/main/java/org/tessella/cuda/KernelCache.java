package org.tessella.cuda;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;

/**
 * Compiled kernel modules on disk, so NVRTC runs once per source, architecture and option set rather than at every
 * start. The key is the SHA-256 of the source, the target architecture, the options and the NVRTC version (a new
 * compiler may generate different code). The directory is the system property {@code tessella.cuda.cache}, else
 * {@code $TESSELLA_CUDA_CACHE}, else {@code ~/.cache/tessella/cuda}. Files are written to a temporary name and renamed,
 * so a concurrent or interrupted writer never leaves a half file; a cache that cannot be written is simply not used.
 */
final class KernelCache {
    private final Path directory;

    KernelCache(Path directory) { this.directory = directory; }

    static Path defaultDirectory() {
        String p = System.getProperty("tessella.cuda.cache");
        if (p == null || p.isBlank()) p = System.getenv("TESSELLA_CUDA_CACHE");
        if (p != null && !p.isBlank()) return Path.of(p);
        return Path.of(System.getProperty("user.home"), ".cache", "tessella", "cuda");
    }

    Path directory() { return directory; }

    static String key(String source, String arch, List<String> options, String compilerVersion) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update(source.getBytes(StandardCharsets.UTF_8));
            for (String part : List.of(arch, String.join(" ", options), compilerVersion)) {
                sha.update((byte) 0);
                sha.update(part.getBytes(StandardCharsets.UTF_8));
            }
            return HexFormat.of().formatHex(sha.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JDK", e);
        }
    }

    /** The cached image for key with the given extension ("cubin" or "ptx"), or null. */
    byte[] load(String key, String extension) {
        Path p = directory.resolve(key + "." + extension);
        try {
            return Files.isRegularFile(p) ? Files.readAllBytes(p) : null;
        } catch (IOException e) {
            return null; // unreadable: compile again
        }
    }

    /** Stores an image; returns false (and leaves nothing behind) when the directory is not writable. */
    boolean store(String key, String extension, byte[] image) {
        Path target = directory.resolve(key + "." + extension);
        Path tmp = null;
        try {
            Files.createDirectories(directory);
            tmp = Files.createTempFile(directory, key, ".tmp");
            Files.write(tmp, image);
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
            return true;
        } catch (IOException e) {
            if (tmp != null) try { Files.deleteIfExists(tmp); } catch (IOException ignored) { /* best effort */ }
            return false;
        }
    }
}
