package org.tessella.data;

import org.tessella.tensor.Tensor;

import java.util.Arrays;
import java.util.List;

/**
 * Labelled images held in flat arrays: {@code images} has {@code size * channels * height * width} floats
 * (example-major, then channel, row, column), {@code labels} one class index per example. Images from
 * {@link FashionMnist} and {@link SyntheticImages} are 1x32x32 in [-1, 1] with background -1.
 */
public final class Dataset {
    private final float[] images;
    private final int[] labels;
    private final int size, channels, height, width;
    private final List<String> classNames;

    public Dataset(float[] images, int[] labels, int channels, int height, int width, List<String> classNames) {
        int size = labels.length;
        if ((long) size * channels * height * width != images.length)
            throw new IllegalArgumentException("Dataset: " + images.length + " floats for " + size + " images of " + channels + "x" + height + "x" + width);
        for (int i = 0; i < size; i++)
            if (labels[i] < 0 || labels[i] >= classNames.size())
                throw new IllegalArgumentException("Dataset: label " + labels[i] + " of example " + i + " is outside 0.." + (classNames.size() - 1));
        this.images = images;
        this.labels = labels;
        this.size = size;
        this.channels = channels;
        this.height = height;
        this.width = width;
        this.classNames = List.copyOf(classNames);
    }

    public int size() { return size; }
    public int channels() { return channels; }
    public int height() { return height; }
    public int width() { return width; }
    /** Floats per example: channels * height * width. */
    public int imageSize() { return channels * height * width; }
    public int numClasses() { return classNames.size(); }
    public List<String> classNames() { return classNames; }

    /** The backing image array (not a copy; do not modify). */
    public float[] images() { return images; }

    /** The backing label array (not a copy; do not modify). */
    public int[] labels() { return labels; }

    public int label(int i) { return labels[i]; }

    /** Example i as a new [channels, height, width] tensor. */
    public Tensor image(int i) {
        int n = imageSize();
        return Tensor.of(Arrays.copyOfRange(images, i * n, (i + 1) * n), channels, height, width);
    }

    /** The first {@code n} examples (copied), or this dataset when it has no more than n. */
    public Dataset subset(int n) {
        if (n < 0) throw new IllegalArgumentException("Dataset.subset: negative size " + n);
        if (n >= size) return this;
        return new Dataset(Arrays.copyOf(images, n * imageSize()), Arrays.copyOf(labels, n), channels, height, width, classNames);
    }

    /** All images as one [size, channels, height, width] tensor over the backing array (no copy). */
    public Tensor imagesTensor() { return Tensor.of(images, size, channels, height, width); }

    /** All labels as one [size] int32 tensor over the backing array (no copy). */
    public Tensor labelsTensor() { return Tensor.ofInts(labels, size); }

    @Override public String toString() {
        return "Dataset[" + size + " x " + channels + "x" + height + "x" + width + ", " + classNames.size() + " classes]";
    }
}
