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
import org.tessella.tensor.Workspace;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
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
 *
 * <p>One image at a time, from a trained run directory:
 * <pre>{@code
 * VqTokenizer tok = VqTokenizer.load(Path.of("runs/vq"));
 * int[] tokens = tok.encode(image);      // 28x28 (padded) or 32x32 grey values in [-1, 1]
 * float[] decoded = tok.decode(tokens);  // 32x32 values in [-1, 1]
 * }</pre>
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

    /** Side of the Fashion-MNIST images that {@link #encode(float[])} also accepts (padded by 2 like {@code FashionMnist}). */
    public static final int SOURCE_SIZE = 28;

    /**
     * Code indices ({@link #tokens()} of them, raster order) of one grey image, given as {@code 28 * 28 = 784} values
     * (a Fashion-MNIST image: padded by 2 pixels of background -1 on every side, as {@code FashionMnist} does) or
     * {@code 32 * 32 = 1024} values (taken as is), row-major, in [-1, 1] with -1 the background (a 0..255 pixel p is
     * {@code p / 127.5 - 1}). For batches use {@link #encodeIndices}. Throws an IllegalArgumentException naming the
     * size or the first value out of range.
     */
    public int[] encode(float[] image) {
        int s = VqConfig.IMAGE_SIZE, pad = (s - SOURCE_SIZE) / 2;
        float[] x;
        if (image.length == s * s) x = image;
        else if (image.length == SOURCE_SIZE * SOURCE_SIZE) {
            x = new float[s * s];
            Arrays.fill(x, -1f);
            for (int r = 0; r < SOURCE_SIZE; r++) System.arraycopy(image, r * SOURCE_SIZE, x, (r + pad) * s + pad, SOURCE_SIZE);
        } else
            throw new IllegalArgumentException("tokenizer: wants one grey image of " + SOURCE_SIZE + "x" + SOURCE_SIZE + " ("
                    + SOURCE_SIZE * SOURCE_SIZE + " values) or " + s + "x" + s + " (" + s * s + " values), got " + image.length
                    + " values" + (image.length % (s * s) == 0 ? " (" + image.length / (s * s) + " channels or images of "
                    + s + "x" + s + "? use encodeIndices for a batch [B, 1, " + s + ", " + s + "])" : ""));
        for (int i = 0; i < image.length; i++)
            if (!(Math.abs(image[i]) <= 1f + RANGE_SLACK))
                throw new IllegalArgumentException("tokenizer: image values must be in [-1, 1] (background -1; a 0..255 pixel p is p / 127.5 - 1), got "
                        + image[i] + " at index " + i);
        try (var ignored = Tape.noGrad(); Workspace w = new Workspace().open()) {
            return encodeIndices(Tensor.of(x.clone(), 1, 1, s, s)).toIntArray();
        }
    }

    /**
     * One 32x32 grey image (1024 values, row-major, clamped to [-1, 1]) from {@link #tokens()} code indices in raster
     * order, each in [0, codebook size). The inverse of {@link #encode(float[])} up to the tokenizer's reconstruction
     * error; for batches use {@link #decodeIndices}.
     */
    public float[] decode(int[] tokens) {
        if (tokens.length != tokens())
            throw new IllegalArgumentException("tokenizer " + config.name() + ": wants " + tokens() + " code indices, got " + tokens.length);
        float[] out;
        try (var ignored = Tape.noGrad(); Workspace w = new Workspace().open()) {
            out = decodeIndices(Tensor.ofInts(tokens.clone(), 1, tokens.length)).toFloatArray();
        }
        for (int i = 0; i < out.length; i++) out[i] = Math.max(-1f, Math.min(1f, out[i]));
        return out;
    }

    /** How far outside [-1, 1] {@link #encode(float[])} lets values be (float rounding of a caller's scaling). */
    private static final float RANGE_SLACK = 1e-3f;

    /** Raw encoder latents as a raster-order sequence [B, N, D]. */
    public Tensor encodeLatents(Tensor images) {
        return toSequence(encoder.forward(images));
    }

    /** Encode, quantize, decode; the losses are ready for {@link Tape#backward}. */
    public Output forward(Tensor images) {
        Encoder.checkImages("tokenizer", images);
        images = onDevice(images); // once: the encoder and the reconstruction loss share the upload
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
        return decodeCodes(quantizer.lookup(onDevice(indices)));
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

    /**
     * The first difference between a model's tensors and a file's, in the model's order: a tensor whose shape differs
     * (named with both shapes), one the file lacks, or (after all of the model's) one the file has and the model does
     * not; null when they match.
     */
    static String firstMismatch(Map<String, Tensor> own, Map<String, Tensor> file) {
        for (Map.Entry<String, Tensor> e : own.entrySet()) {
            Tensor t = file.get(e.getKey());
            if (t == null)
                return "tensor " + e.getKey() + " " + Shape.str(e.getValue().shape()) + " is missing from the file"
                        + (file.isEmpty() ? " (it holds no tensors)" : " (its first tensor is " + file.keySet().iterator().next() + ")");
            if (!Arrays.equals(t.shape(), e.getValue().shape()))
                return "tensor " + e.getKey() + " is " + Shape.str(t.shape()) + " in the file but " + Shape.str(e.getValue().shape())
                        + " in the config";
        }
        for (Map.Entry<String, Tensor> e : file.entrySet())
            if (!own.containsKey(e.getKey()))
                return "the file holds tensor " + e.getKey() + " " + Shape.str(e.getValue().shape()) + " that the config has no place for";
        return null;
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
        Map<String, Tensor> state = c.without(TokenizerTraining.OPTIM_PREFIX, TokenizerTraining.CRT_PREFIX, TokenizerTraining.USAGE_PREFIX,
                TokenizerTraining.DISC_PREFIX);
        String mismatch = firstMismatch(m.stateDict(), state);
        if (mismatch != null)
            throw new TessellaIOException(file, "weights do not match its tokenizer config " + vc.name() + " (" + vc.tokensPerImage()
                    + " tokens, codebook " + vc.codebookSize() + ", " + vc.channels() + " channels): " + mismatch
                    + "; a tokenizer of another architecture, or a file from another program?");
        try {
            m.loadStateDict(state);
        } catch (RuntimeException e) {
            throw new TessellaIOException(file, "weights do not match its tokenizer config " + vc.name() + ": " + e.getMessage());
        }
        m.eval();
        return m;
    }
}
