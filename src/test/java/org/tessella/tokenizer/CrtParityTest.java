package org.tessella.tokenizer;

import org.junit.jupiter.api.Test;
import org.tessella.autograd.Ops;
import org.tessella.autograd.Tape;
import org.tessella.io.Safetensors;
import org.tessella.nn.Init;
import org.tessella.nn.Parameter;
import org.tessella.tensor.Tensor;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.tessella.parity.Parity.assertClose;

/**
 * Parity of {@link CrtRegularizer} with the same regularizer in PyTorch (tools/tokenizer_parity_reference.py, float64
 * reference, random weights, RMSNorm gains uniform(0.5, 1.5)) on normalised latents [2, 16, 8]: predictions and loss
 * within 1e-4, every gradient within 1e-3 (relative to the largest magnitude), for both target modes.
 */
class CrtParityTest {
    static final Path FILE = Path.of("src/test/resources/parity/crt_regularizer.safetensors");

    @Test
    void regularizerMatchesPyTorch() {
        Map<String, Tensor> f = Safetensors.read(FILE).tensors();
        Map<String, Tensor> params = new LinkedHashMap<>();
        f.forEach((k, v) -> { if (k.startsWith("param.")) params.put(k.substring(6), v); });
        CrtRegularizer reg = new CrtRegularizer(8, new Init(0));
        reg.loadStateDict(params);
        Tensor x = Tensor.copyOf(f.get("input")).requiresGrad(true);
        Tensor pred = reg.forward(Ops.slice(x, 1, 0, x.shape(1) - 1));
        assertClose("crt.output", pred, f.get("output"), 1e-4);
        Tape.clear();
        Tensor loss = reg.loss(x, false);
        assertClose("crt.loss", loss.reshape(1), f.get("loss"), 1e-4);
        Tape.backward(loss);
        assertClose("crt.grad.input", x.grad(), f.get("grad.input"), 1e-3);
        for (Parameter p : reg.parameters())
            assertClose("crt.grad." + p.name(), p.tensor().grad(), f.get("grad." + p.name()), 1e-3);

        Tensor xd = Tensor.copyOf(f.get("input")).requiresGrad(true);
        Tape.backward(reg.loss(xd, true));
        assertClose("crt.grad.input_detach_target", xd.grad(), f.get("grad.input_detach_target"), 1e-3);
    }
}
