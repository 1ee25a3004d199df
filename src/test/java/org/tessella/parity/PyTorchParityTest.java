package org.tessella.parity;

import org.junit.jupiter.api.Test;
import org.tessella.autograd.Functional;
import org.tessella.autograd.Ops;
import org.tessella.autograd.Tape;
import org.tessella.eval.FashionClassifier;
import org.tessella.io.Safetensors;
import org.tessella.nn.Init;
import org.tessella.nn.Module;
import org.tessella.nn.Parameter;
import org.tessella.nn.TransformerBlock;
import org.tessella.tensor.Tensor;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Parity with PyTorch: tools/parity_reference.py builds the classifier CNN and one LlamaGen block with fixed weights,
 * computes in float64, and stores inputs, weights, outputs and every gradient; Tessella loads the same weights and must
 * match (forward relative error below 1e-4, gradients below 1e-3, relative to each tensor's largest magnitude).
 */
class PyTorchParityTest {
    private static final Path DIR = Path.of("src/test/resources/parity");



    static Map<String, Tensor> params(Map<String, Tensor> file) {
        Map<String, Tensor> p = new LinkedHashMap<>();
        file.forEach((k, v) -> { if (k.startsWith("param.")) p.put(k.substring(6), v); });
        return p;
    }

    static void checkGrads(Module m, Map<String, Tensor> file, Tensor input) {
        Parity.assertClose("grad.input", input.grad(), file.get("grad.input"), 1e-3);
        for (Parameter p : m.parameters())
            Parity.assertClose("grad." + p.name(), p.tensor().grad(), file.get("grad." + p.name()), 1e-3);
    }

    @Test
    void classifierMatchesPyTorch() {
        Map<String, Tensor> f = Safetensors.read(DIR.resolve("classifier.safetensors")).tensors();
        FashionClassifier m = new FashionClassifier(new Init(0));
        m.loadStateDict(params(f));
        Tensor x = Tensor.copyOf(f.get("input")).requiresGrad(true);
        Tensor features = m.features(x);
        Tensor logits = m.fc2.forward(features);
        Tensor loss = Functional.crossEntropy(logits, f.get("target"));
        Parity.assertClose("features", features, f.get("features"), 1e-4);
        Parity.assertClose("logits", logits, f.get("logits"), 1e-4);
        Parity.assertClose("loss", loss.reshape(1), f.get("loss"), 1e-4);
        Tape.backward(loss);
        checkGrads(m, f, x);
    }

    @Test
    void transformerBlockMatchesPyTorch() {
        Map<String, Tensor> f = Safetensors.read(DIR.resolve("block.safetensors")).tensors();
        TransformerBlock block = new TransformerBlock(64, 4, 128, 1e-5f, new Init(0));
        block.loadStateDict(params(f));
        Tensor x = Tensor.copyOf(f.get("input")).requiresGrad(true);
        Tensor[] rope = Functional.ropeTables(12, 16, 10000f);
        Tensor out = block.forward(x, rope[0], rope[1]);
        Parity.assertClose("output", out, f.get("output"), 1e-4);
        Tensor loss = Ops.sum(Ops.mul(out, f.get("probe")));
        Parity.assertClose("loss", loss.reshape(1), f.get("loss"), 1e-4);
        Tape.backward(loss);
        checkGrads(block, f, x);
    }
}
