package org.tessella.diffusion;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tessella.io.AtomicFile;
import org.tessella.io.Json;

/**
 * A learned layer-caching schedule for DDIM with {@code steps} steps on a DiT of {@code depth} blocks: router logits
 * [steps / 2][2 depth], one per (cache step, sub-layer). Sampling positions 0, 2, 4, ... are full steps, 1, 3, 5, ...
 * cache steps; at cache step i sub-layer j is computed iff {@code sigmoid(logit) > theta}.
 */
public record CacheSchedule(int steps, int depth, float[][] logits) {
    public CacheSchedule {
        if (logits.length != steps / 2) throw new IllegalArgumentException("cache schedule: " + logits.length + " rows for " + steps + " steps (want " + steps / 2 + ")");
        for (float[] row : logits)
            if (row.length != 2 * depth) throw new IllegalArgumentException("cache schedule: rows of " + row.length + " for depth " + depth + " (want " + 2 * depth + ")");
    }

    public static double sigmoid(double x) { return 1 / (1 + Math.exp(-x)); }

    /** Which sub-layers cache step i computes at threshold theta. */
    public boolean[] compute(int cacheStep, float theta) {
        if (!(theta >= 0 && theta <= 1)) throw new IllegalArgumentException("cache schedule: theta must be in [0, 1], got " + theta);
        boolean[] out = new boolean[2 * depth];
        for (int j = 0; j < out.length; j++) out[j] = sigmoid(logits[cacheStep][j]) > theta;
        return out;
    }

    /** Fails with one line when this schedule was made for another step count or depth. */
    public void checkFits(int samplerSteps, int ditDepth) {
        if (samplerSteps != steps || ditDepth != depth)
            throw new IllegalArgumentException("the cache schedule was learned for " + steps + " steps and depth " + depth
                    + ", not " + samplerSteps + " steps and depth " + ditDepth + ": learn one with tessella learn-cache --steps " + samplerSteps);
    }

    /** Shares of cache-step attention and MLP sub-layers skipped at theta: {attention, mlp, all}. */
    public double[] skipped(float theta) {
        long att = 0, mlp = 0, n = 0;
        for (int i = 0; i < logits.length; i++) {
            boolean[] c = compute(i, theta);
            for (int j = 0; j < c.length; j++) if (!c[j]) { if (j % 2 == 0) att++; else mlp++; }
            n += depth;
        }
        return n == 0 ? new double[3] : new double[]{(double) att / n, (double) mlp / n, (att + mlp) / (2.0 * n)};
    }

    public void write(Path file, float theta) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("steps", steps);
        m.put("depth", depth);
        m.put("theta", theta);
        List<Object> rows = new ArrayList<>(), mask = new ArrayList<>();
        for (int i = 0; i < logits.length; i++) {
            List<Object> r = new ArrayList<>(), k = new ArrayList<>();
            boolean[] c = compute(i, theta);
            for (int j = 0; j < logits[i].length; j++) {
                r.add((double) logits[i][j]);
                k.add(c[j] ? 1 : 0);
            }
            rows.add(r);
            mask.add(k);
        }
        m.put("logits", rows);
        m.put("compute_mask", mask);
        AtomicFile.writeString(file, Json.write(m));
    }

    public static CacheSchedule read(Path file) {
        Json.Obj o;
        try {
            o = Json.parseObject(Files.readString(file), file.toString());
        } catch (java.io.IOException e) {
            throw new org.tessella.io.TessellaIOException("cannot read " + file + ": " + e.getMessage(), e);
        }
        List<Object> rows = o.list("logits");
        float[][] logits = new float[rows.size()][];
        for (int i = 0; i < logits.length; i++) {
            @SuppressWarnings("unchecked") List<Object> r = (List<Object>) rows.get(i);
            logits[i] = new float[r.size()];
            for (int j = 0; j < r.size(); j++) logits[i][j] = ((Number) r.get(j)).floatValue();
        }
        return new CacheSchedule(o.integer("steps"), o.integer("depth"), logits);
    }
}
