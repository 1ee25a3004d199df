package org.tessella.eval;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.tessella.ar.ArTraining;
import org.tessella.ar.Gpt;
import org.tessella.ar.TokenFile;
import org.tessella.autograd.Tape;
import org.tessella.data.Dataset;
import org.tessella.tensor.Tensor;
import org.tessella.tensor.Workspace;
import org.tessella.tokenizer.TokenizerTraining;
import org.tessella.tokenizer.VqTokenizer;

/**
 * Every metric of a trained tokenizer and, optionally, of a stage-2 model over it, on one test set: what
 * {@code tessella eval} writes into metrics.json and what the study computes per run.
 */
public final class Evaluation {
    private Evaluation() {}

    /** Reconstructions of the first {@code count} test images, in their order. */
    public static float[] reconstruct(VqTokenizer model, Dataset test, int count) {
        int n = Math.min(count, test.size()), img = test.imageSize();
        float[] y = new float[n * img];
        Workspace ws = new Workspace();
        boolean was = model.training();
        model.eval();
        try (var ignored = Tape.noGrad()) {
            for (int s = 0; s < n; s += 200) {
                int b = Math.min(200, n - s);
                try (Workspace w = ws.open()) {
                    Tensor x = Tensor.of(Arrays.copyOfRange(test.images(), s * img, (s + b) * img), b, 1, 32, 32);
                    float[] r = model.decodeIndices(model.encodeIndices(x)).toFloatArray();
                    System.arraycopy(r, 0, y, s * img, r.length);
                }
            }
        } finally {
            model.train(was);
        }
        return y;
    }

    /** SSIM of the first {@code count} test images' reconstructions. */
    public static double reconstructionSsim(VqTokenizer model, Dataset test, int count) {
        int n = Math.min(count, test.size());
        return ImageMetrics.ssim(Arrays.copyOf(test.images(), n * test.imageSize()), reconstruct(model, test, n), n, 32, 32);
    }

    /**
     * The tokenizer's numbers on {@code test}: PSNR and MSE, SSIM, codebook usage, code entropy (also given the
     * position) and perplexity.
     */
    public static Map<String, Object> tokenizer(VqTokenizer model, Dataset test) {
        TokenizerTraining.Eval e = TokenizerTraining.evaluate(model, null, test, new Workspace());
        CodebookStats cs = CodebookStats.of(e.counts());
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("test_images", test.size());
        m.put("test_psnr_db", e.psnrDb());
        m.put("test_mse", e.mse());
        m.put("test_ssim", reconstructionSsim(model, test, test.size()));
        m.put("codebook_size", model.config.codebookSize());
        m.put("tokens_per_image", model.tokens());
        m.put("codebook_usage", cs.usage());
        m.put("code_entropy_bits", cs.entropyBits());
        m.put("code_entropy_given_position_bits", e.positionEntropyBits());
        m.put("perplexity", cs.perplexity());
        return m;
    }

    /**
     * A stage-2 model over the tokenizer: validation bits per token on the test images' tokens, and class-balanced
     * samples decoded and scored by the classifier (Frechet distance to the test set's features, class accuracy).
     */
    public static Map<String, Object> generator(Gpt model, VqTokenizer tokenizer, FashionClassifier classifier, Dataset test,
                                                int samples, float cfg, long seed) {
        TokenFile tokens = TokenProbe.tokenFile(tokenizer, test.subset(1), test, Map.of());
        ArTraining.checkFits(model.config, tokens, null);
        ArTraining.Eval val = ArTraining.evaluate(model, tokens.test(), tokens.length(), 256, new Workspace());
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("val_bits_per_token", val.bitsPerToken());
        m.put("val_bits_per_image", val.bitsPerToken() * tokens.length());
        if (classifier != null) {
            FrechetDistance.Stats reference = FrechetDistance.stats(classifier, test.images(), test.size());
            GenerationEval.Result g = GenerationEval.evaluate(model, tokenizer, classifier, reference, samples, cfg, seed);
            m.put("samples", g.count());
            m.put("cfg", cfg);
            m.put("fd", g.frechetDistance());
            m.put("class_accuracy", g.classAccuracy());
            m.put("sampling_seconds", g.seconds());
        }
        return m;
    }
}
