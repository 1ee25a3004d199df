package org.tessella.tokenizer;

import org.tessella.autograd.Functional;
import org.tessella.autograd.Ops;
import org.tessella.autograd.Tape;
import org.tessella.backend.Backends;
import org.tessella.nn.Init;
import org.tessella.nn.Module;
import org.tessella.tensor.Philox;
import org.tessella.tensor.ShapeException;
import org.tessella.tensor.Shape;
import org.tessella.tensor.Tensor;

import java.util.Arrays;

/**
 * LlamaGen-style vector quantizer: latents and codebook are both l2-normalised, the nearest code is the one of
 * largest cosine similarity, the decoder sees the normalised code with a straight-through gradient to the normalised
 * latent, and the losses are the codebook loss {@code mse(q, sg(zn))} and the commitment loss {@code mse(sg(q), zn)}
 * (the caller weighs the commitment loss, 0.25 in LlamaGen and DESIGN.md).
 *
 * <p>The codebook is the parameter {@code embedding.weight} [K, D], initialised U(-1/K, 1/K) as in LlamaGen and
 * VQGAN ({@code embedding.weight.data.uniform_(-1.0 / K, 1.0 / K)}). Only its direction matters (rows are normalised
 * before use).
 *
 * <p>Usage statistics: {@link #recordUsage} counts the codes picked in a step into the current window (reset with
 * {@link #resetUsageWindow()}) and remembers, per code, the last step it was picked; {@link #usedFraction()} and
 * {@link #entropyBits()} summarise the window. Dead-code restart: see {@link #restartDeadCodes}.
 */
public final class VectorQuantizer extends Module {
    /** F.normalize's default eps. */
    public static final float NORM_EPS = 1e-12f;

    public final Tensor weight;
    public final int codebookSize, codeDim;

    private final long[] windowCounts;
    private final long[] lastUsed;
    private int deadAfterSteps = 200;

    /** z: raw encoder latents [B, N, D] in raster order. */
    public VectorQuantizer(int codebookSize, int codeDim, Init init) {
        if (codebookSize < 1 || codeDim < 1)
            throw new IllegalArgumentException("quantizer: codebook size " + codebookSize + " and code dim " + codeDim + " must be positive");
        this.codebookSize = codebookSize;
        this.codeDim = codeDim;
        float bound = 1f / codebookSize;
        this.weight = parameter("embedding.weight", init.uniform(-bound, bound, codebookSize, codeDim), false);
        this.windowCounts = new long[codebookSize];
        this.lastUsed = new long[codebookSize];
    }

    /**
     * @param quantized    [B, N, D]: the l2-normalised codes, with the gradient of the normalised latents (straight through)
     * @param indices      I32 [B, N]
     * @param latents      the l2-normalised pre-quantization latents [B, N, D]; the gradient flows to z (this is what the
     *                     CRT regularizer reads)
     * @param codebookLoss scalar {@code mse(q, detach(zn))}; its gradient reaches only the codebook
     * @param commitLoss   scalar {@code mse(detach(q), zn)}; its gradient reaches only z
     */
    public record Output(Tensor quantized, Tensor indices, Tensor latents, Tensor codebookLoss, Tensor commitLoss) {}

    /** The codebook with unit rows [K, D] (differentiable w.r.t. {@link #weight}). */
    public Tensor normalizedCodebook() { return Functional.l2Normalize(weight, 1, NORM_EPS); }

    /** z: raw encoder latents [B, N, D] in raster order. */
    public Output forward(Tensor z) {
        if (z.rank() != 3 || z.shape(2) != codeDim)
            throw new ShapeException("quantizer: latents " + Shape.str(z.shape()) + " are not [B, N, " + codeDim + "]");
        int b = z.shape(0), n = z.shape(1);
        Tensor zn = Functional.l2Normalize(z, 2, NORM_EPS);
        Tensor cbn = normalizedCodebook();
        Tensor idx = nearest(zn, cbn).reshape(b, n);
        Tensor q = Functional.embedding(cbn, idx);
        Tensor quantized = Ops.straightThrough(zn, q);
        Tensor codebookLoss = Functional.mse(q, Ops.detach(zn));
        Tensor commitLoss = Functional.mse(Ops.detach(q), zn);
        return new Output(quantized, idx, zn, codebookLoss, commitLoss);
    }

    /** Cosine-nearest code of each row of zn [B, N, D] given unit codes [K, D]: I32 [B*N]. */
    private Tensor nearest(Tensor zn, Tensor cbn) {
        int rows = zn.shape(0) * zn.shape(1);
        try (var ignored = Tape.noGrad()) {
            Tensor sims = Ops.matmul(Ops.reshape(Ops.detach(zn), rows, codeDim), Ops.transpose(Ops.detach(cbn), 0, 1));
            return Ops.argmax(sims);
        }
    }

    /** Normalised codes [B, N, D] for I32 indices [B, N]. */
    public Tensor lookup(Tensor indices) {
        return Functional.embedding(normalizedCodebook(), indices);
    }

    /**
     * LlamaGen's {@code compute_entropy_loss} (softmax variant): with affinity {@code -||zn - e||^2 / temperature}
     * over all codes, the mean per-sample entropy minus the entropy of the batch-averaged distribution (natural log,
     * 1e-5 inside the logs as LlamaGen has it). Minimising it makes each assignment confident and the batch spread over
     * the codebook. zn: normalised latents [B, N, D] (or [M, D]); returns a scalar.
     */
    public Tensor entropyLoss(Tensor zn, float temperature) {
        int rows = zn.numel() / codeDim;
        Tensor flat = Ops.reshape(zn, rows, codeDim);
        Tensor cbn = normalizedCodebook();
        // d = |z|^2 + |e|^2 - 2 z.e
        Tensor z2 = Ops.sum(Ops.square(flat), true, 1);                                  // [M, 1]
        Tensor e2 = Ops.reshape(Ops.sum(Ops.square(cbn), false, 1), 1, codebookSize);    // [1, K]
        Tensor d = Ops.sub(Ops.add(z2, e2), Ops.mulScalar(Ops.matmul(flat, Ops.transpose(cbn, 0, 1)), 2f));
        Tensor logits = Ops.mulScalar(d, -1f / temperature);
        Tensor probs = Functional.softmax(logits);
        Tensor logProbs = Functional.logSoftmax(Ops.addScalar(logits, 1e-5f));
        Tensor avgProbs = Ops.mean(probs, false, 0);
        Tensor avgEntropy = Ops.neg(Ops.sum(Ops.mul(avgProbs, Ops.log(Ops.addScalar(avgProbs, 1e-5f)))));
        Tensor sampleEntropy = Ops.neg(Ops.mean(Ops.sum(Ops.mul(probs, logProbs), false, 1)));
        return Ops.sub(sampleEntropy, avgEntropy);
    }

    // ---- usage statistics ----------------------------------------------------------------------------------------

    /** Counts the codes in {@code indices} (I32, any shape) into the current window and marks them used at {@code step}. */
    public void recordUsage(Tensor indices, long step) {
        for (int k : indices.toIntArray()) {
            if (k < 0 || k >= codebookSize) throw new IllegalArgumentException("quantizer: code index " + k + " outside [0, " + codebookSize + ")");
            windowCounts[k]++;
            lastUsed[k] = Math.max(lastUsed[k], step);
        }
    }

    /** Counts per code since the last {@link #resetUsageWindow()} (a copy). */
    public long[] usageCounts() { return windowCounts.clone(); }

    /** Starts a new counting window (last-used steps are kept). */
    public void resetUsageWindow() { Arrays.fill(windowCounts, 0); }

    /** The last step at which code k was picked (0 before any use: the dead-code clock starts at step 0). */
    public long lastUsedStep(int k) { return lastUsed[k]; }

    /** Fraction of the codebook picked at least once in the current window. */
    public double usedFraction() {
        int used = 0;
        for (long c : windowCounts) if (c > 0) used++;
        return (double) used / codebookSize;
    }

    /** Entropy in bits of the code distribution in the current window (0 when empty; log2(K) when uniform). */
    public double entropyBits() { return entropyBits(windowCounts); }

    /**
     * Entropy in bits of a histogram; 0 when it is empty. Summed in code order with {@link StrictMath#log}, so the value
     * is the same on every platform.
     */
    public static double entropyBits(long[] counts) {
        long total = 0;
        for (long c : counts) total += c;
        if (total == 0) return 0;
        double h = 0;
        for (long c : counts) {
            if (c == 0) continue;
            double p = (double) c / total;
            h -= p * StrictMath.log(p);
        }
        return Math.max(0, h / StrictMath.log(2));
    }

    /** Steps without use after which a code counts as dead (default 200). */
    public void setDeadAfterSteps(int steps) {
        if (steps < 1) throw new IllegalArgumentException("quantizer: dead-code window must be at least one step, got " + steps);
        this.deadAfterSteps = steps;
    }

    public int deadAfterSteps() { return deadAfterSteps; }

    /** Codes not picked in the last {@link #deadAfterSteps()} steps as of {@code step}, ascending. */
    public int[] deadCodes(long step) {
        return java.util.stream.IntStream.range(0, codebookSize).filter(k -> step - lastUsed[k] >= deadAfterSteps).toArray();
    }

    /**
     * Dead-code restart. Policy: a code is dead when it has not been picked (per {@link #recordUsage}) in the last
     * {@link #deadAfterSteps()} steps, counting from step 0 for codes never used. Each dead code, in ascending index
     * order, is re-seeded with a distinct row of {@code recentLatents} ([M, D] or [B, N, D], the normalised
     * pre-quantization latents of a recent batch) drawn by a Philox permutation keyed by (seed, step), so the result
     * depends only on the inputs (rows repeat only when there are more dead codes than rows). The new row is the
     * latent's direction scaled to the mean norm of the live codebook rows, so that an optimizer step moves it through a
     * similar angle as the others (Adam steps are scale-free; the quantizer only uses directions). Restarted codes
     * count as used at {@code step}, which gives them a full window to be picked. The optimizer's moments for those
     * rows are not touched (the caller may reset them). Returns the number of codes restarted.
     */
    public int restartDeadCodes(Tensor recentLatents, long seed, long step) {
        if (recentLatents.shape(recentLatents.rank() - 1) != codeDim)
            throw new ShapeException("quantizer: restart latents " + Shape.str(recentLatents.shape()) + " do not end in " + codeDim);
        int[] dead = deadCodes(step);
        if (dead.length == 0) return 0;
        float[] lat = recentLatents.toFloatArray();
        int m = lat.length / codeDim;
        if (m == 0) return 0;
        float[] w = weight.toFloatArray();
        boolean[] isDead = new boolean[codebookSize];
        for (int k : dead) isDead[k] = true;
        double normSum = 0;
        int live = 0;
        for (int k = 0; k < codebookSize; k++) {
            if (isDead[k]) continue;
            normSum += rowNorm(w, k * codeDim, codeDim);
            live++;
        }
        double scale = live > 0 ? normSum / live : 1.0 / codebookSize;
        int[] perm = Philox.permutation(m, seed, step);
        for (int j = 0; j < dead.length; j++) {
            int row = perm[j % m], k = dead[j];
            double norm = Math.max(rowNorm(lat, row * codeDim, codeDim), NORM_EPS);
            for (int c = 0; c < codeDim; c++) w[k * codeDim + c] = (float) (lat[row * codeDim + c] / norm * scale);
            lastUsed[k] = step;
        }
        Backends.of(weight.device()).copy(Ops.to(Tensor.of(w, codebookSize, codeDim), weight.device()), weight);
        return dead.length;
    }

    private static double rowNorm(float[] a, int off, int len) {
        double s = 0;
        for (int i = 0; i < len; i++) s += (double) a[off + i] * a[off + i];
        return Math.sqrt(s);
    }
}
