package org.tessella.cpu;

import java.util.ArrayList;
import java.util.List;
import org.tessella.tensor.Tensor;

/**
 * Elementwise work over many tensors in one parallel pass (AdamW, gradient clipping): each contiguous tensor is cut
 * into runs of at most {@link #RUN} elements and the pool takes all runs of all tensors at once. An element's result
 * does not depend on the run it falls in, so this gives the bits of one call per tensor.
 */
final class Chunks {
    private Chunks() {}

    /** Elements per run: small enough to spread a few large tensors over all threads. */
    static final int RUN = 1 << 14;

    /** The work on elements [start, end) of tensor i. */
    @FunctionalInterface
    interface RunBody {
        void run(int tensor, int start, int end);
    }

    /** Runs body over every run of the tensors. */
    static void run(List<Tensor> tensors, RunBody body) {
        List<int[]> runs = new ArrayList<>();
        for (int i = 0; i < tensors.size(); i++) {
            Tensor t = tensors.get(i);
            if (!t.isContiguous())
                throw new IllegalArgumentException("multi-tensor update: tensor " + i + " " + t + " is not contiguous");
            for (int s = 0, n = t.numel(); s < n; s += RUN) runs.add(new int[]{i, s, Math.min(n, s + RUN)});
        }
        WorkerPool.global().parallelTasks(runs.size(), r -> {
            int[] run = runs.get(r);
            body.run(run[0], run[1], run[2]);
        });
    }

    /** Elements [start, end) of a contiguous tensor, as a flat view. */
    static Tensor part(Tensor t, int start, int end) {
        return t.view(t.offset() + start, new int[]{end - start}, new int[]{1});
    }
}
