package org.tessella.io;

import org.tessella.tensor.Tensor;

import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A Tessella checkpoint: one safetensors file holding named tensors (model weights under their PyTorch
 * {@code state_dict} names, optimizer state under prefixes such as {@code optim.exp_avg.<name>}) and string metadata:
 * {@code format} = {@value #FORMAT}, {@code config} (JSON), {@code step}, {@code rng} (JSON), plus any other entries.
 * The file is readable by the Python {@code safetensors} package. This class stays generic: nn and optim build and
 * consume the maps.
 */
public record Checkpoint(Path file, Map<String, Tensor> tensors, Map<String, String> meta) {
    public static final String FORMAT = "tessella-checkpoint-1";
    public static final String KEY_FORMAT = "format", KEY_CONFIG = "config", KEY_STEP = "step", KEY_RNG = "rng";

    /**
     * Writes a checkpoint atomically (a crash leaves the previous file intact). {@code meta} may hold config, step,
     * rng and anything else; {@code format} is set here.
     */
    public static void save(Path file, Map<String, Tensor> tensors, Map<String, String> meta) {
        Map<String, String> m = new LinkedHashMap<>(meta == null ? Map.of() : meta);
        String f = m.get(KEY_FORMAT);
        if (f != null && !f.equals(FORMAT))
            throw new IllegalArgumentException(file + ": metadata 'format' is reserved for \"" + FORMAT + "\", got \"" + f + "\"");
        m.put(KEY_FORMAT, FORMAT);
        Safetensors.write(file, tensors, m);
    }

    /**
     * The training progress every trainer records beside its step (data position, time and FLOPs so far), as a mutable
     * map for trainer-specific additions.
     */
    public static Map<String, Object> progress(long epoch, int position, double trainSeconds, long trainFlops) {
        Map<String, Object> rng = new java.util.LinkedHashMap<>();
        rng.put("epoch", epoch);
        rng.put("position", position);
        rng.put("train_seconds", trainSeconds);
        rng.put("train_flops", trainFlops);
        return rng;
    }

    /** Metadata with the standard entries: config and rng as JSON values (maps, lists, numbers...), and the step. */
    public static Map<String, String> meta(Object config, long step, Object rng) {
        Map<String, String> m = new LinkedHashMap<>();
        if (config != null) m.put(KEY_CONFIG, config instanceof String s ? s : Json.write(config));
        m.put(KEY_STEP, Long.toString(step));
        if (rng != null) m.put(KEY_RNG, rng instanceof String s ? s : Json.write(rng));
        return m;
    }

    /** Loads a checkpoint; the error names the file when it is missing, corrupt or not a Tessella checkpoint. */
    public static Checkpoint load(Path file) {
        Safetensors.File f = Safetensors.read(file);
        String format = f.metadata().get(KEY_FORMAT);
        if (format == null)
            throw new TessellaIOException(file, "not a Tessella checkpoint (a safetensors file without '" + KEY_FORMAT + "' metadata)");
        if (!format.equals(FORMAT)) {
            String hint = format.startsWith("tessella-checkpoint-") ? "written by another Tessella version" : "not a Tessella checkpoint";
            throw new TessellaIOException(file, hint + ": format \"" + format + "\", this build reads \"" + FORMAT + "\"");
        }
        Checkpoint c = new Checkpoint(file, f.tensors(), f.metadata());
        if (f.metadata().containsKey(KEY_STEP)) c.step();
        return c;
    }

    /** The named tensor; the error names the checkpoint. */
    public Tensor tensor(String name) {
        Tensor t = tensors.get(name);
        if (t == null) throw new TessellaIOException(file, "checkpoint has no tensor '" + name + "'");
        return t;
    }

    /** The tensors whose names start with {@code prefix}, with the prefix removed, in file order. */
    public Map<String, Tensor> withPrefix(String prefix) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : tensors.entrySet())
            if (e.getKey().startsWith(prefix)) out.put(e.getKey().substring(prefix.length()), e.getValue());
        return Collections.unmodifiableMap(out);
    }

    /** The tensors whose names start with none of {@code excludedPrefixes} (e.g. the model weights alone). */
    public Map<String, Tensor> without(String... excludedPrefixes) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        outer:
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            for (String p : excludedPrefixes) if (e.getKey().startsWith(p)) continue outer;
            out.put(e.getKey(), e.getValue());
        }
        return Collections.unmodifiableMap(out);
    }

    /** A metadata entry; the error names the checkpoint. */
    public String metaValue(String key) {
        String v = meta.get(key);
        if (v == null) throw new TessellaIOException(file, "checkpoint has no '" + key + "' metadata");
        return v;
    }

    /** The training step recorded in the checkpoint. */
    public long step() {
        String s = metaValue(KEY_STEP);
        try {
            return Long.parseLong(s.trim());
        } catch (NumberFormatException e) {
            throw new TessellaIOException(file, "metadata 'step' is \"" + s + "\", not an integer");
        }
    }

    /** The model config as a parsed JSON object. */
    public Json.Obj config() { return json(KEY_CONFIG); }

    /** The RNG state as a parsed JSON object. */
    public Json.Obj rng() { return json(KEY_RNG); }

    /** A metadata entry that holds a JSON object, parsed; the error names the checkpoint. */
    public Json.Obj json(String key) {
        String s = metaValue(key);
        try {
            return Json.parseObject(s, key);
        } catch (Json.JsonException e) {
            throw new TessellaIOException(file, "metadata " + e.getMessage());
        }
    }
}
