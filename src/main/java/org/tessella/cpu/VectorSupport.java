package org.tessella.cpu;

import java.lang.management.ManagementFactory;
import java.util.List;

/** Start-up check: the Vector API is only fast under C2, so say so in one line when it is missing or C2 is off. */
final class VectorSupport {
    private static volatile boolean checked;

    private VectorSupport() {}

    static void check() {
        if (checked) return;
        checked = true;
        try {
            Class.forName("jdk.incubator.vector.FloatVector");
        } catch (ClassNotFoundException e) {
            throw new IllegalStateException("module jdk.incubator.vector is missing: run java with --add-modules jdk.incubator.vector");
        }
        List<String> args = ManagementFactory.getRuntimeMXBean().getInputArguments();
        String vmName = System.getProperty("java.vm.name", "");
        boolean c1Only = args.stream().anyMatch(a -> a.startsWith("-XX:TieredStopAtLevel=") && !a.endsWith("=4"))
                || args.contains("-Xint") || vmName.contains("Client");
        if (c1Only)
            System.err.println("tessella: warning: the C2 compiler is off (" + String.join(" ", args)
                    + "); Vector API kernels will run many times slower");
    }
}
