package org.tessella.cuda;

/** NVRTC rejected a kernel source; the message carries the compiler's log (file, line and error text). */
public final class KernelCompileException extends CudaException {
    private final String log;

    KernelCompileException(String source, String arch, int code, String name, String log) {
        super("nvrtcCompileProgram", code, "nvrtcCompileProgram failed for " + source + " (" + arch + "): " + name
                + " (" + code + ")\n" + log.strip());
        this.log = log;
    }

    /** The compiler log as NVRTC gave it. */
    public String log() { return log; }
}
