package org.tessella.ar;

import org.tessella.autograd.Tape;
import org.tessella.tensor.Philox;
import org.tessella.tensor.Tensor;
import org.tessella.tensor.Workspace;

import java.util.Arrays;

/**
 * Batched autoregressive sampling with a KV cache. With guidance the conditional and null-class sequences run as one
 * batch of 2n and their logits are combined per step. Filtering (temperature, top-k, top-p) and the draw happen on
 * the host in double precision, in a fixed order, so samples are reproducible bit for bit.
 */
public final class Sampler {
    private Sampler() {}

    /** Samples one sequence of tokens per entry of {@code classes} (class ids, or the null class). */
    public static int[][] sample(Gpt model, int[] classes, SampleOptions o) {
        return run(model, classes, o, false, true);
    }

    /**
     * The same tokens without the KV cache: every step recomputes the whole prefix (to measure what the cache saves,
     * and to test it).
     */
    public static int[][] sampleWithoutCache(Gpt model, int[] classes, SampleOptions o) {
        return run(model, classes, o, false, false);
    }

    /**
     * As {@link #sample(Gpt, int[], SampleOptions)}; {@code forceGuided} runs the guided path (2n rows, logits
     * combined) even at scale 1, so tests can check that it then equals plain conditional sampling.
     */
    static int[][] sample(Gpt model, int[] classes, SampleOptions o, boolean forceGuided) {
        return run(model, classes, o, forceGuided, true);
    }

    private static int[][] run(Gpt model, int[] classes, SampleOptions o, boolean forceGuided, boolean useCache) {
        GptConfig c = model.config;
        boolean guided = o.guided() || forceGuided;
        if (o.topK() > c.vocab())
            throw new IllegalArgumentException("top-k " + o.topK() + " is larger than the vocabulary of " + c.vocab());
        for (int cls : classes)
            if (cls < 0 || cls > c.nullClass())
                throw new IllegalArgumentException("class " + cls + " is unknown: the model has classes 0.." + (c.classes() - 1)
                        + " (and " + c.nullClass() + " for unconditional)");
        int n = classes.length, rows = guided ? 2 * n : n, len = c.length(), vocab = c.vocab();
        int[] labels = new int[rows];
        for (int i = 0; i < rows; i++) labels[i] = i < n ? classes[i] : c.nullClass();
        int[][] out = new int[n][len];
        int[] next = new int[rows];
        double[] probs = new double[vocab];
        Integer[] order = new Integer[vocab];
        Workspace ws = new Workspace();
        try (var ignored = Tape.noGrad()) {
            Gpt.KvCache cache = model.newCache(rows);
            for (int p = 0; p < len; p++) {
                float[] logits;
                try (Workspace w = ws.open()) {
                    Tensor l;
                    if (!useCache) { // recompute the class and every token so far, keep the last position
                        int[] prefix = new int[rows * p];
                        for (int r = 0; r < rows; r++)
                            for (int q = 0; q < p; q++) prefix[r * p + q] = out[r % n][q];
                        l = model.decode(model.newCache(rows), Tensor.ofInts(labels, rows), p == 0 ? null : Tensor.ofInts(prefix, rows, p));
                        l = l.slice(1, p, p + 1);
                    } else if (p == 0) l = model.decode(cache, Tensor.ofInts(labels, rows), null);
                    else l = model.decode(cache, null, Tensor.ofInts(next, rows, 1));
                    logits = l.toFloatArray(); // [rows, 1, vocab]
                }
                for (int j = 0; j < n; j++) {
                    for (int v = 0; v < vocab; v++) {
                        double cond = logits[j * vocab + v];
                        probs[v] = guided ? logits[(n + j) * vocab + v] + o.cfgScale() * (cond - logits[(n + j) * vocab + v]) : cond;
                    }
                    int tok = draw(probs, order, o, Philox.uniform(o.seed(), (long) j * len + p));
                    out[j][p] = tok;
                    next[j] = tok;
                    if (guided) next[n + j] = tok;
                }
            }
        }
        return out;
    }

    /** Turns logits (in {@code x}) into a filtered distribution and draws with uniform u by the inverse CDF. */
    static int draw(double[] x, Integer[] order, SampleOptions o, float u) {
        int vocab = x.length;
        double max = Double.NEGATIVE_INFINITY;
        for (int v = 0; v < vocab; v++) {
            x[v] /= o.temperature();
            max = Math.max(max, x[v]);
        }
        for (int v = 0; v < vocab; v++) x[v] = StrictMath.exp(x[v] - max);
        if (o.topK() > 0 || o.topP() < 1f) {
            for (int v = 0; v < vocab; v++) order[v] = v;
            Arrays.sort(order, (a, b) -> x[a] != x[b] ? Double.compare(x[b], x[a]) : Integer.compare(a, b));
            double total = 0;
            for (double e : x) total += e;
            int keep = o.topK() > 0 ? o.topK() : vocab;
            if (o.topP() < 1f) {
                double cum = 0;
                int k = 0;
                while (k < keep) {
                    cum += x[order[k]] / total;
                    k++;
                    if (cum >= o.topP()) break;
                }
                keep = k;
            }
            for (int r = keep; r < vocab; r++) x[order[r]] = 0;
        }
        double total = 0;
        for (double e : x) total += e;
        double target = u * total, cum = 0;
        int last = 0;
        for (int v = 0; v < vocab; v++) {
            if (x[v] == 0) continue;
            cum += x[v];
            last = v;
            if (cum > target) return v;
        }
        return last;
    }
}
