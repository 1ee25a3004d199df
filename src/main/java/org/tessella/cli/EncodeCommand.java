package org.tessella.cli;

import org.tessella.ar.TokenFile;
import org.tessella.eval.TokenProbe;
import org.tessella.data.Dataset;
import org.tessella.data.FashionMnist;
import org.tessella.tokenizer.TokenizerTraining;
import org.tessella.tokenizer.VqTokenizer;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/** {@code tessella encode}: Fashion-MNIST through a trained tokenizer into a token file for train-ar. */
final class EncodeCommand implements Command {
    @Override public String name() { return "encode"; }

    @Override public String summary() { return "encode Fashion-MNIST with a trained tokenizer into a token file"; }

    @Override public String help() {
        return """
                usage: tessella encode --tokenizer DIR --out FILE [options]
                  Encodes the Fashion-MNIST train and test images with the tokenizer of DIR (tokenizer.safetensors,
                  or the tokenizer weights of checkpoint.safetensors for an unfinished run) and writes FILE, a token
                  file (vocabulary = codebook size, length = tokens per image, the token grid, 10 classes) that
                  tessella train-ar reads.
                options:
                  --tokenizer DIR      run directory of tessella train-tokenizer (required)
                  --out FILE           token file to write (required)
                  --limit N            encode only the first N images of each split
                  --data DIR           directory with the Fashion-MNIST IDX files
                                       (default /usr/share/datasets/fashion-mnist, Debian package dataset-fashion-mnist)
                  --threads N          worker threads""";
    }

    @Override public int run(String[] argv) throws Exception {
        Args a = Args.parse(name(), argv, Set.of("tokenizer", "out", "limit", "data", "threads"), Set.of());
        Main.configureThreads(a);
        Path dir = a.requiredPath(name(), "tokenizer");
        Path out = a.path("out").orElseThrow(() -> new UsageException(name() + ": --out FILE is required"));
        int limit = a.integer("limit", Integer.MAX_VALUE);
        if (limit < 1) throw new UsageException("--limit must be at least 1");
        VqTokenizer model = VqTokenizer.load(dir);
        Dataset train = FashionMnist.load(a.path("data"), FashionMnist.Split.TRAIN, limit);
        Dataset test = FashionMnist.load(a.path("data"), FashionMnist.Split.TEST, limit);
        TokenFile tf = tokenFile(model, train, test, dir);
        Path parent = out.toAbsolutePath().getParent();
        if (parent != null) Files.createDirectories(parent);
        tf.write(out);
        int side = model.config.gridSide();
        System.out.printf("encode: %d train / %d test images to %d tokens each (vocabulary %d, grid %dx%d); wrote %s%n",
                train.size(), test.size(), model.tokens(), model.config.codebookSize(), side, side, out);
        return 0;
    }

    /** The token file of a tokenizer over a train and a test set; metadata names the tokenizer directory {@code dir}. */
    static TokenFile tokenFile(VqTokenizer model, Dataset train, Dataset test, Path dir) {
        Map<String, String> extra = new LinkedHashMap<>();
        extra.put("source", "fashion-mnist");
        extra.put("tokenizer", dir.toAbsolutePath().toString());
        extra.put("tokenizer_config", model.config.name());
        return TokenProbe.tokenFile(model, train, test, extra);
    }
}
