package org.tessella.diffusion;

import java.util.function.Supplier;
import org.tessella.tensor.Tensor;

/**
 * What a DiT forward pass does with the branch of sub-layer j (2i: block i's attention, 2i+1: its MLP), the output
 * before the gate: compute it ({@code compute.get()}), substitute a cached one (compute is then never called, so the
 * work is really skipped), or mix the two (L2C's training). {@link #FULL} computes everything.
 */
@FunctionalInterface
public interface SubLayerPolicy {
    Tensor branch(int subLayer, Supplier<Tensor> compute);

    SubLayerPolicy FULL = (j, compute) -> compute.get();
}
