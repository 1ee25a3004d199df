package org.tessella.cpu;

import java.lang.management.ManagementFactory;
import java.util.List;

/**
 * What the kernels need to know about the machine's vectors, and a start-up check: the Vector API is only fast under
 * C2, so say so in one line when it is missing or C2 is off.
 */
final class VectorSupport {
    private static volatile boolean checked;

    /**
     * True where the vector unit has 16 registers (x86 without AVX-512) rather than 32 (AVX-512, NEON, SVE). The micro
     * kernels then use tiles of 8 accumulators instead of 16-24: with 12 accumulators and two B vectors, C2 hoists the
     * broadcasts of A ahead of their multiply-adds, runs out of registers and keeps an accumulator on the stack, whose
     * load-fma-store chain then sets the pace (measured on Zen 3: a 6 x 2 tile ran at 38 GFLOP/s on one core, a 4 x 2
     * tile at 68, of about 75-88). {@code -Dtessella.cpu.registers=16|32} overrides the guess (the tile shape never
     * changes the bits: every output is the same fma chain).
     */
    static final boolean SIXTEEN_REGISTERS = sixteenRegisters();

    private static boolean sixteenRegisters() {
        String forced = System.getProperty("tessella.cpu.registers");
        if (forced != null) {
            if (forced.equals("16")) return true;
            if (forced.equals("32")) return false;
            throw new IllegalArgumentException("tessella.cpu.registers must be 16 or 32, got '" + forced + "'");
        }
        String arch = System.getProperty("os.arch", "");
        boolean x86 = arch.equals("amd64") || arch.equals("x86_64") || arch.equals("x86") || arch.equals("i386");
        return x86 && jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.vectorBitSize() < 512;
    }

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
