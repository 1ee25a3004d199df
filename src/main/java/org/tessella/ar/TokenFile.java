package org.tessella.ar;

import org.tessella.io.Safetensors;
import org.tessella.io.TessellaIOException;
import org.tessella.tensor.Tensor;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Token sequences with class labels, the input of stage-2 training: a safetensors file with I32 tensors
 * {@code train.tokens} [n, length], {@code train.labels} [n], {@code test.tokens}, {@code test.labels}, and metadata
 * {@code format = tessella-tokens-1}, {@code vocab}, {@code length}, {@code grid_h}, {@code grid_w}, {@code classes}
 * (plus free-form entries such as {@code source} or {@code true_bits_per_token}).
 */
public record TokenFile(int vocab, int length, int gridH, int gridW, int classes, Split train, Split test,
                        Map<String, String> extra) {
    public static final String FORMAT = "tessella-tokens-1";

    /** n sequences of {@code length} tokens (row-major) and their labels. */
    public record Split(int[] tokens, int[] labels) {
        public int size() { return labels.length; }
    }

    public TokenFile {
        check("train", train, vocab, length, classes);
        check("test", test, vocab, length, classes);
        extra = Map.copyOf(extra == null ? Map.of() : extra);
    }

    private static void check(String what, Split s, int vocab, int length, int classes) {
        if ((long) s.labels().length * length != s.tokens().length)
            throw new IllegalArgumentException(what + ": " + s.tokens().length + " tokens are not " + s.labels().length + " sequences of " + length);
        for (int t : s.tokens())
            if (t < 0 || t >= vocab) throw new IllegalArgumentException(what + ": token " + t + " outside the vocabulary 0.." + (vocab - 1));
        for (int c : s.labels())
            if (c < 0 || c >= classes) throw new IllegalArgumentException(what + ": label " + c + " outside classes 0.." + (classes - 1));
    }

    /** Writes the file atomically. */
    public void write(Path file) {
        Map<String, Tensor> t = new LinkedHashMap<>();
        t.put("train.tokens", Tensor.ofInts(train.tokens(), train.size(), length));
        t.put("train.labels", Tensor.ofInts(train.labels(), train.size()));
        t.put("test.tokens", Tensor.ofInts(test.tokens(), test.size(), length));
        t.put("test.labels", Tensor.ofInts(test.labels(), test.size()));
        Map<String, String> m = new LinkedHashMap<>(extra);
        m.put("format", FORMAT);
        m.put("vocab", Integer.toString(vocab));
        m.put("length", Integer.toString(length));
        m.put("grid_h", Integer.toString(gridH));
        m.put("grid_w", Integer.toString(gridW));
        m.put("classes", Integer.toString(classes));
        Safetensors.write(file, t, m);
    }

    /** Reads and validates a token file; errors name the file and what is wrong. */
    public static TokenFile read(Path file) {
        Safetensors.File f = Safetensors.read(file);
        Map<String, String> m = f.metadata();
        if (!FORMAT.equals(m.get("format")))
            throw new TessellaIOException(file, "not a Tessella token file (metadata format is " + m.get("format") + ", want " + FORMAT
                    + "); make one with tessella encode or tessella synth-tokens");
        try {
            int vocab = intMeta(m, "vocab"), length = intMeta(m, "length"), classes = intMeta(m, "classes");
            Map<String, String> extra = new LinkedHashMap<>(m);
            for (String k : new String[]{"format", "vocab", "length", "grid_h", "grid_w", "classes"}) extra.remove(k);
            return new TokenFile(vocab, length, intMeta(m, "grid_h"), intMeta(m, "grid_w"), classes,
                    split(f, "train"), split(f, "test"), extra);
        } catch (IllegalArgumentException e) {
            throw new TessellaIOException(file, e.getMessage());
        }
    }

    private static Split split(Safetensors.File f, String name) {
        Tensor tokens = f.tensors().get(name + ".tokens"), labels = f.tensors().get(name + ".labels");
        if (tokens == null || labels == null) throw new IllegalArgumentException("missing " + name + ".tokens or " + name + ".labels");
        return new Split(tokens.toIntArray(), labels.toIntArray());
    }

    private static int intMeta(Map<String, String> m, String key) {
        String v = m.get(key);
        if (v == null) throw new IllegalArgumentException("metadata lacks '" + key + "'");
        try {
            return Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("metadata '" + key + "' is not an integer: " + v);
        }
    }
}
