package org.tessella.tokenizer;

import org.junit.jupiter.api.Test;
import org.tessella.autograd.Ops;
import org.tessella.autograd.Tape;
import org.tessella.io.Safetensors;
import org.tessella.nn.Init;
import org.tessella.nn.Parameter;
import org.tessella.parity.Parity;
import org.tessella.tensor.Tensor;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Parity of {@link ResBlock} with PyTorch: tools/tokenizer_parity_reference.py builds a ResBlock 64 -> 128 (1x1 skip,
 * GroupNorm(32, eps 1e-6) with random affine parameters), computes in float64, and stores inputs, weights, output and
 * every gradient. Forward relative error below 1e-4, gradients below 1e-3, relative to each tensor's largest magnitude.
 */
class ResBlockParityTest {
    private static final Path FILE = Path.of("src/test/resources/parity/resblock.safetensors");



    @Test
    void resBlockMatchesPyTorch() {
        Map<String, Tensor> f = Safetensors.read(FILE).tensors();
        Map<String, Tensor> params = new LinkedHashMap<>();
        f.forEach((k, v) -> { if (k.startsWith("param.")) params.put(k.substring(6), v); });
        ResBlock block = new ResBlock(64, 128, 32, new Init(0));
        block.loadStateDict(params);
        assertEquals(10, params.size());

        Tensor x = Tensor.copyOf(f.get("input")).requiresGrad(true);
        Tensor out = block.forward(x);
        double worstForward = Parity.assertClose("output", out, f.get("output"), 1e-4);
        Tensor loss = Ops.sum(Ops.mul(out, f.get("probe")));
        worstForward = Math.max(worstForward, Parity.assertClose("loss", loss.reshape(1), f.get("loss"), 1e-4));
        Tape.backward(loss);
        double worstGrad = Parity.assertClose("grad.input", x.grad(), f.get("grad.input"), 1e-3);
        for (Parameter p : block.parameters())
            worstGrad = Math.max(worstGrad, Parity.assertClose("grad." + p.name(), p.tensor().grad(), f.get("grad." + p.name()), 1e-3));
        System.out.printf("ResBlock parity: forward %.2e, gradients %.2e (relative to max magnitude)%n", worstForward, worstGrad);
    }
}
