package org.tessella.diffusion;

import java.util.LinkedHashMap;
import java.util.Map;
import org.tessella.io.Json;

/**
 * Shape of a pixel-space DiT (DESIGN.md §3, papers/l2c.md): square grey images of {@code imageSize}, cut into
 * {@code patch x patch} patches (tokens = (imageSize / patch)^2), width {@code width}, {@code depth} adaLN-Zero blocks
 * of {@code heads} heads, MLP hidden {@code mlpRatio x width}, {@code classes} labels plus one null label for
 * classifier-free guidance.
 */
public record DitConfig(String name, int imageSize, int channels, int patch, int width, int depth, int heads, int mlpRatio,
                        int classes) {
    /** Width of the sinusoidal timestep features fed to the timestep MLP. */
    public static final int TIME_FEATURES = 256;

    public DitConfig {
        String where = "dit config " + name + ": ";
        if (imageSize < 1 || channels < 1 || patch < 1 || width < 1 || depth < 1 || heads < 1 || mlpRatio < 1 || classes < 1)
            throw new IllegalArgumentException(where + "every size must be positive");
        if (imageSize % patch != 0)
            throw new IllegalArgumentException(where + "patch " + patch + " does not divide the image size " + imageSize);
        if (width % heads != 0) throw new IllegalArgumentException(where + heads + " heads do not divide width " + width);
        if (width % 4 != 0) throw new IllegalArgumentException(where + "the 2-D sin-cos positions need a width divisible by 4, got " + width);
    }

    /** {@code dit-s}: 32x32 grey, patch 4 (64 tokens), d 256, 6 blocks, 4 heads; {@code dit-xs}: d 128, 4 blocks, 4 heads. */
    public static DitConfig preset(String name) {
        return switch (name) {
            case "dit-s" -> new DitConfig(name, 32, 1, 4, 256, 6, 4, 4, 10);
            case "dit-xs" -> new DitConfig(name, 32, 1, 4, 128, 4, 4, 4, 10);
            default -> throw new IllegalArgumentException("unknown DiT '" + name + "': use dit-s or dit-xs");
        };
    }

    public int gridSide() { return imageSize / patch; }

    public int tokens() { return gridSide() * gridSide(); }

    /** Sub-layers (attention and MLP of every block): the router's width in L2C. */
    public int subLayers() { return 2 * depth; }

    public Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", name);
        m.put("image_size", imageSize);
        m.put("channels", channels);
        m.put("patch", patch);
        m.put("width", width);
        m.put("depth", depth);
        m.put("heads", heads);
        m.put("mlp_ratio", mlpRatio);
        m.put("classes", classes);
        return m;
    }

    public static DitConfig fromJson(Json.Obj o) {
        return new DitConfig(o.string("name", "custom"), o.integer("image_size"), o.integer("channels"), o.integer("patch"),
                o.integer("width"), o.integer("depth"), o.integer("heads"), o.integer("mlp_ratio"), o.integer("classes"));
    }
}
