package org.tessella.diffusion;

import java.util.Arrays;
import java.util.List;
import org.tessella.autograd.Functional;
import org.tessella.autograd.Ops;
import org.tessella.autograd.Tape;
import org.tessella.backend.Backends;
import org.tessella.data.Batcher;
import org.tessella.data.Dataset;
import org.tessella.io.TrainingLog;
import org.tessella.nn.Init;
import org.tessella.nn.Parameter;
import org.tessella.optim.AdamW;
import org.tessella.tensor.Philox;
import org.tessella.tensor.Tensor;
import org.tessella.tensor.Workspace;

/**
 * Learning-to-Cache's router training on a frozen DiT (papers/l2c.md): logits [N/2, 2 depth] initialised N(0, 1);
 * each iteration picks a (full step, cache step) pair of the respaced DDIM schedule, noises clean training images to
 * the full step, runs the frozen model there recording every branch, takes the DDIM step to the cache step, and fits
 * the interpolated model at the cache step ({@code w f + (1 - w) cached}, w = sigmoid(logit)) to the full model there:
 * loss = MSE + lambda * sum(w) over that step's routers. Only the logits train (AdamW, weight decay 0), clamped to
 * [-5, 5] after every update; labels drop to the null label with p 0.1 so the schedule serves guidance.
 */
public final class LearnToCache {
    private LearnToCache() {}

    private static final GaussianDiffusion DIFFUSION = new GaussianDiffusion(); // immutable: one table for every iteration

    public record Config(int iterations, int batch, float lr, float lambda, long seed, float classDropout) {
        public static Config defaults(float lambda) { return new Config(400, 32, 1e-2f, lambda, 1, 0.1f); }
    }

    /** The loss of one iteration (exposed for the gradient check): the interpolated model at the cache step. */
    static Tensor loss(Dit model, Tensor logitsRow, Tensor x0, int[] labels, Tensor noise, int fullStep, int cacheStep, float lambda) {
        GaussianDiffusion d = DIFFUSION;
        int b = labels.length;
        Tensor y = Tensor.ofInts(labels.clone(), b);
        LayerCache cache = new LayerCache(model.config.subLayers());
        Tensor xm, target;
        try (var ignored = Tape.noGrad()) {
            int[] ks = new int[b];
            Arrays.fill(ks, fullStep);
            Tensor xs = d.noised(x0, noise, ks);
            Tensor epsS = model.forward(xs, times(b, fullStep), y, cache.recordAll());
            xm = d.ddimStep(xs, epsS, fullStep, cacheStep);
            target = model.forward(xm, times(b, cacheStep), y);
        }
        Tensor w = Ops.sigmoid(logitsRow);
        Tensor pred = model.forward(xm, times(b, cacheStep), y, cache.interpolate(w));
        return Ops.add(Functional.mse(pred, target), Ops.mulScalar(Ops.sum(w), lambda));
    }

    private static float[] times(int b, int t) {
        float[] out = new float[b];
        Arrays.fill(out, t);
        return out;
    }

    /** Learns the schedule for DDIM with {@code steps} steps; the DiT's weights are not changed. */
    public static CacheSchedule learn(Dit model, Dataset train, int steps, Config cfg, TrainingLog log) {
        DitConfig mc = model.config;
        int[] ts = GaussianDiffusion.respaced(steps);
        int pairs = steps / 2, width = mc.subLayers();
        if (pairs == 0) throw new IllegalArgumentException("learn-cache: " + steps + " steps have no cache step");
        Tensor logits = Ops.persistentCopy(new Init(cfg.seed()).normal(0f, 1f, pairs, width), model.device()).requiresGrad(true);
        AdamW opt = new AdamW(List.of(new Parameter("router", logits, false)), cfg.lr(), 0.9f, 0.999f, 1e-8f, 0f);
        boolean[] trainable = new boolean[model.parameters().size()];
        List<Parameter> params = model.parameters();
        for (int i = 0; i < params.size(); i++) {
            trainable[i] = params.get(i).tensor().requiresGrad();
            params.get(i).tensor().requiresGrad(false);
        }
        boolean wasTraining = model.training();
        model.eval();
        int b = cfg.batch(), img = mc.channels() * mc.imageSize() * mc.imageSize();
        Batcher batcher = new Batcher(train.size(), Math.min(b, train.size()), cfg.seed(), true);
        b = batcher.batchSize();
        float[] images = new float[b * img];
        int[] labels = new int[b];
        Workspace ws = new Workspace();
        try {
            for (int it = 0; it < cfg.iterations(); it++) {
                batcher.next(train, images, labels);
                for (int r = 0; r < b; r++)
                    if (Philox.uniform(cfg.seed() ^ 0xD50DL, (long) it * b + r) < cfg.classDropout()) labels[r] = model.nullClass();
                int pair = Philox.below(cfg.seed() ^ 0xCAC4EL, it, pairs);
                double loss;
                try (Workspace w = ws.open()) {
                    Tensor x0 = Ops.to(Tensor.of(images, b, mc.channels(), mc.imageSize(), mc.imageSize()), model.device());
                    Tensor noise = Ops.to(Ops.randn(cfg.seed() ^ 0x4015EL, (long) it * b * img, b, mc.channels(), mc.imageSize(), mc.imageSize()),
                            model.device());
                    Tensor l = loss(model, Ops.slice(logits, 0, pair, pair + 1), x0, labels, noise, ts[2 * pair], ts[2 * pair + 1], cfg.lambda());
                    loss = l.item();
                    opt.zeroGrad();
                    Tape.backward(l);
                    opt.step();
                    Backends.of(logits.device()).clamp(logits, -5f, 5f, logits);
                }
                if (log != null) log.step(it + 1, loss, 0, cfg.lr(), b, 0);
            }
        } finally {
            for (int i = 0; i < params.size(); i++) params.get(i).tensor().requiresGrad(trainable[i]);
            model.train(wasTraining);
        }
        float[] flat = logits.toFloatArray();
        float[][] rows = new float[pairs][];
        for (int i = 0; i < pairs; i++) rows[i] = Arrays.copyOfRange(flat, i * width, (i + 1) * width);
        return new CacheSchedule(steps, mc.depth(), rows);
    }
}
