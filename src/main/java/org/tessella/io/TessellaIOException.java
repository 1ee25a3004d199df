package org.tessella.io;

import java.nio.file.Path;

/**
 * A file Tessella reads or writes is missing, corrupt, truncated or not what it should be. Unchecked; the message is
 * one line that names the file and says what is wrong, e.g. {@code model.safetensors: header length 812 runs beyond
 * the file size 640}.
 */
public class TessellaIOException extends RuntimeException {
    public TessellaIOException(String message) {
        super(message);
    }

    public TessellaIOException(String message, Throwable cause) {
        super(message, cause);
    }

    /** "{file}: {problem}". */
    public TessellaIOException(Path file, String problem) {
        super(file + ": " + problem);
    }

    /** "{file}: {problem}", keeping the cause. */
    public TessellaIOException(Path file, String problem, Throwable cause) {
        super(file + ": " + problem, cause);
    }

    /** An I/O failure on a file, as one line: "{file}: cannot {action}: {reason}". */
    public static TessellaIOException io(Path file, String action, java.io.IOException e) {
        String reason = e.getMessage() == null ? e.getClass().getSimpleName() : e.getClass().getSimpleName() + " " + e.getMessage();
        if (e instanceof java.nio.file.NoSuchFileException) reason = "no such file";
        else if (e instanceof java.nio.file.AccessDeniedException) reason = "access denied";
        return new TessellaIOException(file, "cannot " + action + ": " + reason, e);
    }
}
