package org.tessella.cli;

import org.tessella.ar.Generator;
import org.tessella.ar.GptConfig;
import org.tessella.ar.SampleOptions;
import org.tessella.io.Safetensors;
import org.tessella.tensor.Tensor;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/** {@code tessella sample}: class-conditional token sequences from a trained stage-2 model. */
final class SampleCommand implements Command {
    @Override public String name() { return "sample"; }

    @Override public String summary() { return "sample token sequences from a stage-2 model (KV cache, CFG)"; }

    @Override public String help() {
        return """
                usage: tessella sample --ar DIR --out FILE [options]
                  Samples with a KV cache; classifier-free guidance batches conditional and null sequences together.
                  Writes FILE (safetensors: tokens I32 [n, length], labels I32 [n]) atomically.
                options:
                  --ar DIR            run directory of tessella train-ar (required)
                  --out FILE          output file (required)
                  --classes LIST      comma-separated class ids (default: every class)
                  --per-class N       sequences per class (default 8)
                  --temperature T     softmax temperature, > 0 (default 1)
                  --top-k K           keep the K most likely tokens (default 0 = all)
                  --top-p P           nucleus sampling mass in (0, 1] (default 1 = off)
                  --cfg S             guidance scale (default 1 = none)
                  --seed S            seed (default 0)
                  --threads N         worker threads""";
    }

    @Override public int run(String[] argv) {
        Args a = Args.parse(name(), argv, Set.of("ar", "out", "classes", "per-class", "temperature", "top-k", "top-p", "cfg", "seed", "threads"), Set.of());
        Main.configureThreads(a);
        Path dir = a.requiredPath(name(), "ar"), out = a.requiredPath(name(), "out");
        SampleOptions o;
        try {
            o = new SampleOptions(a.number("temperature", 1f), a.integer("top-k", 0), a.number("top-p", 1f), a.number("cfg", 1f), a.longValue("seed", 0));
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage());
        }
        int perClass = a.integer("per-class", 8);
        if (perClass < 1) throw new UsageException("--per-class must be at least 1");
        Generator g = Generator.load(dir);
        GptConfig c = g.config();
        if (o.topK() > c.vocab()) throw new UsageException("--top-k " + o.topK() + " is larger than the vocabulary of " + c.vocab());
        int[] classes = parseClasses(a.string("classes", null), c);
        int[] labels = new int[classes.length * perClass];
        for (int i = 0; i < labels.length; i++) labels[i] = classes[i / perClass];
        long t0 = System.nanoTime();
        int[][] seqs = g.sample(labels, o);
        double secs = (System.nanoTime() - t0) / 1e9;
        int[] flat = new int[labels.length * c.length()];
        for (int i = 0; i < seqs.length; i++) System.arraycopy(seqs[i], 0, flat, i * c.length(), c.length());
        Map<String, Tensor> t = new LinkedHashMap<>();
        t.put("tokens", Tensor.ofInts(flat, labels.length, c.length()));
        t.put("labels", Tensor.ofInts(labels, labels.length));
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", "tessella-samples-1");
        meta.put("vocab", Integer.toString(c.vocab()));
        meta.put("length", Integer.toString(c.length()));
        meta.put("grid_h", Integer.toString(c.gridH()));
        meta.put("grid_w", Integer.toString(c.gridW()));
        meta.put("options", o.toString());
        Safetensors.write(out, t, meta);
        System.out.printf(java.util.Locale.ROOT, "sampled %d sequences of %d tokens in %.2f s (%.0f tokens/s); wrote %s%n",
                labels.length, c.length(), secs, labels.length * (double) c.length() / secs, out);
        return 0;
    }

    static int[] parseClasses(String list, GptConfig c) {
        if (list == null) {
            int[] all = new int[c.classes()];
            for (int i = 0; i < all.length; i++) all[i] = i;
            return all;
        }
        String[] parts = list.split(",");
        int[] out = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            try {
                out[i] = Integer.parseInt(parts[i].trim());
            } catch (NumberFormatException e) {
                throw new UsageException("--classes wants comma-separated integers, got '" + list + "'");
            }
            if (out[i] < 0 || out[i] > c.nullClass())
                throw new UsageException("class " + out[i] + " is unknown: the model has classes 0.." + (c.classes() - 1)
                        + " (and " + c.nullClass() + " for unconditional)");
        }
        return out;
    }
}
