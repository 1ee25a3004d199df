package org.tessella.eval;

import java.util.Arrays;
import org.tessella.ar.Generator;
import org.tessella.ar.Gpt;
import org.tessella.ar.SampleOptions;
import org.tessella.autograd.Tape;
import org.tessella.tensor.Tensor;
import org.tessella.tensor.Workspace;
import org.tessella.tokenizer.VqTokenizer;

/**
 * Generation quality of a stage-2 model over a tokenizer: class-balanced class-conditional samples, decoded to images,
 * scored by the Fashion-MNIST classifier: Frechet distance of their penultimate features to a reference (the test
 * set's) and the fraction that the classifier labels as the requested class.
 */
public final class GenerationEval {
    private GenerationEval() {}

    /** FD to the reference, class accuracy, and the decoded images [n * 1024] in label order (class c at c*n/10...). */
    public record Result(double frechetDistance, double classAccuracy, int count, float[] images, int[] labels, double seconds) {}

    /** 100 sequences at a time keep the KV cache and the decoder's activations small. */
    private static final int BATCH = 100;

    /**
     * Samples {@code count} images (count/10 per class, rounded up to whole classes), decodes them and scores them.
     * Deterministic for a seed.
     */
    public static Result evaluate(Gpt model, VqTokenizer tokenizer, FashionClassifier classifier, FrechetDistance.Stats reference,
                                  int count, float cfg, long seed) {
        int classes = model.config.classes(), per = Math.max(1, (count + classes - 1) / classes), n = per * classes;
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) labels[i] = i / per;
        long t0 = System.nanoTime();
        Generator g = Generator.of(model);
        float[] images = new float[n * 1024];
        Workspace ws = new Workspace();
        try (var ignored = Tape.noGrad()) {
            for (int s = 0; s < n; s += BATCH) {
                int bs = Math.min(BATCH, n - s);
                int[][] seqs = g.sample(Arrays.copyOfRange(labels, s, s + bs), SampleOptions.defaults().withCfg(cfg).withSeed(seed + s));
                int len = seqs[0].length;
                int[] flat = new int[bs * len];
                for (int i = 0; i < bs; i++) System.arraycopy(seqs[i], 0, flat, i * len, len);
                try (Workspace w = ws.open()) {
                    float[] img = tokenizer.decodeIndices(Tensor.ofInts(flat, bs, len)).toFloatArray();
                    for (int i = 0; i < img.length; i++) images[s * 1024 + i] = Math.max(-1f, Math.min(1f, img[i]));
                }
            }
        }
        double fd = FrechetDistance.distance(FrechetDistance.stats(classifier, images, n), reference);
        double acc = FrechetDistance.classAccuracy(classifier, images, labels);
        return new Result(fd, acc, n, images, labels, (System.nanoTime() - t0) / 1e9);
    }
}
