/**
 * Training data: {@link org.tessella.data.Idx} (the (gzip) IDX reader and writer, with checks of magic, dimensions
 * and length), {@link org.tessella.data.FashionMnist} (locating the files from {@code --data DIR} or the Debian
 * package {@code dataset-fashion-mnist}, verifying them, padding to 32x32 in [-1, 1]),
 * {@link org.tessella.data.Dataset} (labelled images in flat arrays), {@link org.tessella.data.Batcher} (seeded
 * per-epoch shuffling into reused buffers, resumable from (epoch, position)) and
 * {@link org.tessella.data.SyntheticImages} (small deterministic sets for tests).
 *
 * <p>Depends on the JDK, {@code org.tessella.tensor} and {@code org.tessella.io} only.
 */
package org.tessella.data;
