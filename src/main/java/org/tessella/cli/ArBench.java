package org.tessella.cli;

import org.tessella.ar.Gpt;
import org.tessella.ar.GptConfig;
import org.tessella.ar.SampleOptions;
import org.tessella.ar.Sampler;
import org.tessella.autograd.Ops;
import org.tessella.autograd.Tape;
import org.tessella.backend.Backend;
import org.tessella.backend.Backends;
import org.tessella.backend.FlopCounter;
import org.tessella.nn.Parameter;
import org.tessella.optim.AdamW;
import org.tessella.tensor.Device;
import org.tessella.tensor.Philox;
import org.tessella.tensor.Tensor;
import org.tessella.tensor.Workspace;

import java.util.List;
import java.util.Locale;
import java.util.Set;

/** {@code tessella bench ar}: stage-2 training and sampling throughput on generated tokens. */
final class ArBench {
    private ArBench() {}

    static int run(String[] argv) {
        Args a = Args.parse("bench ar", argv, Set.of("model", "batch", "steps", "threads", "vocab", "length", "device"), Set.of());
        Main.configureThreads(a);
        Device device = Main.device(a);
        int batch = a.integer("batch", 64), steps = a.integer("steps", 10), vocab = a.integer("vocab", 1024), len = a.integer("length", 64);
        int side = (int) Math.round(Math.sqrt(len));
        GptConfig c = GptConfig.preset(a.string("model", "gpt-s"), vocab, len, side, side * side == len ? side : 1, 10);
        Gpt model = new Gpt(c, 1);
        Backends.cpu().randomNormal(model.output.weight, 2, 0, 0f, 0.02f); // a zero head would make sampling trivial
        model.to(device);
        Backend be = Backends.of(device);
        System.out.printf(Locale.ROOT, "%s: %,d parameters, vocabulary %d, %d tokens, %s%n", c.name(), model.parameterCount(), vocab, len,
                Main.where(device));

        // training: forward, backward, AdamW
        int[] tk = new int[batch * len], lb = new int[batch];
        for (int i = 0; i < tk.length; i++) tk[i] = Philox.below(3, i, vocab);
        for (int i = 0; i < batch; i++) lb[i] = i % 10;
        Tensor tokens = Ops.to(Tensor.ofInts(tk, batch, len), device), labels = Ops.to(Tensor.ofInts(lb, batch), device);
        List<Parameter> params = model.parameters();
        AdamW opt = new AdamW(params, 1e-4f, 0.05f);
        Workspace ws = new Workspace();
        Runnable step = () -> {
            try (Workspace w = ws.open()) {
                Tensor loss = model.loss(labels, tokens);
                opt.zeroGrad();
                Tape.backward(loss);
                opt.step();
            }
        };
        for (int i = 0; i < 3; i++) step.run();
        long f0 = FlopCounter.total(), t0 = System.nanoTime();
        for (int i = 0; i < steps; i++) step.run();
        be.synchronize();
        double secs = (System.nanoTime() - t0) / 1e9;
        double gflops = (FlopCounter.total() - f0) / secs / 1e9;
        System.out.printf(Locale.ROOT, "train  batch %3d: %8.0f tokens/s  %6.1f ms/step  %6.1f GFLOP/s%n", batch,
                steps * (double) batch * len / secs, secs * 1e3 / steps, gflops);

        // sampling with and without the KV cache
        SampleOptions o = SampleOptions.defaults().withSeed(5);
        for (int b : new int[]{1, batch}) {
            int[] classes = new int[b];
            for (int i = 0; i < b; i++) classes[i] = i % 10;
            for (boolean cache : new boolean[]{true, false}) {
                sample(model, classes, o, cache); // warm
                long s0 = System.nanoTime();
                sample(model, classes, o, cache);
                double ss = (System.nanoTime() - s0) / 1e9;
                System.out.printf(Locale.ROOT, "sample batch %3d %-11s %8.0f tokens/s  %7.1f ms/sequence batch%n", b,
                        cache ? "(KV cache):" : "(no cache):", b * (double) len / ss, ss * 1e3);
            }
        }
        return 0;
    }

    private static int[][] sample(Gpt model, int[] classes, SampleOptions o, boolean cache) {
        return cache ? Sampler.sample(model, classes, o) : Sampler.sampleWithoutCache(model, classes, o);
    }
}
