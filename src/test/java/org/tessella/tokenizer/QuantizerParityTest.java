package org.tessella.tokenizer;

import org.junit.jupiter.api.Test;
import org.tessella.autograd.Ops;
import org.tessella.autograd.Tape;
import org.tessella.io.Safetensors;
import org.tessella.nn.Init;
import org.tessella.tensor.Tensor;

import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Parity of {@link VectorQuantizer} with LlamaGen's quantizer in PyTorch (tools/tokenizer_parity_reference.py,
 * float64 reference; the seed is chosen so every top-2 cosine gap exceeds 1e-4, so float32 cannot flip a code).
 * Forward within 1e-4, gradients of codebook_loss + 0.25 commit_loss + sum(quantized * probe) within 1e-3, relative
 * to each tensor's largest magnitude.
 */
class QuantizerParityTest {
    static final Path FILE = Path.of("src/test/resources/parity/quantizer.safetensors");

    static double relError(Tensor actual, Tensor expected) {
        float[] a = actual.toFloatArray(), e = expected.toFloatArray();
        if (a.length != e.length) throw new AssertionError("sizes differ: " + a.length + " vs " + e.length);
        double maxDiff = 0, scale = 0;
        for (int i = 0; i < a.length; i++) {
            maxDiff = Math.max(maxDiff, Math.abs((double) a[i] - e[i]));
            scale = Math.max(scale, Math.abs(e[i]));
        }
        return maxDiff / Math.max(scale, 1e-30);
    }

    static double assertClose(String what, Tensor actual, Tensor expected, double tol) {
        double err = relError(actual, expected);
        System.out.printf("parity %-40s rel err %.3e%n", what, err);
        assertTrue(err < tol, what + ": relative error " + err + " >= " + tol);
        return err;
    }

    @Test
    void quantizerMatchesPyTorch() {
        Map<String, Tensor> f = Safetensors.read(FILE).tensors();
        VectorQuantizer vq = new VectorQuantizer(16, 8, new Init(0));
        vq.loadStateDict(Map.of("embedding.weight", f.get("param.embedding.weight")));
        Tensor z = Tensor.copyOf(f.get("input")).requiresGrad(true);
        VectorQuantizer.Output out = vq.forward(z);
        assertArrayEquals(f.get("indices").toIntArray(), out.indices().toIntArray());
        assertClose("quantizer.latents", out.latents(), f.get("latents"), 1e-4);
        assertClose("quantizer.quantized", out.quantized(), f.get("quantized"), 1e-4);
        assertClose("quantizer.codebook_loss", out.codebookLoss().reshape(1), f.get("codebook_loss"), 1e-4);
        assertClose("quantizer.commit_loss", out.commitLoss().reshape(1), f.get("commit_loss"), 1e-4);
        Tensor loss = Ops.add(Ops.add(out.codebookLoss(), Ops.mulScalar(out.commitLoss(), 0.25f)),
                Ops.sum(Ops.mul(out.quantized(), f.get("probe"))));
        assertClose("quantizer.loss", loss.reshape(1), f.get("loss"), 1e-4);
        Tape.backward(loss);
        assertClose("quantizer.grad.input", z.grad(), f.get("grad.input"), 1e-3);
        assertClose("quantizer.grad.embedding.weight", vq.weight.grad(), f.get("grad.embedding.weight"), 1e-3);
    }
}
