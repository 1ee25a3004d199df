package org.tessella.data;

import org.tessella.tensor.DType;
import org.tessella.tensor.Philox;
import org.tessella.tensor.Shape;
import org.tessella.tensor.Tensor;

/**
 * Minibatches over a dataset of {@code size} examples in a seeded shuffled order: epoch e visits the examples in the
 * order {@link Philox#permutation}(size, seed, e), so the order depends only on (seed, epoch) and every example comes
 * once per epoch. The state is (epoch, position): the epoch of the next batch and the index, within that epoch's order,
 * of its first example. Saving {@link #state()} and later {@link #seek seeking} to it resumes the exact same batches.
 *
 * <p>Batches fill caller-provided arrays or tensors that are reused from step to step, so taking a batch allocates
 * nothing (one permutation array is made per epoch). With {@code dropLast} every batch is full and the tail of each
 * epoch is skipped; without it, the last batch of an epoch may be short: {@code next} returns how many examples it
 * filled and leaves the remaining rows untouched.
 *
 * <p>After a batch that ends an epoch the state moves at once to (epoch + 1, 0).
 */
public final class Batcher {
    /** Where a batcher stands: the epoch of the next batch and the position in that epoch's order. */
    public record State(long epoch, int position) {}

    private final int size, batchSize;
    private final long seed;
    private final boolean dropLast, shuffle;
    private long epoch;
    private int position;
    private int[] order;
    private long orderEpoch = -1;

    /** A shuffling batcher starting at epoch 0. */
    public Batcher(int size, int batchSize, long seed, boolean dropLast) {
        this(size, batchSize, seed, dropLast, true);
    }

    private Batcher(int size, int batchSize, long seed, boolean dropLast, boolean shuffle) {
        if (size <= 0) throw new IllegalArgumentException("Batcher: dataset of " + size + " examples");
        if (batchSize <= 0) throw new IllegalArgumentException("Batcher: batch size " + batchSize);
        if (dropLast && batchSize > size)
            throw new IllegalArgumentException("Batcher: batch size " + batchSize + " is larger than the " + size + " examples, and dropLast leaves no batch");
        this.size = size;
        this.batchSize = batchSize;
        this.seed = seed;
        this.dropLast = dropLast;
        this.shuffle = shuffle;
    }

    /** Examples in their stored order, every epoch the same, last batch kept (evaluation). */
    public static Batcher sequential(int size, int batchSize) {
        return new Batcher(size, batchSize, 0, false, false);
    }

    public int size() { return size; }
    public int batchSize() { return batchSize; }
    public long seed() { return seed; }
    public boolean dropLast() { return dropLast; }

    /** The epoch of the next batch. */
    public long epoch() { return epoch; }

    /** The index of the next batch's first example in the current epoch's order. */
    public int position() { return position; }

    public State state() { return new State(epoch, position); }

    /** Batches per epoch: size / batchSize, rounded down with dropLast, up without. */
    public int batchesPerEpoch() { return dropLast ? size / batchSize : (size + batchSize - 1) / batchSize; }

    /** Moves to (epoch, position), e.g. from a checkpoint; the following batches are those an uninterrupted run took. */
    public void seek(long epoch, int position) {
        if (epoch < 0 || position < 0 || position > size)
            throw new IllegalArgumentException("Batcher.seek: bad state (epoch " + epoch + ", position " + position + ") for " + size + " examples");
        this.epoch = epoch;
        this.position = position;
        normalize();
    }

    public void seek(State s) { seek(s.epoch(), s.position()); }

    private void normalize() {
        if (position >= size || (dropLast && size - position < batchSize)) {
            epoch++;
            position = 0;
        }
    }

    /** The order of the current epoch (shared; do not modify). */
    public int[] order() {
        if (orderEpoch != epoch) {
            if (shuffle) order = Philox.permutation(size, seed, epoch);
            else if (order == null) {
                order = new int[size];
                for (int i = 0; i < size; i++) order[i] = i;
            }
            orderEpoch = epoch;
        }
        return order;
    }

    /** Writes the example indices of the next batch into {@code out} and advances; returns how many there are. */
    public int nextIndices(int[] out) {
        if (out.length < batchSize) throw new IllegalArgumentException("Batcher: index array of " + out.length + " for batches of " + batchSize);
        int[] ord = order();
        int count = Math.min(batchSize, size - position);
        System.arraycopy(ord, position, out, 0, count);
        position += count;
        normalize();
        return count;
    }

    /**
     * Copies the next batch of {@code data} into {@code images} (at least batchSize * imageSize floats) and
     * {@code labels} (at least batchSize ints), then advances; returns the number of examples filled.
     */
    public int next(Dataset data, float[] images, int[] labels) {
        checkData(data);
        int img = data.imageSize();
        if (images.length < batchSize * img || labels.length < batchSize)
            throw new IllegalArgumentException("Batcher: arrays of " + images.length + " floats and " + labels.length
                    + " labels cannot hold a batch of " + batchSize + " x " + img);
        int[] ord = order();
        int count = Math.min(batchSize, size - position);
        float[] src = data.images();
        int[] lab = data.labels();
        for (int k = 0; k < count; k++) {
            int i = ord[position + k];
            System.arraycopy(src, i * img, images, k * img, img);
            labels[k] = lab[i];
        }
        position += count;
        normalize();
        return count;
    }

    /**
     * Copies the next batch into reused tensors: {@code images} F32 and contiguous with batchSize * imageSize elements
     * (e.g. [B, 1, 32, 32]), {@code labels} I32 and contiguous with batchSize elements; then advances. Returns the
     * number of examples filled (use {@code slice(0, 0, n)} for a short last batch).
     */
    public int next(Dataset data, Tensor images, Tensor labels) {
        checkData(data);
        int img = data.imageSize();
        if (images.dtype() != DType.F32 || !images.isContiguous() || images.numel() != batchSize * img)
            throw new IllegalArgumentException("Batcher: image tensor " + images.dtype() + " " + Shape.str(images.shape())
                    + " must be a contiguous F32 tensor of " + batchSize + " x " + img + " elements");
        if (labels.dtype() != DType.I32 || !labels.isContiguous() || labels.numel() != batchSize)
            throw new IllegalArgumentException("Batcher: label tensor " + labels.dtype() + " " + Shape.str(labels.shape())
                    + " must be a contiguous I32 tensor of " + batchSize + " elements");
        images.checkAlive();
        labels.checkAlive();
        int[] ord = order();
        int count = Math.min(batchSize, size - position);
        float[] src = data.images();
        int[] lab = data.labels();
        for (int k = 0; k < count; k++) {
            int i = ord[position + k];
            images.storage().writeFloats(images.offset() + (long) k * img, src, i * img, img);
            labels.storage().writeInts(labels.offset() + k, lab, i, 1);
        }
        position += count;
        normalize();
        return count;
    }

    private void checkData(Dataset data) {
        if (data.size() != size) throw new IllegalArgumentException("Batcher: made for " + size + " examples, given a dataset of " + data.size());
    }
}
