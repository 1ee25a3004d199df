package org.tessella.tokenizer;

import org.tessella.autograd.Functional;
import org.tessella.autograd.Ops;
import org.tessella.autograd.Tape;
import org.tessella.io.Checkpoint;
import org.tessella.io.Json;
import org.tessella.io.TessellaIOException;
import org.tessella.nn.Init;
import org.tessella.nn.Module;
import org.tessella.tensor.DType;
import org.tessella.tensor.Shape;
import org.tessella.tensor.ShapeException;
import org.tessella.tensor.Tensor;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The stage-1 VQ tokenizer (DESIGN.md §3): {@link Encoder} (child {@code encoder}), {@link VectorQuantizer} (child
 * {@code quantizer}) and {@link Decoder} (child {@code decoder}), for images [B, 1, 32, 32] in [-1, 1].
 *
 * <p>Latent layout: the encoder gives [B, D, h, w]; the quantizer and everything downstream (stage 2, the CRT
 * regularizer) see sequences [B, h*w, D] in raster order, token {@code n = row * w + col}
 * ({@link #toSequence}, {@link #toGrid}).
 *
 * <p>Loss: {@code loss = mse(reconstruction, images) + codebookLoss + commitment * commitLoss}. A CRT regularizer
 * term, when used, is added by the caller from {@code quant().latents()}.
 */
public final class VqTokenizer extends Module {
    public final VqConfig config;
    public final Encoder encoder;
    public final VectorQuantizer quantizer;
    public final Decoder decoder;

    /**
     * @param reconstruction     decoded images [B, 1, 32, 32]
     * @param quant              the quantizer's output (codes, I32 indices [B, N], normalised latents, its two losses)
     * @param reconstructionLoss scalar mse(reconstruction, images)
     * @param quantizerLoss      scalar codebookLoss + commitment * commitLoss
     * @param loss               scalar reconstructionLoss + quantizerLoss
     */
    public record Output(Tensor reconstruction, VectorQuantizer.Output quant, Tensor reconstructionLoss,
                         Tensor quantizerLoss, Tensor loss) {}

    public VqTokenizer(VqConfig config, Init init) {
        this.config = config;
        encoder = child("encoder", new Encoder(config, init));
        quantizer = child("quantizer", new VectorQuantizer(config.codebookSize(), config.codeDim(), init));
        decoder = child("decoder", new Decoder(config, init));
    }

    /** Tokens per image (64 or 16 for the presets). */
    public int tokens() { return config.tokensPerImage(); }

    /** Raw encoder latents as a raster-order sequence [B, N, D]. */
    public Tensor encodeLatents(Tensor images) {
        return toSequence(encoder.forward(images));
    }

    /** Encode, quantize, decode; the losses are ready for {@link Tape#backward}. */
    public Output forward(Tensor images) {
        Encoder.checkImages("tokenizer", images);
        VectorQuantizer.Output q = quantizer.forward(encodeLatents(images));
        Tensor recon = decodeCodes(q.quantized());
        Tensor recLoss = Functional.mse(recon, images);
        Tensor qLoss = Ops.add(q.codebookLoss(), Ops.mulScalar(q.commitLoss(), config.commitment()));
        return new Output(recon, q, recLoss, qLoss, Ops.add(recLoss, qLoss));
    }

    /** Code indices I32 [B, N] of images [B, 1, 32, 32], in raster order; records nothing on the tape. */
    public Tensor encodeIndices(Tensor images) {
        try (var ignored = Tape.noGrad()) {
            return quantizer.forward(encodeLatents(images)).indices();
        }
    }

    /**
     * Images [B, 1, 32, 32] from I32 code indices [B, N] (raster order). Differentiable in the decoder's and codebook's
     * weights; wrap in {@link Tape#noGrad()} to only sample.
     */
    public Tensor decodeIndices(Tensor indices) {
        if (indices.dtype() != DType.I32 || indices.rank() != 2 || indices.shape(1) != tokens())
            throw new ShapeException("tokenizer: wants I32 indices [B, " + tokens() + "], got " + indices.dtype() + " "
                    + Shape.str(indices.shape()));
        for (int k : indices.toIntArray())
            if (k < 0 || k >= config.codebookSize())
                throw new IllegalArgumentException("tokenizer: code index " + k + " outside [0, " + config.codebookSize() + ")");
        return decodeCodes(quantizer.lookup(indices));
    }

    /** Images [B, 1, 32, 32] from code vectors [B, N, D] in raster order. */
    public Tensor decodeCodes(Tensor codes) {
        if (codes.rank() != 3 || codes.shape(1) != tokens() || codes.shape(2) != config.codeDim())
            throw new ShapeException("tokenizer: wants codes [B, " + tokens() + ", " + config.codeDim() + "], got " + Shape.str(codes.shape()));
        return decoder.forward(toGrid(codes, config.gridSide(), config.gridSide()));
    }

    /** [B, D, h, w] to [B, h*w, D] with token {@code n = row * w + col} (contiguous, differentiable). */
    public static Tensor toSequence(Tensor grid) {
        if (grid.rank() != 4) throw new ShapeException("toSequence: wants [B, D, h, w], got " + Shape.str(grid.shape()));
        int b = grid.shape(0), d = grid.shape(1), n = grid.shape(2) * grid.shape(3);
        return Ops.contiguous(Ops.permute(Ops.reshape(grid, b, d, n), 0, 2, 1));
    }

    /** [B, h*w, D] (raster order) to [B, D, h, w] (contiguous, differentiable); the inverse of {@link #toSequence}. */
    public static Tensor toGrid(Tensor seq, int h, int w) {
        if (seq.rank() != 3 || seq.shape(1) != h * w)
            throw new ShapeException("toGrid: wants [B, " + h * w + ", D], got " + Shape.str(seq.shape()));
        int b = seq.shape(0), d = seq.shape(2);
        return Ops.reshape(Ops.permute(seq, 0, 2, 1), b, d, h, w);
    }

    /** File name of a trained tokenizer's weights in its run directory. */
    public static final String WEIGHTS = "tokenizer.safetensors";

    /**
     * Writes the weights and config (no optimizer or regularizer state) to {@code dir/tokenizer.safetensors},
     * atomically, as a checkpoint whose config is {@code {"tokenizer": ...}}.
     */
    public void save(Path dir, long step) {
        Map<String, Object> meta = new LinkedHashMap<>();
        meta.put("tokenizer", config.toJson());
        Checkpoint.save(dir.resolve(WEIGHTS), stateDict(), Checkpoint.meta(meta, step, null));
    }

    /**
     * Loads a trained tokenizer (in eval mode) from a run directory: {@code dir/tokenizer.safetensors}, or, for a run
     * that has not finished, the tokenizer weights in {@code dir/checkpoint.safetensors} (optimizer, regularizer and
     * usage entries are ignored). {@code dir} may also name one of those files. Errors name the file and what does not
     * match.
     */
    public static VqTokenizer load(Path dir) {
        Path file;
        if (Files.isRegularFile(dir)) file = dir;
        else if (Files.exists(dir.resolve(WEIGHTS))) file = dir.resolve(WEIGHTS);
        else if (Files.exists(dir.resolve(TokenizerTraining.CHECKPOINT))) file = dir.resolve(TokenizerTraining.CHECKPOINT);
        else throw new IllegalArgumentException("no tokenizer at " + dir.resolve(WEIGHTS) + " (nor a checkpoint "
                    + TokenizerTraining.CHECKPOINT + "): train one with tessella train-tokenizer --out " + dir);
        Checkpoint c = Checkpoint.load(file);
        Json.Obj cfg = c.config();
        if (!cfg.has("tokenizer"))
            throw new TessellaIOException(file, "not a tokenizer checkpoint: its config has no 'tokenizer' entry (keys " + cfg.keys()
                    + "; a stage-2 or classifier checkpoint?)");
        VqConfig vc;
        try {
            vc = VqConfig.fromJson(cfg.object("tokenizer"));
        } catch (RuntimeException e) {
            throw new TessellaIOException(file, "bad tokenizer config: " + e.getMessage());
        }
        VqTokenizer m = new VqTokenizer(vc, new Init(0));
        try {
            m.loadStateDict(c.without(TokenizerTraining.OPTIM_PREFIX, TokenizerTraining.CRT_PREFIX, TokenizerTraining.USAGE_PREFIX));
        } catch (RuntimeException e) {
            throw new TessellaIOException(file, "weights do not match its tokenizer config " + vc.name() + ": " + e.getMessage());
        }
        m.eval();
        return m;
    }
}
