package org.tessella.docs;

import org.junit.jupiter.api.Test;
import org.tessella.autograd.Tape;
import org.tessella.tensor.Tensor;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.tessella.autograd.Functional.crossEntropy;
import static org.tessella.autograd.Ops.*;

/** The README's Java example, verbatim, plus a check that the README still contains it. */
class ReadmeExampleTest {
    @Test
    void readmeSnippetRunsAndProducesGradients() throws Exception {
        Tensor x  = Tensor.of(new float[]{0.5f, -1f, 2f, 0f, 1f, -0.5f}, 2, 3);  // batch of 2, 3 features
        Tensor w1 = randn(42, 0, 3, 16).requiresGrad(true);                      // seed 42, counters 0..47
        Tensor w2 = randn(42, 48, 16, 4).requiresGrad(true);                     // the next counters
        Tensor y  = Tensor.ofInts(new int[]{1, 3}, 2);                           // class labels
        Tensor loss = crossEntropy(matmul(relu(matmul(x, w1)), w2), y);
        Tape.backward(loss);                                                     // w1.grad(), w2.grad() hold dL/dw

        assertNotNull(w1.grad());
        assertArrayEquals(new int[]{3, 16}, w1.grad().shape());
        assertTrue(Float.isFinite(loss.item()) && loss.item() > 0);
        String readme = Files.readString(Path.of("README.md"));
        assertTrue(readme.contains("Tensor loss = crossEntropy(matmul(relu(matmul(x, w1)), w2), y);"), "README lost the example");
        assertTrue(readme.contains("Tape.backward(loss);"), "README lost the example");
    }
}
