package org.tessella.tokenizer;

import org.junit.jupiter.api.Test;
import org.tessella.autograd.Ops;
import org.tessella.autograd.Tape;
import org.tessella.io.Safetensors;
import org.tessella.nn.Init;
import org.tessella.parity.Parity;
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



    @Test
    void quantizerMatchesPyTorch() {
        Map<String, Tensor> f = Safetensors.read(FILE).tensors();
        VectorQuantizer vq = new VectorQuantizer(16, 8, new Init(0));
        vq.loadStateDict(Map.of("embedding.weight", f.get("param.embedding.weight")));
        Tensor z = Tensor.copyOf(f.get("input")).requiresGrad(true);
        VectorQuantizer.Output out = vq.forward(z);
        assertArrayEquals(f.get("indices").toIntArray(), out.indices().toIntArray());
        Parity.assertClose("quantizer.latents", out.latents(), f.get("latents"), 1e-4);
        Parity.assertClose("quantizer.quantized", out.quantized(), f.get("quantized"), 1e-4);
        Parity.assertClose("quantizer.codebook_loss", out.codebookLoss().reshape(1), f.get("codebook_loss"), 1e-4);
        Parity.assertClose("quantizer.commit_loss", out.commitLoss().reshape(1), f.get("commit_loss"), 1e-4);
        Tensor loss = Ops.add(Ops.add(out.codebookLoss(), Ops.mulScalar(out.commitLoss(), 0.25f)),
                Ops.sum(Ops.mul(out.quantized(), f.get("probe"))));
        Parity.assertClose("quantizer.loss", loss.reshape(1), f.get("loss"), 1e-4);
        Tape.backward(loss);
        Parity.assertClose("quantizer.grad.input", z.grad(), f.get("grad.input"), 1e-3);
        Parity.assertClose("quantizer.grad.embedding.weight", vq.weight.grad(), f.get("grad.embedding.weight"), 1e-3);
    }
}
