package org.tessella.cli;

import org.tessella.data.Dataset;
import org.tessella.data.FashionMnist;
import org.tessella.tokenizer.TokenizerTraining;
import org.tessella.tokenizer.VqTokenizer;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.Set;

/** {@code tessella reconstruct}: Fashion-MNIST images above their reconstructions by a trained tokenizer, as a PNG. */
final class ReconstructCommand implements Command {
    @Override public String name() { return "reconstruct"; }

    @Override public String summary() { return "Fashion-MNIST images above their tokenizer reconstructions, as a PNG grid"; }

    @Override public String help() {
        return """
                usage: tessella reconstruct --tokenizer DIR --out PNG [options]
                  Encodes and decodes COUNT Fashion-MNIST images from INDEX on with the tokenizer of DIR and writes a PNG
                  grid: up to 8 images per row, each row of originals above the row of their reconstructions (32x32
                  cells, 2-pixel white gaps). Prints the images' reconstruction MSE and PSNR.
                options:
                  --tokenizer DIR      run directory of tessella train-tokenizer (required)
                  --out PNG            image to write (required)
                  --index N            first image (default 0)
                  --count K            number of images, 1 to 256 (default 8)
                  --split NAME         test (default) or train
                  --data DIR           directory with the Fashion-MNIST IDX files
                                       (default /usr/share/datasets/fashion-mnist, Debian package dataset-fashion-mnist)
                  --threads N          worker threads""";
    }

    @Override public int run(String[] argv) throws Exception {
        Args a = Args.parse(name(), argv, Set.of("tokenizer", "out", "index", "count", "split", "data", "threads"), Set.of());
        Main.configureThreads(a);
        Path dir = a.requiredPath(name(), "tokenizer");
        Path out = a.path("out").orElseThrow(() -> new UsageException(name() + ": --out PNG is required"));
        int index = a.integer("index", 0), count = a.integer("count", 8);
        if (index < 0) throw new UsageException("--index must be 0 or more, got " + index);
        if (count < 1 || count > 256) throw new UsageException("--count must be 1 to 256, got " + count);
        FashionMnist.Split split = switch (a.string("split", "test")) {
            case "test" -> FashionMnist.Split.TEST;
            case "train" -> FashionMnist.Split.TRAIN;
            default -> throw new UsageException("--split must be test or train, got '" + a.string("split", "") + "'");
        };
        if (index + count > split.count())
            throw new UsageException("--index " + index + " --count " + count + " runs past the " + split.count() + " "
                    + split.name().toLowerCase(Locale.ROOT) + " images (last index " + (split.count() - 1) + ")");
        VqTokenizer model = VqTokenizer.load(dir);
        Dataset all = FashionMnist.load(a.path("data"), split, index + count);
        Dataset images = slice(all, index, index + count);
        Path parent = out.toAbsolutePath().getParent();
        if (parent != null) Files.createDirectories(parent);
        double mse = TokenizerTraining.writeReconstructions(out, model, images, count);
        System.out.printf(Locale.ROOT, "reconstruct: %s images %d..%d through %s: mse %.5f, psnr %.2f dB; wrote %s%n",
                split.name().toLowerCase(Locale.ROOT), index, index + count - 1, dir, mse, TokenizerTraining.psnr(mse), out);
        return 0;
    }

    /** Examples [from, to) of a dataset, copied. */
    static Dataset slice(Dataset d, int from, int to) {
        int img = d.imageSize();
        return new Dataset(Arrays.copyOfRange(d.images(), from * img, to * img), Arrays.copyOfRange(d.labels(), from, to),
                d.channels(), d.height(), d.width(), d.classNames());
    }
}
