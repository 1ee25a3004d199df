package org.tessella.ar;

/**
 * How to sample: temperature (> 0), top-k (0 = off), top-p (1 = off), classifier-free guidance scale (1 = plain
 * conditional sampling; otherwise {@code uncond + s * (cond - uncond)} on the logits), and the seed. Sequence j of a
 * request draws position p from Philox(seed, j * length + p), so a sequence does not depend on the batch it ran in.
 */
public record SampleOptions(float temperature, int topK, float topP, float cfgScale, long seed) {
    public SampleOptions {
        if (!(temperature > 0) || !Float.isFinite(temperature))
            throw new IllegalArgumentException("temperature must be above 0, got " + temperature);
        if (topK < 0) throw new IllegalArgumentException("top-k must be 0 (off) or positive, got " + topK);
        if (!(topP > 0 && topP <= 1)) throw new IllegalArgumentException("top-p must be in (0, 1], got " + topP);
        if (!(cfgScale >= 0) || !Float.isFinite(cfgScale))
            throw new IllegalArgumentException("cfg scale must be 0 or above, got " + cfgScale);
    }

    public static SampleOptions defaults() { return new SampleOptions(1f, 0, 1f, 1f, 0); }

    public SampleOptions withSeed(long s) { return new SampleOptions(temperature, topK, topP, cfgScale, s); }

    public SampleOptions withCfg(float s) { return new SampleOptions(temperature, topK, topP, s, seed); }

    public boolean guided() { return cfgScale != 1f; }
}
