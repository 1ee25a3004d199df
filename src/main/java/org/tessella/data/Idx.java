package org.tessella.data;

import org.tessella.io.AtomicFile;
import org.tessella.io.TessellaIOException;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;
import java.util.zip.ZipException;

/**
 * The IDX format of (Fashion-)MNIST: a big-endian magic ({@code 0x00000803} for unsigned-byte images
 * [n, rows, cols], {@code 0x00000801} for unsigned-byte labels [n]), the dimensions as big-endian ints, then the bytes.
 * Files may be gzip-compressed (detected by content, not name). The magic, the dimensions and the payload length are
 * checked; errors are {@link TessellaIOException}s that name the file and the problem.
 */
public final class Idx {
    private Idx() {}

    public static final int IMAGES_MAGIC = 0x00000803, LABELS_MAGIC = 0x00000801;

    /** {@code count} images of {@code rows x cols} unsigned bytes, row-major, one after another. */
    public record Images(int count, int rows, int cols, byte[] pixels) {
        public Images {
            if ((long) count * rows * cols != pixels.length)
                throw new IllegalArgumentException("Idx.Images: " + pixels.length + " bytes for " + count + " images of " + rows + "x" + cols);
        }

        /** The pixel (0..255) at (row, col) of image i. */
        public int pixel(int i, int row, int col) { return pixels[(i * rows + row) * cols + col] & 0xff; }
    }

    public static Images readImages(Path file) {
        byte[] b = readAll(file);
        int[] dims = parseHeader(file, b, IMAGES_MAGIC, 3);
        byte[] px = java.util.Arrays.copyOfRange(b, 16, b.length);
        return new Images(dims[0], dims[1], dims[2], px);
    }

    /** The labels as unsigned bytes widened to ints. */
    public static int[] readLabels(Path file) {
        byte[] b = readAll(file);
        int[] dims = parseHeader(file, b, LABELS_MAGIC, 1);
        int[] out = new int[dims[0]];
        for (int i = 0; i < out.length; i++) out[i] = b[8 + i] & 0xff;
        return out;
    }

    /** Checks magic, dimensions and payload length; returns the dimensions. */
    private static int[] parseHeader(Path file, byte[] b, int magic, int rank) {
        String kind = magic == IMAGES_MAGIC ? "image" : "label";
        if (b.length < 4) throw new TessellaIOException(file, "truncated IDX file: " + b.length + " bytes, no magic number");
        int m = getInt(b, 0);
        if (m != magic) {
            String hint = m == IMAGES_MAGIC ? " (this is an image file)" : m == LABELS_MAGIC ? " (this is a label file)"
                    : (m >>> 16) != 0 ? " (not an IDX file)" : "";
            throw new TessellaIOException(file, String.format("wrong magic 0x%08x, expected 0x%08x for an IDX %s file%s", m, magic, kind, hint));
        }
        int headerLen = 4 + 4 * rank;
        if (b.length < headerLen) throw new TessellaIOException(file, "truncated IDX header: " + b.length + " bytes, need " + headerLen);
        int[] dims = new int[rank];
        long payload = 1;
        for (int i = 0; i < rank; i++) {
            dims[i] = getInt(b, 4 + 4 * i);
            if (dims[i] < 0) throw new TessellaIOException(file, "bad IDX dimension " + i + ": " + Integer.toUnsignedString(dims[i]));
            payload = dims[i] != 0 && payload > Long.MAX_VALUE / dims[i] ? Long.MAX_VALUE : payload * dims[i];
        }
        for (int d : dims) if (d == 0) payload = 0;
        long have = b.length - headerLen;
        if (have < payload)
            throw new TessellaIOException(file, "truncated: the header promises " + payload + " bytes of " + kind + " data, " + have + " follow");
        if (have > payload)
            throw new TessellaIOException(file, have - payload + " bytes follow the " + payload + " bytes of " + kind + " data the header declares");
        return dims;
    }

    private static byte[] readAll(Path file) {
        try (InputStream raw = new BufferedInputStream(Files.newInputStream(file), 1 << 16)) {
            raw.mark(2);
            int b0 = raw.read(), b1 = raw.read();
            raw.reset();
            boolean gz = b0 == 0x1f && b1 == 0x8b;
            if (!gz) return raw.readAllBytes();
            long hint = Files.size(file);
            ByteArrayOutputStream out = new ByteArrayOutputStream((int) Math.min(Integer.MAX_VALUE - 64, hint * 2 + 1024));
            try (InputStream in = new GZIPInputStream(raw, 1 << 16)) {
                in.transferTo(out);
            } catch (EOFException e) {
                throw new TessellaIOException(file, "truncated gzip stream", e);
            } catch (ZipException e) {
                throw new TessellaIOException(file, "corrupt gzip stream: " + e.getMessage(), e);
            }
            return out.toByteArray();
        } catch (IOException e) {
            throw TessellaIOException.io(file, "read", e);
        }
    }

    private static int getInt(byte[] b, int at) {
        return (b[at] & 0xff) << 24 | (b[at + 1] & 0xff) << 16 | (b[at + 2] & 0xff) << 8 | (b[at + 3] & 0xff);
    }

    private static void putInt(byte[] b, int at, int v) {
        b[at] = (byte) (v >>> 24);
        b[at + 1] = (byte) (v >>> 16);
        b[at + 2] = (byte) (v >>> 8);
        b[at + 3] = (byte) v;
    }

    // ---- writing (tests, tools) --------------------------------------------------------------------------------

    public static void writeImages(Path file, Images images, boolean gzip) {
        byte[] head = new byte[16];
        putInt(head, 0, IMAGES_MAGIC);
        putInt(head, 4, images.count());
        putInt(head, 8, images.rows());
        putInt(head, 12, images.cols());
        write(file, head, images.pixels(), gzip);
    }

    /** Labels must lie in 0..255. */
    public static void writeLabels(Path file, int[] labels, boolean gzip) {
        byte[] head = new byte[8];
        putInt(head, 0, LABELS_MAGIC);
        putInt(head, 4, labels.length);
        byte[] data = new byte[labels.length];
        for (int i = 0; i < labels.length; i++) {
            if (labels[i] < 0 || labels[i] > 255) throw new IllegalArgumentException("Idx.writeLabels: label " + labels[i] + " at " + i + " is not an unsigned byte");
            data[i] = (byte) labels[i];
        }
        write(file, head, data, gzip);
    }

    private static void write(Path file, byte[] head, byte[] data, boolean gzip) {
        byte[] all;
        if (gzip) {
            ByteArrayOutputStream bos = new ByteArrayOutputStream(data.length / 2 + 64);
            try (GZIPOutputStream gz = new GZIPOutputStream(bos)) {
                gz.write(head);
                gz.write(data);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e); // in memory: cannot happen
            }
            all = bos.toByteArray();
        } else {
            all = new byte[head.length + data.length];
            System.arraycopy(head, 0, all, 0, head.length);
            System.arraycopy(data, 0, all, head.length, data.length);
        }
        AtomicFile.writeBytes(file, all);
    }
}
