package org.tessella.cli;

import org.tessella.ar.MarkovSource;
import org.tessella.ar.TokenFile;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * {@code tessella synth-tokens}: a token file drawn from a random class-conditional Markov source of known conditional
 * entropy ({@link MarkovSource}), to test and check the stage-2 trainer without a tokenizer.
 */
final class SynthTokensCommand implements Command {
    /** Test sequences use indices from here on, disjoint from the train indices 0..n-1 whatever n is. */
    static final long TEST_INDEX_BASE = 1L << 40;

    @Override public String name() { return "synth-tokens"; }

    @Override public String summary() { return "token file from a Markov source of known entropy (stage-2 checks)"; }

    @Override public String help() {
        return """
                usage: tessella synth-tokens --out FILE --vocab K --length N --order 1|2 --seed S [options]
                  Writes a token file (train/test splits, uniform random class labels) drawn from a random
                  class-conditional Markov source, and prints its exact conditional entropy in bits per token: the
                  validation bits/token a perfect class-conditional model reaches. Each row of the source is a
                  Dirichlet distribution over a random support of a few tokens; order 2 rows depend on the last two
                  tokens. The grid is sqrt(N) x sqrt(N) when N is a perfect square, else 1 x N.
                options:
                  --out FILE            output token file (.safetensors; required)
                  --vocab K             vocabulary size, at least 2 (required)
                  --length N            tokens per sequence, at least 1 (required)
                  --order 1|2           Markov order (required)
                  --seed S              seed of the source, the labels and the sequences (required)
                  --classes C           classes (default 10)
                  --train n             train sequences (default 20000)
                  --test n              test sequences (default 2000)
                  --concentration X     Dirichlet concentration of each row, > 0; smaller is more peaked (default 0.5)
                  --support S           tokens each row can emit (default 16, at most K)""";
    }

    @Override public int run(String[] argv) throws Exception {
        Args a = Args.parse(name(), argv, Set.of("out", "vocab", "length", "order", "seed", "classes", "train", "test",
                "concentration", "support"), Set.of());
        Path out = a.requiredPath(name(), "out");
        for (String req : new String[]{"vocab", "length", "order", "seed"})
            if (!a.has(req)) throw new UsageException("--" + req + " is required (see tessella synth-tokens --help)");
        int vocab = a.integer("vocab", 0), length = a.integer("length", 0), order = a.integer("order", 0);
        int classes = a.integer("classes", 10), nTrain = a.integer("train", 20000), nTest = a.integer("test", 2000);
        int support = a.integer("support", MarkovSource.DEFAULT_SUPPORT);
        long seed = a.longValue("seed", 0);
        double concentration = a.has("concentration") ? parseDouble(a.string("concentration", "")) : MarkovSource.DEFAULT_CONCENTRATION;
        if (vocab < 2) throw new UsageException("--vocab must be at least 2, got " + vocab);
        if (vocab > (1 << 24)) throw new UsageException("--vocab must be at most 2^24, got " + vocab);
        if (length < 1) throw new UsageException("--length must be at least 1, got " + length);
        if (order != 1 && order != 2) throw new UsageException("--order must be 1 or 2, got " + order);
        if (classes < 1) throw new UsageException("--classes must be at least 1, got " + classes);
        if (nTrain < 0 || nTest < 0) throw new UsageException("--train and --test must not be negative");
        if (support < 1 || support > MarkovSource.MAX_SUPPORT)
            throw new UsageException("--support must be 1.." + MarkovSource.MAX_SUPPORT + ", got " + support);
        if (!(concentration > 0) || Double.isInfinite(concentration))
            throw new UsageException("--concentration must be a positive number, got " + a.string("concentration", ""));
        if ((long) Math.max(nTrain, nTest) * length > Integer.MAX_VALUE - 8)
            throw new UsageException("--train/--test times --length exceeds 2^31 tokens per split");
        if (Files.isDirectory(out)) throw new UsageException("--out " + out + " is a directory; give a file name");

        MarkovSource src;
        try {
            src = new MarkovSource(vocab, length, order, classes, seed, concentration, support);
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage());
        }
        int side = (int) Math.round(Math.sqrt(length));
        int gridH = side * side == length ? side : 1, gridW = side * side == length ? side : length;
        TokenFile.Split train = src.sampleSplit(seed, 0, nTrain);
        TokenFile.Split test = src.sampleSplit(seed, TEST_INDEX_BASE, nTest);
        double bits = src.trueBitsPerToken();
        Map<String, String> extra = new LinkedHashMap<>();
        extra.put("source", src.describe());
        extra.put("true_bits_per_token", Double.toString(bits));
        Path parent = out.toAbsolutePath().getParent();
        if (parent != null) Files.createDirectories(parent);
        new TokenFile(vocab, length, gridH, gridW, classes, train, test, extra).write(out);
        System.out.printf(Locale.ROOT, "synth-tokens: %d train / %d test sequences of %d tokens (%dx%d), vocab %d, %d classes, order %d; wrote %s%n",
                nTrain, nTest, length, gridH, gridW, vocab, classes, order, out);
        System.out.printf(Locale.ROOT, "true conditional entropy: %.4f bits/token%n", bits);
        return 0;
    }

    private static double parseDouble(String v) {
        try {
            return Double.parseDouble(v.trim());
        } catch (NumberFormatException e) {
            throw new UsageException("--concentration wants a number, got '" + v + "'");
        }
    }
}
