package org.tessella.eval;

import org.tessella.autograd.Functional;
import org.tessella.autograd.Ops;
import org.tessella.autograd.Tape;
import org.tessella.backend.FlopCounter;
import org.tessella.data.Batcher;
import org.tessella.data.Dataset;
import org.tessella.io.TrainingLog;
import org.tessella.nn.Parameter;
import org.tessella.optim.AdamW;
import org.tessella.optim.GradClip;
import org.tessella.optim.LrSchedule;
import org.tessella.tensor.Tensor;
import org.tessella.tensor.Workspace;

import java.util.List;
import java.util.function.IntConsumer;

/**
 * Trains {@link FashionClassifier} with AdamW, warmup and cosine decay, on images given as flat float arrays of
 * 32x32 padded pixels in [-1, 1]. Each step runs inside a {@link Workspace}, so steady-state steps allocate (almost)
 * nothing on the Java heap. The model trains where its weights are ({@code model.to(device)} first); batches are
 * filled on the host and uploaded once per step.
 */
public final class ClassifierTraining {
    private ClassifierTraining() {}

    public static final int PIXELS = 32 * 32;

    public record Config(int epochs, int batch, float lr, float weightDecay, long seed, int warmupSteps, double clip) {
        public static Config defaults() { return new Config(3, 128, 2e-3f, 0.01f, 1, 100, 5.0); }
    }

    public record Result(double testAccuracy, double trainSeconds, double imagesPerSecond, int epochs, long steps,
                         double finalLoss, long trainFlops) {}

    /** Trains in place; calls {@code afterEpoch} with the epoch number (for checkpoints). */
    public static Result train(FashionClassifier model, Dataset train, Dataset test, Config cfg, TrainingLog log,
                               IntConsumer afterEpoch) {
        if (train.imageSize() != PIXELS || test.imageSize() != PIXELS)
            throw new IllegalArgumentException("the classifier wants 1x32x32 images, got " + train.channels() + "x" + train.height() + "x" + train.width());
        List<Parameter> params = model.parameters();
        AdamW opt = new AdamW(params, cfg.lr(), 0.9f, 0.999f, 1e-8f, cfg.weightDecay());
        int stepsPerEpoch = train.size() / cfg.batch();
        if (stepsPerEpoch == 0) throw new IllegalArgumentException("batch " + cfg.batch() + " is larger than the " + train.size() + " training images");
        long total = (long) stepsPerEpoch * cfg.epochs();
        LrSchedule schedule = LrSchedule.warmupCosine(cfg.lr(), cfg.lr() * 0.01f, cfg.warmupSteps(), total);
        Tensor x = Tensor.persistent(org.tessella.tensor.DType.F32, cfg.batch(), 1, 32, 32);
        Tensor y = Tensor.persistent(org.tessella.tensor.DType.I32, cfg.batch());
        Workspace ws = new Workspace();
        long flops0 = FlopCounter.total();
        long t0 = System.nanoTime();
        double lastLoss = Double.NaN;
        long step = 0;
        model.train(true);
        Batcher batcher = new Batcher(train.size(), cfg.batch(), cfg.seed(), true);
        for (int epoch = 0; epoch < cfg.epochs(); epoch++) {
            for (int b = 0; b < stepsPerEpoch; b++) {
                batcher.next(train, x, y);
                long f0 = FlopCounter.total();
                float lr = schedule.at(step);
                opt.setLearningRate(lr);
                double gnorm;
                try (Workspace ignored = ws.open()) {
                    // the batch goes to the model's device once per step (the identity on the CPU)
                    Tensor loss = Functional.crossEntropy(model.forward(x), Ops.to(y, model.device()));
                    lastLoss = loss.item();
                    if (!Double.isFinite(lastLoss))
                        throw new IllegalStateException("loss became " + lastLoss + " at step " + (step + 1)
                                + "; lower --lr; the last good checkpoint is the one saved after epoch " + epoch);
                    opt.zeroGrad();
                    Tape.backward(loss);
                    gnorm = GradClip.clip(params, cfg.clip());
                    opt.step();
                }
                step++;
                if (log != null) log.step(step, lastLoss, gnorm, lr, cfg.batch(), FlopCounter.total() - f0);
            }
            if (afterEpoch != null) afterEpoch.accept(epoch + 1);
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        long flops = FlopCounter.total() - flops0;
        double acc = accuracy(model, test, 500);
        return new Result(acc, seconds, step * cfg.batch() / seconds, cfg.epochs(), step, lastLoss, flops);
    }

    /** Fraction of correctly classified images, evaluated in batches without recording gradients. */
    public static double accuracy(FashionClassifier model, Dataset data, int batch) {
        model.eval();
        int correct = 0;
        Workspace ws = new Workspace();
        try (var ignored = Tape.noGrad()) {
            for (int s = 0; s < data.size(); s += batch) {
                int b = Math.min(batch, data.size() - s);
                float[] px = new float[b * PIXELS];
                System.arraycopy(data.images(), s * PIXELS, px, 0, b * PIXELS);
                try (Workspace w = ws.open()) {
                    int[] pred = Ops.argmax(model.forward(Tensor.of(px, b, 1, 32, 32))).toIntArray();
                    for (int i = 0; i < b; i++) if (pred[i] == data.labels()[s + i]) correct++;
                }
            }
        }
        model.train(true);
        return (double) correct / data.size();
    }
}
