package org.tessella.cuda;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ServiceLoader;
import org.tessella.backend.Backend;
import org.tessella.backend.BackendProvider;
import org.tessella.backend.Backends;
import org.tessella.backend.BinaryOp;
import org.tessella.tensor.DType;
import org.tessella.tensor.Tensor;

/**
 * Child-JVM main: uses the CPU backend (and instantiates every registered provider, as a ServiceLoader lookup may),
 * then prints which CUDA libraries the process has mapped ("maps: none" when it has none).
 */
public final class CpuOnlyProbe {
    private CpuOnlyProbe() {}

    public static void main(String[] args) throws Exception {
        Backend cpu = Backends.cpu();
        Tensor a = Tensor.of(new float[]{1, 2, 3, 4}, 2, 2), out = cpu.empty(DType.F32, 2, 2);
        cpu.binary(BinaryOp.ADD, a, a, out);
        cpu.matmul(a.reshape(1, 2, 2), false, a.reshape(1, 2, 2), false, out.reshape(1, 2, 2), 1f, 0f);
        for (BackendProvider p : ServiceLoader.load(BackendProvider.class)) System.out.println("provider " + p.kind());
        StringBuilder mapped = new StringBuilder();
        Path maps = Path.of("/proc/self/maps");
        if (Files.isReadable(maps)) {
            for (String line : Files.readAllLines(maps))
                for (String lib : new String[]{"libcuda.so", "libnvrtc", "libcublas"})
                    if (line.contains(lib) && mapped.indexOf(lib) < 0) mapped.append(' ').append(lib);
            System.out.println("maps:" + (mapped.isEmpty() ? " none" : mapped));
        } else {
            System.out.println("maps: unknown");
        }
        System.out.println("result " + out.get(0, 0));
    }
}
