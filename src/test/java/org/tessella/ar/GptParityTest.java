package org.tessella.ar;

import org.junit.jupiter.api.Test;
import org.tessella.autograd.Functional;
import org.tessella.autograd.Tape;
import org.tessella.io.Safetensors;
import org.tessella.nn.Parameter;
import org.tessella.parity.Parity;
import org.tessella.tensor.Tensor;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Parity of one training step of {@link Gpt} with PyTorch: tools/ar_parity_reference.py builds the same model (dim 32,
 * 2 layers, 4 heads, SwiGLU 64, vocab 37, 9 tokens, 4 classes + null, 1-D interleaved RoPE) with random weights (head
 * not zero, norm gains around 1), computes in float64 and stores logits, loss and every parameter gradient. Tessella
 * must match: forward relative error below 1e-4, gradients below 1e-3, relative to each tensor's largest magnitude.
 */
class GptParityTest {
    private static final Path FILE = Path.of("src/test/resources/parity/gpt_step.safetensors");

    static final GptConfig CONFIG = new GptConfig("parity", 37, 9, 3, 3, 4, 32, 2, 4, 64, false, 10000f, 1e-5f, 0.1f);


    @Test
    void oneTrainingStepMatchesPyTorch() {
        Map<String, Tensor> f = Safetensors.read(FILE).tensors();
        Map<String, Tensor> params = new LinkedHashMap<>();
        f.forEach((k, v) -> { if (k.startsWith("param.")) params.put(k.substring(6), v); });

        Gpt model = new Gpt(CONFIG, 0);
        model.loadStateDict(params); // strict: the names and shapes must be exactly Tessella's
        Tensor labels = f.get("labels"), tokens = f.get("tokens");

        Tensor logits = model.forward(labels, tokens);
        Tensor loss = Functional.crossEntropy(logits, tokens);
        double logitErr = Parity.relError(logits, f.get("logits"));
        double lossErr = Parity.relError(loss.reshape(1), f.get("loss"));
        Tape.backward(loss);

        StringBuilder report = new StringBuilder();
        report.append(String.format("logits %.3e, loss %.3e", logitErr, lossErr));
        double worstGrad = 0;
        String worstName = "";
        for (Parameter p : model.parameters()) {
            Tensor g = p.tensor().grad();
            assertNotNull(g, "no gradient reached " + p.name());
            double err = Parity.relError(g, f.get("grad." + p.name()));
            assertTrue(err < 1e-3, "grad." + p.name() + ": relative error " + err + " >= 1e-3");
            if (err > worstGrad) { worstGrad = err; worstName = p.name(); }
        }
        report.append(String.format(", worst gradient %.3e (%s), %d parameters", worstGrad, worstName, model.parameters().size()));
        System.out.println("GptParityTest: " + report);
        assertTrue(logitErr < 1e-4, "logits: relative error " + logitErr + " >= 1e-4");
        assertTrue(lossErr < 1e-4, "loss: relative error " + lossErr + " >= 1e-4");
    }
}
