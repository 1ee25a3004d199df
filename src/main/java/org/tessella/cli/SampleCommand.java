package org.tessella.cli;

import org.tessella.ar.Generator;
import org.tessella.ar.GptConfig;
import org.tessella.ar.SampleOptions;
import org.tessella.autograd.Tape;
import org.tessella.eval.FashionClassifier;
import org.tessella.eval.FrechetDistance;
import org.tessella.io.Png;
import org.tessella.io.Safetensors;
import org.tessella.tensor.Device;
import org.tessella.tensor.Tensor;
import org.tessella.tensor.Workspace;
import org.tessella.tokenizer.VqConfig;
import org.tessella.tokenizer.VqTokenizer;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
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
                  Writes FILE (safetensors: tokens I32 [n, length], labels I32 [n]) atomically. With --tokenizer, also
                  decodes the sequences to images and writes a PNG grid, one row per class (--png, default FILE with
                  the extension .png); with --classifier as well, classifies the images and prints and writes
                  (FILE with the extension .classes.json) the class accuracy: the fraction of images labelled as
                  the class asked for, overall and per class (null-class samples are not counted).
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
                  --tokenizer DIR     tokenizer run (train-tokenizer) to decode with; its codebook size and tokens
                                      per image must equal the model's vocabulary and length
                  --png FILE          the PNG grid (default: FILE with the extension .png; needs --tokenizer)
                  --classifier DIR    classifier run (train-classifier) for the class accuracy (needs --tokenizer)
                  --threads N         worker threads
                  --device D          cpu (default) or cuda[:N]: run the models there (the draws stay on the host,
                                      so a seed gives the same tokens up to float rounding of the logits)""";
    }

    @Override public int run(String[] argv) {
        Args a = Args.parse(name(), argv, Set.of("ar", "out", "classes", "per-class", "temperature", "top-k", "top-p", "cfg", "seed",
                "tokenizer", "png", "classifier", "threads", "device"), Set.of());
        Main.configureThreads(a);
        Device device = Main.device(a);
        Path dir = a.requiredPath(name(), "ar"), out = a.requiredPath(name(), "out");
        SampleOptions o;
        try {
            o = new SampleOptions(a.number("temperature", 1f), a.integer("top-k", 0), a.number("top-p", 1f), a.number("cfg", 1f), a.longValue("seed", 0));
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage());
        }
        int perClass = a.integer("per-class", 8);
        if (perClass < 1) throw new UsageException("--per-class must be at least 1");
        if (!a.has("tokenizer") && (a.has("png") || a.has("classifier")))
            throw new UsageException("--png and --classifier need --tokenizer DIR to decode the samples into images");
        Generator g = Generator.load(dir);
        g.model().to(device);
        GptConfig c = g.config();
        if (o.topK() > c.vocab()) throw new UsageException("--top-k " + o.topK() + " is larger than the vocabulary of " + c.vocab());
        int[] classes = parseClasses(a.string("classes", null), c);
        // everything that can be refused is checked before sampling, so a refused request leaves no file
        VqTokenizer tokenizer = null;
        FashionClassifier classifier = null;
        if (a.has("tokenizer")) {
            Path tokDir = a.path("tokenizer").get();
            tokenizer = VqTokenizer.load(tokDir);
            checkTokenizerFits(tokenizer, tokDir, c, dir);
            tokenizer.to(device);
            if (a.has("classifier")) {
                if (c.classes() != FashionClassifier.CLASSES)
                    throw new UsageException("--classifier: the model has " + c.classes() + " classes, the Fashion-MNIST classifier "
                            + FashionClassifier.CLASSES);
                classifier = FashionClassifier.load(a.path("classifier").get());
                classifier.to(device);
            }
        }
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
        if (tokenizer == null) return 0;

        float[] images = decode(tokenizer, flat, labels.length);
        Path png = a.path("png").orElse(sibling(out, ".png"));
        Path parent = png.toAbsolutePath().getParent();
        try {
            if (parent != null) Files.createDirectories(parent);
        } catch (java.io.IOException e) {
            throw new org.tessella.io.TessellaIOException(parent, "cannot create the directory: " + e.getMessage());
        }
        int side = VqConfig.IMAGE_SIZE;
        Png.writeGrid(png, images, labels.length, side, side, classes.length, perClass, 2, Png.Range.MINUS_ONE_ONE);
        System.out.printf("decoded with %s; wrote %s (%d rows of %d: one row per class)%n", a.path("tokenizer").get(), png,
                classes.length, perClass);
        if (classifier == null) return 0;

        Map<String, Object> acc = classAccuracy(classifier, images, labels, c);
        acc.put("cfg", o.cfgScale());
        acc.put("temperature", o.temperature());
        acc.put("top_k", o.topK());
        acc.put("top_p", o.topP());
        acc.put("seed", o.seed());
        acc.put("ar", dir.toString());
        acc.put("tokenizer", a.path("tokenizer").get().toString());
        acc.put("classifier", a.path("classifier").get().toString());
        Path json = sibling(out, ".classes.json");
        TrainClassifierCommand.writeJson(json, acc);
        if (acc.get("class_accuracy") instanceof Double overall) {
            StringBuilder per = new StringBuilder();
            @SuppressWarnings("unchecked") Map<String, Object> pc = (Map<String, Object>) acc.get("per_class_accuracy");
            for (var e : pc.entrySet()) per.append(String.format(java.util.Locale.ROOT, " %s:%.2f", e.getKey(), (Double) e.getValue()));
            System.out.printf(java.util.Locale.ROOT, "class accuracy %.4f (per class%s); wrote %s%n", overall, per, json);
        } else {
            System.out.println("no class accuracy: every sample is of the null class; wrote " + json);
        }
        return 0;
    }

    /** One-line usage error naming both sides when the tokenizer cannot decode the model's sequences. */
    static void checkTokenizerFits(VqTokenizer tok, Path tokDir, GptConfig c, Path arDir) {
        if (tok.config.codebookSize() != c.vocab() || tok.tokens() != c.length())
            throw new UsageException("--tokenizer " + tokDir + " does not fit the stage-2 model of " + arDir + ": codebook "
                    + tok.config.codebookSize() + " and " + tok.tokens() + " tokens per image, but the model has vocabulary " + c.vocab()
                    + " and length " + c.length());
    }

    /** Decoded images [n * 1024] (clamped to [-1, 1]) of n token sequences, in batches without gradients. */
    static float[] decode(VqTokenizer tok, int[] flat, int n) {
        int len = tok.tokens(), px = VqConfig.IMAGE_SIZE * VqConfig.IMAGE_SIZE;
        float[] images = new float[n * px];
        Workspace ws = new Workspace();
        try (var ignored = Tape.noGrad()) {
            for (int s = 0; s < n; s += DECODE_BATCH) {
                int b = Math.min(DECODE_BATCH, n - s);
                try (Workspace w = ws.open()) {
                    float[] img = tok.decodeIndices(Tensor.ofInts(Arrays.copyOfRange(flat, s * len, (s + b) * len), b, len)).toFloatArray();
                    for (int i = 0; i < img.length; i++) images[s * px + i] = Math.max(-1f, Math.min(1f, img[i]));
                }
            }
        }
        return images;
    }

    private static final int DECODE_BATCH = 100;

    /**
     * {@code class_accuracy} (over samples of a real class; absent when there are none), {@code per_class_accuracy}
     * (class id to fraction labelled as that class), {@code per_class_count}, {@code count}.
     */
    static Map<String, Object> classAccuracy(FashionClassifier classifier, float[] images, int[] labels, GptConfig c) {
        int px = VqConfig.IMAGE_SIZE * VqConfig.IMAGE_SIZE;
        Map<String, Object> m = new LinkedHashMap<>();
        Map<String, Object> per = new LinkedHashMap<>();
        Map<String, Object> counts = new LinkedHashMap<>();
        double correct = 0;
        int total = 0;
        for (int cls = 0; cls < c.classes(); cls++) {
            int k = 0;
            for (int l : labels) if (l == cls) k++;
            if (k == 0) continue;
            float[] sub = new float[k * px];
            int[] lab = new int[k];
            for (int i = 0, j = 0; i < labels.length; i++)
                if (labels[i] == cls) {
                    System.arraycopy(images, i * px, sub, j * px, px);
                    lab[j++] = cls;
                }
            double acc = FrechetDistance.classAccuracy(classifier, sub, lab);
            per.put(Integer.toString(cls), acc);
            counts.put(Integer.toString(cls), k);
            correct += acc * k;
            total += k;
        }
        if (total > 0) m.put("class_accuracy", correct / total);
        m.put("count", total);
        m.put("per_class_accuracy", per);
        m.put("per_class_count", counts);
        return m;
    }

    /** {@code file} with its extension (the part from the last dot of its name, if any) replaced by {@code ext}. */
    static Path sibling(Path file, String ext) {
        String name = file.getFileName().toString();
        int dot = name.lastIndexOf('.');
        return file.resolveSibling((dot > 0 ? name.substring(0, dot) : name) + ext);
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
