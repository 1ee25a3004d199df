package org.tessella.tokenizer;

import org.tessella.io.Json;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The shape of a stage-1 VQ tokenizer (DESIGN.md §3) for padded 32x32 grey images.
 *
 * <p>{@code channels} is the width at full resolution; every lower resolution has {@code 2 * channels}. The token grid
 * is {@code side x side} with {@code side = sqrt(tokensPerImage)}, reached from 32x32 by {@code log2(32 / side)}
 * stride-2 stages: 64 tokens (8x8, 2 stages, preset {@code vq-s}) or 16 tokens (4x4, 3 stages, preset
 * {@code vq-s16}). {@code codeDim} is the dimension of the (l2-normalised) codes, {@code groups} the GroupNorm group
 * count, and {@code commitment} the weight of the commitment loss.
 */
public record VqConfig(String name, int channels, int tokensPerImage, int codebookSize, int codeDim, int groups,
                       float commitment) {
    /** Side of the (square, padded) input images. */
    public static final int IMAGE_SIZE = 32;

    public VqConfig {
        String where = "tokenizer config " + name + ": ";
        if (channels < 1 || codeDim < 1 || groups < 1)
            throw new IllegalArgumentException(where + "channels, code dimension and groups must be positive, got channels "
                    + channels + ", code_dim " + codeDim + ", groups " + groups);
        if (codebookSize < 2)
            throw new IllegalArgumentException(where + "codebook size must be at least 2, got " + codebookSize);
        int side = (int) Math.round(Math.sqrt(tokensPerImage));
        if (tokensPerImage < 1 || side * side != tokensPerImage || IMAGE_SIZE % side != 0
                || Integer.bitCount(IMAGE_SIZE / side) != 1 || side == IMAGE_SIZE)
            throw new IllegalArgumentException(where + "tokens per image must be a square grid reached from "
                    + IMAGE_SIZE + "x" + IMAGE_SIZE + " by stride-2 stages (256, 64, 16, 4 or 1), got " + tokensPerImage);
        if (channels % groups != 0)
            throw new IllegalArgumentException(where + groups + " GroupNorm groups do not divide " + channels + " channels");
        if (!(commitment >= 0) || Float.isInfinite(commitment))
            throw new IllegalArgumentException(where + "commitment weight must be finite and >= 0, got " + commitment);
    }

    /** A named preset: {@code vq-s} (64 tokens) or {@code vq-s16} (16 tokens), codebook 1024, codes of dimension 8. */
    public static VqConfig preset(String name) {
        return switch (name) {
            case "vq-s" -> new VqConfig(name, 64, 64, 1024, 8, 32, 0.25f);
            case "vq-s16" -> new VqConfig(name, 64, 16, 1024, 8, 32, 0.25f);
            default -> throw new IllegalArgumentException("unknown tokenizer '" + name + "': use vq-s or vq-s16");
        };
    }

    /** The same tokenizer with another codebook size (the trade-off study uses 64, 256, 1024 and 4096). */
    public VqConfig withCodebookSize(int k) {
        return new VqConfig(name, channels, tokensPerImage, k, codeDim, groups, commitment);
    }

    /** Side of the token grid (8 for 64 tokens, 4 for 16). */
    public int gridSide() { return (int) Math.round(Math.sqrt(tokensPerImage)); }

    /** Number of stride-2 stages between the image and the token grid (2 for 64 tokens, 3 for 16). */
    public int downsamples() { return Integer.numberOfTrailingZeros(IMAGE_SIZE / gridSide()); }

    /** Channel width at resolution level {@code level} (0 = full resolution): channels, then 2 x channels. */
    public int width(int level) { return level == 0 ? channels : 2 * channels; }

    public Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", name);
        m.put("channels", channels);
        m.put("tokens_per_image", tokensPerImage);
        m.put("codebook_size", codebookSize);
        m.put("code_dim", codeDim);
        m.put("groups", groups);
        m.put("commitment", commitment);
        return m;
    }

    /** Reads {@link #toJson()}'s form; missing optional keys take the {@code vq-s} defaults. */
    public static VqConfig fromJson(Json.Obj o) {
        return new VqConfig(o.string("name", "custom"), o.integer("channels", 64), o.integer("tokens_per_image", 64),
                o.integer("codebook_size", 1024), o.integer("code_dim", 8), o.integer("groups", 32),
                (float) o.number("commitment", 0.25));
    }
}
