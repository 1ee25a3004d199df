package org.tessella.ar;

import java.nio.file.Path;

/**
 * A trained stage-2 model ready to sample, for JVM applications:
 * <pre>{@code
 * Generator g = Generator.load(Path.of("runs/ar"));
 * int[] tokens = g.sample(3, SampleOptions.defaults().withCfg(2f).withSeed(7));
 * }</pre>
 */
public final class Generator {
    private final Gpt model;

    private Generator(Gpt model) { this.model = model; }

    /** Loads the model that {@code tessella train-ar --out DIR} wrote. */
    public static Generator load(Path dir) { return new Generator(ArTraining.load(dir)); }

    public static Generator of(Gpt model) { return new Generator(model); }

    public GptConfig config() { return model.config; }

    public Gpt model() { return model; }

    /** One sequence of tokens for a class (or the null class for an unconditional sample). */
    public int[] sample(int classId, SampleOptions options) {
        return Sampler.sample(model, new int[]{classId}, options)[0];
    }

    /** One sequence per entry of {@code classes}, sampled as one batch. */
    public int[][] sample(int[] classes, SampleOptions options) {
        return Sampler.sample(model, classes, options);
    }
}
