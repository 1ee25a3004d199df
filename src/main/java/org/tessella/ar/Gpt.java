package org.tessella.ar;

import org.tessella.autograd.Functional;
import org.tessella.autograd.Ops;
import org.tessella.backend.Backends;
import org.tessella.nn.Embedding;
import org.tessella.nn.Init;
import org.tessella.nn.Linear;
import org.tessella.nn.Module;
import org.tessella.nn.Parameter;
import org.tessella.nn.RMSNorm;
import org.tessella.nn.TransformerBlock;
import org.tessella.tensor.DType;
import org.tessella.tensor.Shape;
import org.tessella.tensor.ShapeException;
import org.tessella.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * The LlamaGen-style stage-2 transformer. The sequence is {@code [class, z_1 .. z_N-1]} and position i predicts
 * {@code z_(i+1)}: a class embedding (with one extra null class for classifier-free guidance), token embeddings,
 * pre-RMSNorm blocks with causal attention, RoPE (1-D, or 2-D over the token grid) and SwiGLU, a final RMSNorm and an
 * untied, zero-initialised linear head. Other weights are N(0, 0.02) as in LlamaGen.
 *
 * <p>Parameter names: {@code tok_embeddings.weight}, {@code cls_embedding.weight}, {@code layers.<i>.<block>},
 * {@code norm.weight}, {@code output.weight}.
 */
public final class Gpt extends Module {
    public final GptConfig config;
    public final Embedding tokEmbeddings, clsEmbedding;
    public final List<TransformerBlock> layers = new ArrayList<>();
    public final RMSNorm norm;
    public final Linear output;
    private final Tensor ropeCos, ropeSin;

    public Gpt(GptConfig config, long seed) {
        this.config = config;
        Init init = new Init(seed);
        tokEmbeddings = child("tok_embeddings", new Embedding(config.vocab(), config.dim(), init, 0.02f));
        clsEmbedding = child("cls_embedding", new Embedding(config.classes() + 1, config.dim(), init, 0.02f));
        for (int i = 0; i < config.layers(); i++)
            layers.add(child("layers." + i, new TransformerBlock(config.dim(), config.heads(), config.hidden(), config.normEps(), init)));
        norm = child("norm", new RMSNorm(config.dim(), config.normEps(), init));
        output = child("output", new Linear(config.dim(), config.vocab(), false, init));
        // LlamaGen's initialisation: every linear weight N(0, 0.02), the head zero.
        var be = Backends.of(device());
        long offset = 1L << 40;
        for (Parameter p : parameters()) {
            if (!p.name().endsWith("wqkv.weight") && !p.name().endsWith("wo.weight") && !p.name().contains("feed_forward.")) continue;
            be.randomNormal(p.tensor(), seed, offset, 0f, 0.02f);
            offset += p.tensor().numel();
        }
        be.fill(output.weight, 0f);
        Tensor[] t = ropeTables(config);
        ropeCos = buffer("rope_cos", t[0]);
        ropeSin = buffer("rope_sin", t[1]);
    }

    /**
     * RoPE tables [length, headDim/2] for positions 0 (the class token) to length-1. 1-D: angle = position x
     * frequency. 2-D (LlamaGen's layout): the first half of the pairs rotate by the token's grid row, the second half
     * by its column; token z_i sits at grid index i-1. The class token gets the identity rotation (LlamaGen uses
     * zeros there, which erases its query and key; we keep them).
     */
    static Tensor[] ropeTables(GptConfig c) {
        int n = c.length(), half = c.headDim() / 2;
        if (!c.rope2d()) return Functional.ropeTables(n, c.headDim(), c.ropeBase());
        float[] cos = new float[n * half], sin = new float[n * half];
        int quarter = half / 2;
        for (int p = 0; p < n; p++) {
            int grid = p - 1;
            for (int i = 0; i < half; i++) {
                double angle;
                if (p == 0) angle = 0;
                else {
                    int pos = i < quarter ? grid / c.gridW() : grid % c.gridW();
                    int j = i < quarter ? i : i - quarter;
                    angle = pos / StrictMath.pow(c.ropeBase(), (2.0 * j) / half);
                }
                cos[p * half + i] = (float) StrictMath.cos(angle);
                sin[p * half + i] = (float) StrictMath.sin(angle);
            }
        }
        return new Tensor[]{Tensor.of(cos, n, half), Tensor.of(sin, n, half)};
    }

    /**
     * Teacher-forced logits [B, N, vocab] for class labels [B] (the null class allowed) and tokens [B, N] (I32): position
     * i sees the class and z_1..z_i and predicts z_(i+1).
     */
    public Tensor forward(Tensor labels, Tensor tokens) {
        labels = onDevice(labels);
        tokens = onDevice(tokens);
        if (tokens.rank() != 2 || tokens.shape(1) != config.length() || labels.rank() != 1 || labels.shape(0) != tokens.shape(0))
            throw new ShapeException("gpt: tokens " + Shape.str(tokens.shape()) + " and labels " + Shape.str(labels.shape())
                    + " do not fit a model of " + config.length() + " tokens (want [B, " + config.length() + "] and [B])");
        int n = config.length();
        Tensor cls = Ops.unsqueeze(clsEmbedding.forward(labels), 1);
        Tensor h = n == 1 ? cls : Ops.concat(1, cls, tokEmbeddings.forward(tokens.slice(1, 0, n - 1)));
        for (TransformerBlock block : layers) h = block.forward(h, ropeCos, ropeSin);
        return output.forward(norm.forward(h));
    }

    /** Mean cross-entropy (nats) of the model on (labels, tokens), which may live on any device (see {@link #onDevice}). */
    public Tensor loss(Tensor labels, Tensor tokens) {
        tokens = onDevice(tokens); // once: the forward pass and the targets share the upload
        Tensor logits = forward(labels, tokens);
        return Functional.crossEntropy(logits, tokens);
    }

    /** Per-layer key and value caches for incremental decoding of a batch. */
    public final class KvCache {
        final Tensor[] k, v;
        int length;

        KvCache(int batch) {
            var be = Backends.of(device());
            k = new Tensor[config.layers()];
            v = new Tensor[config.layers()];
            for (int i = 0; i < k.length; i++) {
                k[i] = be.persistent(DType.F32, batch, config.heads(), config.length(), config.headDim());
                v[i] = be.persistent(DType.F32, batch, config.heads(), config.length(), config.headDim());
            }
        }

        /** Positions cached so far. */
        public int length() { return length; }
    }

    public KvCache newCache(int batch) { return new KvCache(batch); }

    /**
     * Feeds the next positions through the model with a KV cache and returns their logits [B, T, vocab]. The first
     * call passes the class labels (as {@code labels} [B], {@code tokens} null) and may also pass the first tokens;
     * later calls pass only tokens [B, T]. Run under {@code Tape.noGrad()}.
     */
    public Tensor decode(KvCache cache, Tensor labels, Tensor tokens) {
        labels = onDevice(labels);
        tokens = onDevice(tokens);
        List<Tensor> parts = new ArrayList<>();
        if (labels != null) {
            if (cache.length != 0) throw new IllegalStateException("gpt: class labels go in the first decode call only");
            parts.add(Ops.unsqueeze(clsEmbedding.forward(labels), 1));
        }
        if (tokens != null) parts.add(tokEmbeddings.forward(tokens));
        if (parts.isEmpty()) throw new IllegalArgumentException("gpt: decode needs labels or tokens");
        Tensor h = parts.size() == 1 ? parts.get(0) : Ops.concat(1, parts.toArray(new Tensor[0]));
        int start = cache.length, t = h.shape(1);
        if (start + t > config.length())
            throw new IllegalArgumentException("gpt: " + (start + t) + " positions exceed the model's " + config.length());
        Tensor cos = ropeCos.slice(0, start, start + t), sin = ropeSin.slice(0, start, start + t);
        for (int i = 0; i < layers.size(); i++)
            h = layers.get(i).forwardCached(h, cos, sin, cache.k[i], cache.v[i], start);
        cache.length = start + t;
        return output.forward(norm.forward(h));
    }
}
