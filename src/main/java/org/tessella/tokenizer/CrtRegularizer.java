package org.tessella.tokenizer;

import org.tessella.autograd.Functional;
import org.tessella.autograd.Ops;
import org.tessella.nn.Init;
import org.tessella.nn.Linear;
import org.tessella.nn.Module;
import org.tessella.nn.RMSNorm;
import org.tessella.nn.TransformerBlock;
import org.tessella.tensor.Device;
import org.tessella.tensor.Shape;
import org.tessella.tensor.ShapeException;
import org.tessella.tensor.Tensor;

import java.util.HashMap;
import java.util.Map;

/**
 * The CRT causal regularizer (papers/crt.md, DESIGN.md §3): a small causal transformer that reads the l2-normalised
 * pre-quantization latents in raster order and regresses the next one. {@code in_proj} Linear(codeDim -> 64, no
 * bias), two LlamaGen pre-RMSNorm blocks {@code layers.0}, {@code layers.1} (d=64, 4 heads of 16, 1-D RoPE over the N
 * positions with base 10000, SwiGLU hidden 192 = 2/3 x 4 x 64 = 170.7 rounded up to a multiple of 64, RMSNorm eps
 * 1e-5, no biases), a final RMSNorm {@code norm} and {@code out_proj} Linear(64 -> codeDim, no bias). Trained jointly
 * with the tokenizer with its own optimizer; discarded after stage 1.
 *
 * <p>Its loss must be applied to the normalised latent that decides the code (the quantizer's
 * {@link VectorQuantizer.Output#latents()}), never to the raw latent, and it reaches the encoder directly, not through
 * the quantizer.
 */
public final class CrtRegularizer extends Module {
    public static final int WIDTH = 64, HEADS = 4, LAYERS = 2, HIDDEN = 192;
    public static final float NORM_EPS = 1e-5f, ROPE_BASE = 10000f;

    public final int codeDim;
    public final Linear inProj, outProj;
    public final TransformerBlock[] layers;
    public final RMSNorm norm;
    private final Map<Integer, Tensor[]> ropeCache = new HashMap<>();

    public CrtRegularizer(int codeDim, Init init) {
        this.codeDim = codeDim;
        inProj = child("in_proj", new Linear(codeDim, WIDTH, false, init));
        layers = new TransformerBlock[LAYERS];
        for (int i = 0; i < LAYERS; i++) layers[i] = child("layers." + i, new TransformerBlock(WIDTH, HEADS, HIDDEN, NORM_EPS, init));
        norm = child("norm", new RMSNorm(WIDTH, NORM_EPS, init));
        outProj = child("out_proj", new Linear(WIDTH, codeDim, false, init));
    }

    /** The RoPE tables for a number of positions, made once and kept on the device that asks (not per step). */
    private Tensor[] rope(int positions, Device device) {
        Tensor[] t = ropeCache.computeIfAbsent(positions, p -> Functional.ropeTables(p, WIDTH / HEADS, ROPE_BASE));
        if (!t[0].device().equals(device)) {
            t = new Tensor[]{Ops.persistentCopy(t[0], device), Ops.persistentCopy(t[1], device)};
            ropeCache.put(positions, t);
        }
        return t;
    }

    /** Predictions [B, T, D]: output i predicts latent i+1 from latents 0..i (causal). x: [B, T, D]. */
    public Tensor forward(Tensor x) {
        if (x.rank() != 3 || x.shape(2) != codeDim)
            throw new ShapeException("crt regularizer: latents " + Shape.str(x.shape()) + " are not [B, N, " + codeDim + "]");
        x = onDevice(x);
        Tensor[] cs = rope(x.shape(1), x.device());
        Tensor h = inProj.forward(x);
        for (TransformerBlock layer : layers) h = layer.forward(h, cs[0], cs[1]);
        return outProj.forward(norm.forward(h));
    }

    /**
     * Next-latent regression: mean squared error between the prediction from latents 0..i and latent i+1, for
     * i = 0..N-2, over all batch rows and channels. Only the first N-1 positions are fed (causality makes the result the
     * same as feeding all N and dropping the last output). With {@code detachTarget} the targets are cut from the graph
     * (the gradient then reaches the latents only as inputs); the default in crt.md is not to detach.
     */
    public Tensor loss(Tensor latents, boolean detachTarget) {
        if (latents.rank() != 3 || latents.shape(1) < 2)
            throw new ShapeException("crt regularizer: need [B, N >= 2, D] latents, got " + Shape.str(latents.shape()));
        latents = onDevice(latents);
        int n = latents.shape(1);
        Tensor pred = forward(Ops.slice(latents, 1, 0, n - 1));
        Tensor target = Ops.slice(latents, 1, 1, n);
        if (detachTarget) target = Ops.detach(target);
        return Functional.mse(pred, target);
    }

    /** {@link #loss(Tensor, boolean)} with the target not detached. */
    public Tensor loss(Tensor latents) { return loss(latents, false); }

    /** Regularizer weight at {@code step}: {@code lambda * min(1, step / rampSteps)} (lambda itself when rampSteps <= 0). */
    public static float lambdaAt(float lambda, long step, long rampSteps) {
        if (rampSteps <= 0) return lambda;
        if (step <= 0) return 0f;
        return step >= rampSteps ? lambda : (float) (lambda * ((double) step / rampSteps));
    }
}
