package org.tessella.cli;

import org.tessella.ar.Gpt;
import org.tessella.ar.GptConfig;
import org.tessella.autograd.Functional;
import org.tessella.autograd.Ops;
import org.tessella.autograd.Tape;
import org.tessella.backend.Backend;
import org.tessella.backend.Backends;
import org.tessella.cuda.CudaBackend;
import org.tessella.cuda.CudaUnavailableException;
import org.tessella.cuda.DevicePool;
import org.tessella.cuda.GemmPrecision;
import org.tessella.data.Dataset;
import org.tessella.data.SyntheticImages;
import org.tessella.diffusion.CacheBaselines;
import org.tessella.diffusion.CacheSchedule;
import org.tessella.diffusion.DdimSampler;
import org.tessella.diffusion.Dit;
import org.tessella.diffusion.DitBlock;
import org.tessella.diffusion.DitConfig;
import org.tessella.diffusion.GaussianDiffusion;
import org.tessella.diffusion.LearnToCache;
import org.tessella.nn.Init;
import org.tessella.nn.Module;
import org.tessella.nn.Parameter;
import org.tessella.optim.AdamW;
import org.tessella.optim.GradClip;
import org.tessella.tensor.Device;
import org.tessella.tensor.Philox;
import org.tessella.tensor.Tensor;
import org.tessella.tensor.Workspace;
import org.tessella.tokenizer.VqConfig;
import org.tessella.tokenizer.VqTokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * The model stack on a GPU against the CPU, above the backend's own checks ({@code org.tessella.cuda.CudaSelfTest}):
 * one training step of gpt-s, vq-s and dit-s built from the same seed on both (the loss, every gradient, the gradient
 * norm and every parameter after clipping and AdamW, in float32), cached DDIM sampling and a few Learning-to-Cache
 * router updates of dit-s, and device memory in use after 1000 steps of a
 * small transformer equal to that after 10. Shared by tools/cuda-check (this class's {@link #main}, on a GPU machine
 * without Maven) and the JUnit test {@code org.tessella.cuda.ModelTrainingTest}. It lives in {@code cli} because it
 * needs the model packages and the CUDA backend together, and only {@code cli} may use both.
 *
 * <p>Errors are normwise relative (||gpu - cpu|| / ||cpu|| per tensor, the worst tensor named); the tolerance is
 * 1e-4 with the GPU's matrix products in FP32 (this class sets that for the comparison and restores the setting).
 *
 * <p>{@code java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp tessella.jar
 * org.tessella.cli.CudaModelChecks [--device N] [--memory-steps 1000]}
 */
public final class CudaModelChecks {
    public static final double TOLERANCE = 1e-4;

    /** What a check measured: its error (compared with the tolerance) and a line of detail. */
    public record Outcome(double error, String detail) {}

    /** One named check. */
    public record Check(String name, double tolerance, Supplier<Outcome> run) {}

    private CudaModelChecks() {}

    public static void main(String[] args) {
        int ordinal = 0, memorySteps = 1000;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--device" -> ordinal = Integer.parseInt(args[++i]);
                case "--memory-steps" -> memorySteps = Integer.parseInt(args[++i]);
                default -> {
                    System.err.println("usage: CudaModelChecks [--device N] [--memory-steps 1000]");
                    System.exit(2);
                }
            }
        }
        Device device = Device.cuda(ordinal);
        try {
            Backends.of(device);
        } catch (CudaUnavailableException e) {
            System.out.println("FAIL " + e.getMessage());
            System.out.println("models: 0 passed, 1 failed");
            System.exit(1);
        }
        int passed = 0, failed = 0;
        for (Check c : checks(device, memorySteps)) {
            long t0 = System.nanoTime();
            String line;
            boolean ok;
            try {
                Outcome o = c.run().get();
                ok = o.error() <= c.tolerance();
                line = String.format(Locale.ROOT, "%s %s: error %.2e (tolerance %.0e), %.0f ms; %s", ok ? "PASS" : "FAIL", c.name(),
                        o.error(), c.tolerance(), (System.nanoTime() - t0) / 1e6, o.detail());
            } catch (RuntimeException | AssertionError e) {
                ok = false;
                line = "FAIL " + c.name() + ": " + e;
            }
            System.out.println(line);
            if (ok) passed++;
            else failed++;
        }
        System.out.println("models: " + passed + " passed, " + failed + " failed");
        System.exit(failed == 0 ? 0 : 1);
    }

    /** The checks, memory first (so no tensor of another check is collected while it counts). */
    public static List<Check> checks(Device device, int memorySteps) {
        List<Check> c = new ArrayList<>();
        c.add(new Check("device memory in use after " + memorySteps + " steps equals that after 10 (small gpt, AdamW)", 0,
                () -> memoryFlat(device, memorySteps)));
        c.add(new Check("gpt-s training step (batch 4) on " + device + " vs cpu: loss, gradients, parameters after AdamW",
                TOLERANCE, () -> gptStep(device)));
        c.add(new Check("vq-s training step (batch 2) on " + device + " vs cpu: loss, gradients, parameters after AdamW",
                TOLERANCE, () -> vqStep(device)));
        c.add(new Check("dit-s training step (batch 4) on " + device + " vs cpu: loss, gradients, parameters after AdamW",
                TOLERANCE, () -> ditStep(device)));
        c.add(new Check("dit-s DDIM-10 with CFG and a cache schedule on " + device + " vs cpu: images, and the cache's effect",
                TOLERANCE, () -> ditCachedSampling(device)));
        c.add(new Check("learn-cache (3 router updates, dit-s) on " + device + " vs cpu: router logits", TOLERANCE,
                () -> ditLearnCache(device)));
        return c;
    }

    /** dit-s from seed 1 with its zero-initialised modulations and head made random, so every weight matters. */
    static Dit randomDit() {
        Dit d = new Dit(DitConfig.preset("dit-s"), new Init(1));
        long salt = 20;
        for (Tensor t : List.of(d.finalModulation.weight, d.finalModulation.bias, d.finalLinear.weight, d.finalLinear.bias))
            Backends.cpu().randomNormal(t, salt++, 0, 0f, 0.02f);
        for (DitBlock b : d.blocks) {
            Backends.cpu().randomNormal(b.modulation.weight, salt++, 0, 0f, 0.02f);
            Backends.cpu().randomNormal(b.modulation.bias, salt++, 0, 0f, 0.1f);
        }
        return d;
    }

    /** The train-dit loss: noised images at per-row timesteps, one label dropped to the null class. */
    static Outcome ditStep(Device device) {
        DitConfig c = DitConfig.preset("dit-s");
        int batch = 4, img = c.channels() * c.imageSize() * c.imageSize();
        float[] px = new float[batch * img];
        for (int i = 0; i < px.length; i++) px[i] = 2f * Philox.uniform(15, i) - 1f;
        int[] ts = {999, 500, 37, 0}, lb = {3, 7, 0, c.classes()};
        float[] tf = {999, 500, 37, 0};
        GaussianDiffusion diffusion = new GaussianDiffusion();
        return stepAgainstCpu(device, CudaModelChecks::randomDit, m -> {
            Dit d = (Dit) m;
            Tensor x0 = Ops.to(Tensor.of(px, batch, c.channels(), c.imageSize(), c.imageSize()), d.device());
            Tensor eps = Ops.to(Ops.randn(16, 0, batch, c.channels(), c.imageSize(), c.imageSize()), d.device());
            return Functional.mse(d.forward(diffusion.noised(x0, eps, ts), tf, Tensor.ofInts(lb, batch)), eps);
        }, 0.999f, 0f);
    }

    /** A cache schedule that skips about a third of the cache-step sub-layers (a fixed pattern). */
    static CacheSchedule someSkipped(int steps, int depth) {
        boolean[][] keep = new boolean[steps / 2][2 * depth];
        for (int i = 0; i < keep.length; i++) for (int j = 0; j < keep[i].length; j++) keep[i][j] = (i + 2 * j) % 3 != 0;
        return CacheBaselines.ofMask(steps, depth, keep);
    }

    static Outcome ditCachedSampling(Device device) {
        return withFp32(device, () -> {
            int[] labels = {0, 4, 9, 2};
            DdimSampler sampler = new DdimSampler(10);
            Dit cpu = randomDit(), dev = (Dit) randomDit().to(device);
            CacheSchedule s = someSkipped(10, cpu.config.depth());
            float[] want = sampler.sample(cpu, labels, 2f, 5, s, 0.5f, DdimSampler.Skipped.REUSE, 3);
            float[] got = sampler.sample(dev, labels, 2f, 5, s, 0.5f, DdimSampler.Skipped.REUSE, 3);
            float[] full = sampler.sample(cpu, labels, 2f, 5, null, 0.5f, DdimSampler.Skipped.REUSE, 3);
            double error = normError(got, want), effect = normError(full, want);
            // the comparison means something only if caching changes the images by far more than the devices differ
            return new Outcome(effect > 100 * error ? error : Double.POSITIVE_INFINITY, String.format(Locale.ROOT,
                    "%d images; caching %.0f%% of the cache steps' sub-layers moves them by %.2e", labels.length,
                    100 * s.skipped(0.5f)[2], effect));
        });
    }

    static Outcome ditLearnCache(Device device) {
        return withFp32(device, () -> {
            DitConfig c = DitConfig.preset("dit-s");
            Dataset images = SyntheticImages.shapes(8, c.imageSize(), c.imageSize(), 6, 17);
            LearnToCache.Config cfg = new LearnToCache.Config(3, 4, 0.1f, 0.01f, 1, 0.1f);
            CacheSchedule want = LearnToCache.learn(randomDit(), images, 10, cfg, null);
            CacheSchedule got = LearnToCache.learn((Dit) randomDit().to(device), images, 10, cfg, null);
            float[] w = flat(want.logits()), g = flat(got.logits()), start = new Init(cfg.seed()).normal(0f, 1f, 5, 2 * c.depth()).toFloatArray();
            double moved = normError(start, w);
            return new Outcome(moved > 0 ? normError(g, w) : Double.POSITIVE_INFINITY, String.format(Locale.ROOT,
                    "%d logits; the updates moved them by %.2e from their start", w.length, moved));
        });
    }

    private static float[] flat(float[][] rows) {
        int n = 0;
        for (float[] r : rows) n += r.length;
        float[] out = new float[n];
        int k = 0;
        for (float[] r : rows) for (float v : r) out[k++] = v;
        return out;
    }

    /** Runs a comparison with the device's matrix products in FP32, restoring the setting after. */
    private static Outcome withFp32(Device device, Supplier<Outcome> run) {
        Backend gpu = Backends.of(device);
        GemmPrecision before = gpu instanceof CudaBackend cb ? cb.matmulPrecision() : null;
        if (gpu instanceof CudaBackend cb) cb.setMatmulPrecision(GemmPrecision.FP32);
        try {
            return run.get();
        } finally {
            if (gpu instanceof CudaBackend cb) cb.setMatmulPrecision(before);
        }
    }

    // ---- one training step on both devices ------------------------------------------------------------------------

    /** gpt-s of bench train (vocabulary 1024, 64 tokens) with its zero head made random, so every weight gets a gradient. */
    static Outcome gptStep(Device device) {
        GptConfig c = TrainBench.gptConfig("gpt-s");
        int batch = 4;
        int[] tk = new int[batch * c.length()], lb = new int[batch];
        for (int i = 0; i < tk.length; i++) tk[i] = Philox.below(11, i, c.vocab());
        for (int i = 0; i < batch; i++) lb[i] = i == batch - 1 ? c.nullClass() : Philox.below(12, i, c.classes());
        Supplier<Module> build = () -> {
            Gpt g = new Gpt(c, 1);
            Backends.cpu().randomNormal(g.output.weight, 13, 0, 0f, 0.02f);
            return g;
        };
        return stepAgainstCpu(device, build, m -> ((Gpt) m).loss(Tensor.ofInts(lb, batch), Tensor.ofInts(tk, batch, c.length())),
                0.95f, 0.05f);
    }

    static Outcome vqStep(Device device) {
        int batch = 2, s = VqConfig.IMAGE_SIZE;
        float[] px = new float[batch * s * s];
        for (int i = 0; i < px.length; i++) px[i] = 2f * Philox.uniform(14, i) - 1f;
        Supplier<Module> build = () -> new VqTokenizer(VqConfig.preset("vq-s"), new Init(1));
        int[][] codes = new int[2][];
        Outcome o = stepAgainstCpu(device, build, m -> {
            VqTokenizer.Output out = ((VqTokenizer) m).forward(Tensor.of(px, batch, 1, s, s));
            codes[m.device().kind() == Device.Kind.CPU ? 0 : 1] = out.quant().indices().toIntArray();
            return out.loss();
        }, 0.95f, 0f);
        int differ = 0;
        for (int i = 0; i < codes[0].length; i++) if (codes[0][i] != codes[1][i]) differ++;
        return new Outcome(o.error(), o.detail() + "; codes differing " + differ + " of " + codes[0].length
                + (differ > 0 ? " (near ties of the cosine argmax)" : ""));
    }

    /**
     * Builds the model twice from the same seed, keeps one on the CPU and moves the other to {@code device}, runs one
     * step on each (loss, backward, global-norm clip at 1, AdamW lr 1e-3) and compares: the loss, every gradient, the
     * gradient norm and every parameter after the update. Returns the largest relative error and where it was.
     */
    static Outcome stepAgainstCpu(Device device, Supplier<Module> build, Function<Module, Tensor> lossOf, float beta2,
                                  float weightDecay) {
        return withFp32(device, () -> {
            // the reference: the CPU's direct convolutions (its default Winograd path rounds about 20x more)
            StepResult cpu = Backends.cpu().withReferenceKernels(() -> step(build.get(), lossOf, beta2, weightDecay));
            StepResult dev = step(build.get().to(device), lossOf, beta2, weightDecay);
            Worst w = new Worst();
            w.add("loss", new float[]{(float) dev.loss}, new float[]{(float) cpu.loss});
            w.add("gradient norm", new float[]{(float) dev.gradNorm}, new float[]{(float) cpu.gradNorm});
            double gradWorst = 0;
            for (int i = 0; i < cpu.names.size(); i++) {
                w.add("grad " + cpu.names.get(i), dev.grads.get(i), cpu.grads.get(i));
                gradWorst = Math.max(gradWorst, normError(dev.grads.get(i), cpu.grads.get(i)));
            }
            for (int i = 0; i < cpu.names.size(); i++) w.add("param " + cpu.names.get(i), dev.params.get(i), cpu.params.get(i));
            return new Outcome(w.error, String.format(Locale.ROOT, "loss %.7f vs %.7f, %d gradients (worst %.2e), worst of all: %s",
                    dev.loss, cpu.loss, cpu.names.size(), gradWorst, w.where));
        });
    }

    private record StepResult(double loss, double gradNorm, List<String> names, List<float[]> grads, List<float[]> params) {}

    private static StepResult step(Module m, Function<Module, Tensor> lossOf, float beta2, float weightDecay) {
        List<Parameter> params = m.parameters();
        AdamW opt = new AdamW(params, 1e-3f, 0.9f, beta2, 1e-8f, weightDecay);
        m.train(true);
        List<String> names = new ArrayList<>();
        List<float[]> grads = new ArrayList<>(), after = new ArrayList<>();
        double loss, norm;
        try (Workspace w = new Workspace().open()) {
            Tensor l = lossOf.apply(m);
            loss = l.item();
            opt.zeroGrad();
            Tape.backward(l);
            for (Parameter p : params) {
                names.add(p.name());
                Tensor g = p.tensor().grad();
                grads.add(g == null ? new float[p.tensor().numel()] : g.toFloatArray());
            }
            norm = GradClip.clip(params, 1.0);
            opt.step();
        }
        for (Parameter p : params) after.add(p.tensor().toFloatArray());
        return new StepResult(loss, norm, names, grads, after);
    }

    /** The largest normwise error seen so far and the tensor it was in. */
    private static final class Worst {
        double error;
        String where = "-";

        void add(String name, float[] got, float[] want) {
            double e = normError(got, want);
            if (!(e <= error)) { // NaN counts as worst
                error = Double.isNaN(e) ? Double.POSITIVE_INFINITY : e;
                where = String.format(Locale.ROOT, "%s %.2e", name, e);
            }
        }
    }

    /** ||got - want|| / ||want|| (0 when both are zero). */
    static double normError(float[] got, float[] want) {
        if (got.length != want.length) return Double.POSITIVE_INFINITY;
        double d = 0, w = 0;
        for (int i = 0; i < got.length; i++) {
            double e = (double) got[i] - want[i];
            d += e * e;
            w += (double) want[i] * want[i];
        }
        if (d == 0) return 0;
        return Math.sqrt(d / Math.max(w, 1e-300));
    }

    /**
     * Lets the cleaners return the blocks of device tensors that earlier work (other checks or tests in this JVM) left
     * unreachable: one returned during the run would look like a change of the memory in use.
     */
    private static void settleEarlierGarbage() {
        for (int i = 0; i < 3; i++) {
            System.gc();
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    // ---- memory over a long run ---------------------------------------------------------------------------------

    /**
     * A small gpt (vocabulary 64, 16 tokens, width 64, 2 blocks) trained for {@code steps} steps as train-ar trains
     * (a new host batch each step, uploaded by the model, loss read back, clip, AdamW) inside one workspace; the
     * device pool's bytes in use after step 10 and after the last step must be equal. The number of device
     * allocations (cuMemAlloc) is reported beside it.
     */
    static Outcome memoryFlat(Device device, int steps) {
        if (!(Backends.of(device) instanceof CudaBackend gpu)) return new Outcome(Double.NaN, device + " has no device pool");
        settleEarlierGarbage();
        DevicePool pool = gpu.context().pool();
        GptConfig c = new GptConfig("tiny", 64, 16, 4, 4, 10, 64, 2, 4, 128, false, 10000f, 1e-5f, 0.1f);
        Gpt model = new Gpt(c, 3);
        model.to(device);
        List<Parameter> params = model.parameters();
        AdamW opt = new AdamW(params, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.05f);
        int batch = 8;
        int[] tk = new int[batch * c.length()], lb = new int[batch];
        Tensor tokens = Tensor.ofInts(tk, batch, c.length()), labels = Tensor.ofInts(lb, batch);
        Workspace ws = new Workspace();
        long inUse10 = -1, allocs10 = -1;
        double loss = Double.NaN;
        for (int step = 1; step <= steps; step++) {
            for (int i = 0; i < tk.length; i++) tk[i] = Philox.below(step, i, c.vocab()); // a new batch, in place
            for (int i = 0; i < batch; i++) lb[i] = Philox.below(step, tk.length + i, c.classes());
            try (Workspace w = ws.open()) {
                Tensor l = model.loss(labels, tokens);
                loss = l.item();
                opt.zeroGrad();
                Tape.backward(l);
                GradClip.clip(params, 1.0);
                opt.step();
            }
            if (step == 10) {
                gpu.synchronize();
                inUse10 = pool.stats().bytesInUse();
                allocs10 = pool.stats().deviceAllocations();
            }
        }
        gpu.synchronize();
        DevicePool.Stats end = pool.stats();
        return new Outcome(Math.abs(end.bytesInUse() - inUse10), String.format(Locale.ROOT,
                "in use %.3f MiB after step 10, %.3f MiB after step %d; cuMemAlloc calls %d then %d; last loss %.4f",
                inUse10 / 1048576.0, end.bytesInUse() / 1048576.0, steps, allocs10, end.deviceAllocations(), loss));
    }
}
