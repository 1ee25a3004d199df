package org.tessella.cuda;

import org.tessella.backend.Backends;
import org.tessella.tensor.Device;

/** Child-JVM main: asks for the CUDA backend and prints what it got ("OK", or the exception's class and message). */
public final class UnavailableProbe {
    private UnavailableProbe() {}

    public static void main(String[] args) {
        try {
            Backends.of(Device.cuda(0));
            System.out.println("OK");
        } catch (RuntimeException e) {
            System.out.println(e.getClass().getName());
            System.out.println(e.getMessage());
        }
    }
}
