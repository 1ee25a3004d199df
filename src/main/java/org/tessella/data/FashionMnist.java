package org.tessella.data;

import org.tessella.io.TessellaIOException;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Finds, verifies and loads Fashion-MNIST. The files are looked for in the directory given with {@code --data DIR}
 * when there is one, else in {@value #SYSTEM_DIR}, where the Debian package {@code dataset-fashion-mnist} installs
 * {@code train-images-idx3-ubyte.gz}, {@code train-labels-idx1-ubyte.gz}, {@code t10k-images-idx3-ubyte.gz} and
 * {@code t10k-labels-idx1-ubyte.gz}. Un-gzipped names ({@code train-images-idx3-ubyte}) and the dotted variant
 * ({@code train-images.idx3-ubyte}) are accepted too. Counts (60000 train, 10000 test), the 28x28 size and the labels
 * (0-9) are verified.
 *
 * <p>Images are padded to 32x32 (2 background pixels on each side) and scaled to [-1, 1] by
 * {@code pixel / 127.5 - 1}, so the background is exactly -1.
 */
public final class FashionMnist {
    private FashionMnist() {}

    public static final String SYSTEM_DIR = "/usr/share/datasets/fashion-mnist";
    public static final String DEBIAN_PACKAGE = "dataset-fashion-mnist";
    public static final int SOURCE_SIZE = 28, SIZE = 32, PAD = 2;
    public static final List<String> CLASS_NAMES = List.of(
            "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot");

    public enum Split {
        TRAIN("train", 60_000), TEST("t10k", 10_000);

        final String prefix;
        final int count;

        Split(String prefix, int count) {
            this.prefix = prefix;
            this.count = count;
        }

        /** The number of examples the split must have. */
        public int count() { return count; }
    }

    /** The image and label files of one split. */
    public record SplitFiles(Path images, Path labels) {}

    /** The directory that holds all four files: {@code dataDir} when given, else the system directory. */
    public static Path locate(Optional<Path> dataDir) {
        if (dataDir.isPresent()) {
            Path dir = dataDir.get();
            List<String> missing = missing(dir);
            if (missing.isEmpty()) return dir;
            throw new TessellaIOException(dir + ": no Fashion-MNIST here (" + describe(dir, missing)
                    + "); pass --data DIR with the IDX files, or install the Debian package " + DEBIAN_PACKAGE
                    + " (apt-get install " + DEBIAN_PACKAGE + ") and drop --data to use " + SYSTEM_DIR);
        }
        Path sys = Path.of(SYSTEM_DIR);
        List<String> missing = missing(sys);
        if (missing.isEmpty()) return sys;
        throw new TessellaIOException("Fashion-MNIST not found: " + describe(sys, missing) + "; install the Debian package "
                + DEBIAN_PACKAGE + " (apt-get install " + DEBIAN_PACKAGE + ") or pass --data DIR");
    }

    private static String describe(Path dir, List<String> missing) {
        if (!Files.isDirectory(dir)) return dir + " does not exist";
        return "missing " + String.join(", ", missing) + "[.gz] in " + dir;
    }

    private static List<String> missing(Path dir) {
        List<String> out = new ArrayList<>();
        for (Split s : Split.values())
            for (String kind : new String[]{"images-idx3", "labels-idx1"})
                if (find(dir, s.prefix, kind) == null) out.add(s.prefix + "-" + kind + "-ubyte");
        return out;
    }

    private static Path find(Path dir, String prefix, String kind) {
        String dotted = kind.replace("-idx", ".idx");
        for (String name : new String[]{prefix + "-" + kind + "-ubyte.gz", prefix + "-" + kind + "-ubyte",
                prefix + "-" + dotted + "-ubyte.gz", prefix + "-" + dotted + "-ubyte"}) {
            Path p = dir.resolve(name);
            if (Files.isRegularFile(p)) return p;
        }
        return null;
    }

    /** The files of one split in the located directory. */
    public static SplitFiles files(Optional<Path> dataDir, Split split) {
        Path dir = locate(dataDir);
        return new SplitFiles(find(dir, split.prefix, "images-idx3"), find(dir, split.prefix, "labels-idx1"));
    }

    /** Loads a whole split. */
    public static Dataset load(Optional<Path> dataDir, Split split) {
        return load(dataDir, split, Integer.MAX_VALUE);
    }

    /**
     * Loads the first {@code limit} examples of a split (the whole files are still read and verified; only the
     * conversion to floats is limited).
     */
    public static Dataset load(Optional<Path> dataDir, Split split, int limit) {
        SplitFiles f = files(dataDir, split);
        Idx.Images images = Idx.readImages(f.images());
        int[] labels = Idx.readLabels(f.labels());
        if (images.count() != split.count)
            throw new TessellaIOException(f.images(), "holds " + images.count() + " images, Fashion-MNIST " + split.name().toLowerCase() + " has " + split.count);
        if (labels.length != split.count)
            throw new TessellaIOException(f.labels(), "holds " + labels.length + " labels, Fashion-MNIST " + split.name().toLowerCase() + " has " + split.count);
        if (images.rows() != SOURCE_SIZE || images.cols() != SOURCE_SIZE)
            throw new TessellaIOException(f.images(), "images are " + images.rows() + "x" + images.cols() + ", Fashion-MNIST's are 28x28");
        for (int i = 0; i < labels.length; i++)
            if (labels[i] >= CLASS_NAMES.size())
                throw new TessellaIOException(f.labels(), "label " + labels[i] + " of example " + i + " is outside 0-9");
        int n = Math.min(Math.max(limit, 0), split.count);
        return new Dataset(pad(images, n), java.util.Arrays.copyOf(labels, n), 1, SIZE, SIZE, CLASS_NAMES);
    }

    /** The first n images, padded to 32x32 and scaled to [-1, 1]. */
    static float[] pad(Idx.Images images, int n) {
        float[] lut = new float[256];
        for (int p = 0; p < 256; p++) lut[p] = p / 127.5f - 1f;
        int src = images.rows(), dst = src + 2 * PAD;
        float[] out = new float[n * dst * dst];
        java.util.Arrays.fill(out, -1f);
        byte[] px = images.pixels();
        for (int i = 0; i < n; i++)
            for (int y = 0; y < src; y++) {
                int s = (i * src + y) * src, d = (i * dst + y + PAD) * dst + PAD;
                for (int x = 0; x < src; x++) out[d + x] = lut[px[s + x] & 0xff];
            }
        return out;
    }
}
