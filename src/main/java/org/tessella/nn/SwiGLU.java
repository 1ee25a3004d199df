package org.tessella.nn;

import org.tessella.autograd.Functional;
import org.tessella.tensor.Tensor;

/** The SwiGLU MLP of Llama: {@code w2(silu(w1 x) * w3 x)}, no biases; the gate fused ({@link Functional#swiglu}). */
public final class SwiGLU extends Module {
    public final Linear w1, w2, w3;

    public SwiGLU(int dim, int hidden, Init init) {
        w1 = child("w1", new Linear(dim, hidden, false, init));
        w3 = child("w3", new Linear(dim, hidden, false, init));
        w2 = child("w2", new Linear(hidden, dim, false, init));
    }

    public Tensor forward(Tensor x) {
        return w2.forward(Functional.swiglu(w1.forward(x), w3.forward(x)));
    }
}
