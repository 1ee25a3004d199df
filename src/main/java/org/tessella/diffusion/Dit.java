package org.tessella.diffusion;

import org.tessella.autograd.Functional;
import org.tessella.autograd.Ops;
import org.tessella.autograd.Tape;
import org.tessella.backend.Backends;
import org.tessella.nn.Conv2d;
import org.tessella.nn.Embedding;
import org.tessella.nn.Init;
import org.tessella.nn.Linear;
import org.tessella.nn.Module;
import org.tessella.tensor.Shape;
import org.tessella.tensor.ShapeException;
import org.tessella.tensor.DType;
import org.tessella.tensor.Tensor;
import org.tessella.tensor.Workspace;

/**
 * A pixel-space DiT with adaLN-Zero (papers/l2c.md, DESIGN.md §3): {@code x_embedder} (conv patch x patch, stride
 * patch) to T tokens of width D plus fixed 2-D sin-cos positions; conditioning {@code c = t_embedder(t) +
 * y_embedder(y)} (timestep: 256 sinusoidal features, Linear-SiLU-Linear; class: a table with a null row {@code classes}
 * for classifier-free guidance); {@code blocks.i} ({@link DitBlock}); {@code final_layer}: adaLN shift/scale
 * (zero-initialised) over a LayerNorm, then a zero-initialised Linear to patch*patch*C, unpatchified to the image shape.
 * Predicts the noise epsilon. Other weights keep PyTorch's default initialisation (DiT uses Xavier; at this size the
 * difference is immaterial next to the zero-initialised modulations, which make every block start as the identity).
 */
public final class Dit extends Module {
    public final DitConfig config;
    public final Conv2d patchEmbed;
    public final Linear timeFc1, timeFc2, finalModulation, finalLinear;
    public final Embedding classEmbed;
    public final DitBlock[] blocks;
    private final Tensor positions; // [T, D], fixed

    public Dit(DitConfig config, Init init) {
        this.config = config;
        int d = config.width();
        patchEmbed = child("x_embedder.proj", new Conv2d(config.channels(), d, config.patch(), config.patch(), 0, true, init));
        timeFc1 = child("t_embedder.mlp.0", new Linear(DitConfig.TIME_FEATURES, d, true, init));
        timeFc2 = child("t_embedder.mlp.2", new Linear(d, d, true, init));
        classEmbed = child("y_embedder.embedding_table", new Embedding(config.classes() + 1, d, init, 0.02f));
        blocks = new DitBlock[config.depth()];
        for (int i = 0; i < blocks.length; i++) blocks[i] = child("blocks." + i, new DitBlock(d, config.heads(), config.mlpRatio(), init));
        finalModulation = child("final_layer.adaLN_modulation", new Linear(d, 2 * d, true, init));
        finalLinear = child("final_layer.linear", new Linear(d, config.patch() * config.patch() * config.channels(), true, init));
        zero(finalModulation.weight);
        zero(finalModulation.bias);
        zero(finalLinear.weight);
        zero(finalLinear.bias);
        positions = Tensor.of(sinCosPositions(d, config.gridSide()), config.tokens(), d);
    }

    static void zero(Tensor t) { Backends.of(t.device()).fill(t, 0f); }

    /** The null label (classifier-free guidance's unconditional input). */
    public int nullClass() { return config.classes(); }

    /**
     * DiT's 2-D sin-cos table, row {@code r * side + c}: the first D/2 entries encode the column c, the last D/2 the
     * row r, each as {@code [sin(p w_i), cos(p w_i)]} with {@code w_i = 10000^(-i / (D/4))}. StrictMath, so the table is
     * the same everywhere.
     */
    static float[] sinCosPositions(int d, int side) {
        int quarter = d / 4;
        float[] out = new float[side * side * d];
        for (int r = 0; r < side; r++)
            for (int c = 0; c < side; c++) {
                int row = (r * side + c) * d;
                for (int i = 0; i < quarter; i++) {
                    double w = StrictMath.pow(10000.0, -(double) i / quarter);
                    out[row + i] = (float) StrictMath.sin(c * w);
                    out[row + quarter + i] = (float) StrictMath.cos(c * w);
                    out[row + 2 * quarter + i] = (float) StrictMath.sin(r * w);
                    out[row + 3 * quarter + i] = (float) StrictMath.cos(r * w);
                }
            }
        return out;
    }

    /** DiT's timestep features [B, 256]: {@code [cos(t f_i), sin(t f_i)]}, {@code f_i = exp(-ln(10000) i / 128)}. */
    static Tensor timestepFeatures(float[] t) {
        int half = DitConfig.TIME_FEATURES / 2;
        float[] out = new float[t.length * DitConfig.TIME_FEATURES];
        for (int b = 0; b < t.length; b++)
            for (int i = 0; i < half; i++) {
                double a = t[b] * StrictMath.exp(-StrictMath.log(10000.0) * i / half);
                out[b * DitConfig.TIME_FEATURES + i] = (float) StrictMath.cos(a);
                out[b * DitConfig.TIME_FEATURES + half + i] = (float) StrictMath.sin(a);
            }
        return Tensor.of(out, t.length, DitConfig.TIME_FEATURES);
    }

    /**
     * SiLU(c) [B, D] for timesteps t (DDPM step indices, as floats) and labels y (I32 [B], the null label allowed; on
     * any device, uploaded to the model's like the timestep features).
     */
    public Tensor conditioning(float[] t, Tensor labels) {
        if (labels.rank() != 1 || labels.shape(0) != t.length)
            throw new ShapeException("dit: labels " + Shape.str(labels.shape()) + " do not match " + t.length + " timesteps");
        Tensor te = timeFc2.forward(Ops.silu(timeFc1.forward(onDevice(timestepFeatures(t)))));
        return Ops.silu(Ops.add(te, classEmbed.forward(onDevice(labels))));
    }

    /** Patch tokens plus positions [B, T, D] for images [B, C, H, W] (on any device: uploaded to the model's). */
    public Tensor embed(Tensor images) {
        images = onDevice(images);
        if (images.rank() != 4 || images.shape(1) != config.channels() || images.shape(2) != config.imageSize() || images.shape(3) != config.imageSize())
            throw new ShapeException("dit: images " + Shape.str(images.shape()) + " are not [B, " + config.channels() + ", "
                    + config.imageSize() + ", " + config.imageSize() + "]");
        int b = images.shape(0), d = config.width();
        Tensor p = Ops.reshape(patchEmbed.forward(images), b, d, config.tokens());
        return Ops.add(Ops.permute(p, 0, 2, 1), Ops.to(positions, images.device()));
    }

    /** Final adaLN, linear and unpatchify: tokens [B, T, D] to the predicted noise [B, C, H, W]. */
    public Tensor head(Tensor x, Tensor siluC) {
        int b = x.shape(0), d = config.width(), p = config.patch(), s = config.gridSide(), ch = config.channels();
        Tensor m = Ops.reshape(finalModulation.forward(siluC), b, 1, 2 * d);
        Tensor h = finalLinear.forward(DitBlock.modulateNorm(x, Ops.slice(m, 2, 0, d), Ops.slice(m, 2, d, 2 * d)));
        // [B, (r, c), (pi, pj, ch)] -> [B, ch, (r, pi), (c, pj)]
        Tensor u = Ops.permute(Ops.reshape(h, b, s, s, p, p, ch), 0, 5, 1, 3, 2, 4);
        return Ops.reshape(u, b, ch, s * p, s * p);
    }

    /** The predicted noise for noisy images x_t [B, C, H, W] at timesteps t with labels y. */
    public Tensor forward(Tensor xt, float[] t, Tensor labels) {
        Tensor c = conditioning(t, labels);
        Tensor x = embed(xt);
        for (DitBlock block : blocks) {
            DitBlock.Modulation m = block.modulate(c);
            x = oneBlockAtATime(x, in -> block.forward(in, m));
        }
        return head(x, c);
    }

    /** {@link #forward(Tensor, float[], Tensor)} with every sub-layer's branch chosen by {@code policy}. */
    public Tensor forward(Tensor xt, float[] t, Tensor labels, SubLayerPolicy policy) {
        Tensor c = conditioning(t, labels);
        Tensor x = embed(xt);
        for (int i = 0; i < blocks.length; i++) {
            DitBlock block = blocks[i];
            DitBlock.Modulation m = block.modulate(c);
            int index = i;
            x = oneBlockAtATime(x, in -> block.forward(in, m, index, policy));
        }
        return head(x, c);
    }

    private static final ThreadLocal<Workspace> BLOCK_SCRATCH = ThreadLocal.withInitial(Workspace::new);

    /**
     * Without a tape (sampling), runs a block in a per-thread scratch workspace and copies only its output out: the
     * bump allocator frees nothing before its step ends, so this holds one block's temporaries at a time instead of
     * the whole forward pass's (a sixth of the memory for dit-s). With a tape the temporaries are needed for backward.
     */
    private static Tensor oneBlockAtATime(Tensor x, java.util.function.UnaryOperator<Tensor> block) {
        if (Tape.enabled()) return block.apply(x);
        Tensor out = Backends.of(x.device()).empty(DType.F32, x.shape());
        try (Workspace ignored = BLOCK_SCRATCH.get().open()) {
            Backends.of(x.device()).copy(block.apply(x), out);
        }
        return out;
    }
}
