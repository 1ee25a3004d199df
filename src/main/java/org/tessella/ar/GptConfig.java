package org.tessella.ar;

import org.tessella.io.Json;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The shape of a stage-2 transformer (DESIGN.md §3): vocabulary (codebook size), tokens per image and their grid,
 * classes (one more null class is added for classifier-free guidance), width, depth, heads, SwiGLU hidden width, RoPE
 * layout, and the class-dropout probability used in training.
 */
public record GptConfig(String name, int vocab, int length, int gridH, int gridW, int classes, int dim, int layers,
                        int heads, int hidden, boolean rope2d, float ropeBase, float normEps, float classDropout) {

    public GptConfig {
        if (vocab < 2 || length < 1 || classes < 1 || dim < 1 || layers < 1 || heads < 1 || hidden < 1)
            throw new IllegalArgumentException("model config " + name + ": sizes must be positive: " + this);
        if (dim % heads != 0 || (dim / heads) % 2 != 0)
            throw new IllegalArgumentException("model config " + name + ": width " + dim + " must split into " + heads + " heads of even width");
        if (rope2d && ((dim / heads) % 4 != 0 || gridH * gridW != length))
            throw new IllegalArgumentException("model config " + name + ": 2-D RoPE needs head width divisible by 4 and a "
                    + gridH + "x" + gridW + " grid of " + length + " tokens");
        if (classDropout < 0 || classDropout >= 1)
            throw new IllegalArgumentException("model config " + name + ": class dropout must be in [0, 1), got " + classDropout);
    }

    /** LlamaGen's SwiGLU width: 2/3 of 4d, rounded up to a multiple of {@code multiple}. */
    public static int swigluHidden(int dim, int multiple) {
        int h = 2 * 4 * dim / 3;
        return (h + multiple - 1) / multiple * multiple;
    }

    /** A named preset (gpt-xs, gpt-s, gpt-m) for a token set of the given vocabulary, length and grid. */
    public static GptConfig preset(String name, int vocab, int length, int gridH, int gridW, int classes) {
        boolean grid = gridH * gridW == length;
        return switch (name) {
            case "gpt-xs" -> new GptConfig(name, vocab, length, gridH, gridW, classes, 128, 4, 4, swigluHidden(128, 128), false, 10000f, 1e-5f, 0.1f);
            case "gpt-s" -> new GptConfig(name, vocab, length, gridH, gridW, classes, 256, 6, 8, 768, false, 10000f, 1e-5f, 0.1f);
            case "gpt-m" -> new GptConfig(name, vocab, length, gridH, gridW, classes, 384, 8, 6, swigluHidden(384, 256), false, 10000f, 1e-5f, 0.1f);
            default -> throw new IllegalArgumentException("unknown model '" + name + "': use gpt-xs, gpt-s or gpt-m");
        };
    }

    public GptConfig withRope2d(boolean on) {
        return new GptConfig(name, vocab, length, gridH, gridW, classes, dim, layers, heads, hidden, on, ropeBase, normEps, classDropout);
    }

    public GptConfig withClassDropout(float p) {
        return new GptConfig(name, vocab, length, gridH, gridW, classes, dim, layers, heads, hidden, rope2d, ropeBase, normEps, p);
    }

    public int headDim() { return dim / heads; }

    /** The null class used for unconditional (CFG) sequences. */
    public int nullClass() { return classes; }

    public Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", name);
        m.put("vocab", vocab);
        m.put("length", length);
        m.put("grid_h", gridH);
        m.put("grid_w", gridW);
        m.put("classes", classes);
        m.put("dim", dim);
        m.put("layers", layers);
        m.put("heads", heads);
        m.put("hidden", hidden);
        m.put("rope_2d", rope2d);
        m.put("rope_base", ropeBase);
        m.put("norm_eps", normEps);
        m.put("class_dropout", classDropout);
        return m;
    }

    public static GptConfig fromJson(Json.Obj o) {
        return new GptConfig(o.string("name", "custom"), o.integer("vocab"), o.integer("length"), o.integer("grid_h", 0),
                o.integer("grid_w", 0), o.integer("classes"), o.integer("dim"), o.integer("layers"), o.integer("heads"),
                o.integer("hidden"), o.bool("rope_2d", false), (float) o.number("rope_base", 10000),
                (float) o.number("norm_eps", 1e-5), (float) o.number("class_dropout", 0.1));
    }
}
