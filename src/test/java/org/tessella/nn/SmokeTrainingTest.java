package org.tessella.nn;

import org.tessella.autograd.Functional;
import org.tessella.autograd.Ops;
import org.tessella.autograd.Tape;
import org.tessella.optim.AdamW;
import org.tessella.tensor.Tensor;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** A two-layer MLP learns a fixed random labelling of 64 points: the whole stack (ops, tape, AdamW) works. */
class SmokeTrainingTest {
    @Test
    void mlpMemorisesRandomLabels() {
        Init init = new Init(7);
        Linear l1 = new Linear(16, 64, true, init), l2 = new Linear(64, 4, true, init);
        Tensor x = Ops.randn(1, 0, 64, 16);
        int[] labels = new int[64];
        for (int i = 0; i < 64; i++) labels[i] = (i * 7 + 3) % 4;
        Tensor y = Tensor.ofInts(labels, 64);
        java.util.List<Parameter> ps = new java.util.ArrayList<>(l1.parameters());
        ps.addAll(l2.parameters());
        AdamW opt = new AdamW(ps, 1e-2f, 0f);
        float first = 0, last = 0;
        for (int step = 0; step < 200; step++) {
            Tensor loss = Functional.crossEntropy(l2.forward(Ops.relu(l1.forward(x))), y);
            if (step == 0) first = loss.item();
            last = loss.item();
            opt.zeroGrad();
            Tape.backward(loss);
            opt.step();
        }
        assertTrue(first > 1.2f, "initial loss near ln 4, got " + first);
        assertTrue(last < 0.05f, "final loss should be near 0, got " + last);
    }
}
