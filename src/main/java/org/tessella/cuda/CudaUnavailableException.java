package org.tessella.cuda;

/**
 * CUDA cannot be used on this machine: a library is missing, no device is present, or the driver refused to start.
 * The message is one line that says what is missing and how to fix it; there is deliberately no cause chain (a user
 * without a GPU should not read a stack of UnsatisfiedLinkErrors).
 */
public final class CudaUnavailableException extends RuntimeException {
    public CudaUnavailableException(String message) {
        super(message, null, false, false);
    }
}
