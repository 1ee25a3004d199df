package org.tessella.io;

import org.tessella.tensor.Shape;
import org.tessella.tensor.Tensor;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.CRC32;
import java.util.zip.DataFormatException;
import java.util.zip.Deflater;
import java.util.zip.Inflater;

/**
 * PNG from {@code java.base} alone (Deflater and CRC32): 8-bit greyscale and RGB, non-interlaced. Writes raw pixels,
 * float images in [-1, 1] or [0, 1], and sample grids; reads back the same kinds of files (for tests and round trips).
 * Files are written atomically.
 */
public final class Png {
    private Png() {}

    private static final byte[] SIGNATURE = {(byte) 137, 'P', 'N', 'G', '\r', '\n', 26, '\n'};

    /** How float pixel values map to 0..255 (values outside the range are clamped). */
    public enum Range {
        /** -1 is black, 1 is white (the models' image range). */
        MINUS_ONE_ONE,
        /** 0 is black, 1 is white. */
        ZERO_ONE;

        int toByte(float v) {
            float u = this == MINUS_ONE_ONE ? (v + 1f) * 0.5f : v;
            if (!(u > 0f)) return 0; // also NaN
            if (u >= 1f) return 255;
            return Math.round(u * 255f);
        }
    }

    /** A decoded image: {@code channels} is 1 (grey) or 3 (RGB); pixels row-major, channels interleaved. */
    public record Image(int width, int height, int channels, byte[] pixels) {
        /** The value (0..255) of channel c at (x, y). */
        public int get(int x, int y, int c) { return pixels[(y * width + x) * channels + c] & 0xff; }
    }

    // ---- writing ------------------------------------------------------------------------------------------------

    public static void writeGray(Path file, int width, int height, byte[] pixels) {
        AtomicFile.writeBytes(file, encode(width, height, 1, pixels));
    }

    public static void writeRgb(Path file, int width, int height, byte[] rgb) {
        AtomicFile.writeBytes(file, encode(width, height, 3, rgb));
    }

    /** A grey image from {@code height * width} floats starting at {@code offset}. */
    public static void writeGray(Path file, float[] values, int offset, int height, int width, Range range) {
        writeGray(file, width, height, toBytes(values, offset, height * width, range));
    }

    /** A grey image from a tensor of shape [H, W] or [1, H, W]. */
    public static void writeGray(Path file, Tensor image, Range range) {
        int[] s = image.shape();
        boolean ok = s.length == 2 || (s.length == 3 && s[0] == 1);
        if (!ok) throw new IllegalArgumentException("Png.writeGray: expected an image of shape [H, W] or [1, H, W], got " + Shape.str(s));
        int h = s[s.length - 2], w = s[s.length - 1];
        writeGray(file, image.toFloatArray(), 0, h, w, range);
    }

    /**
     * A grid of {@code rows x cols} grey images of equal size, row-major (image i at row i / cols), separated and
     * framed by {@code gap} white pixels. {@code images} has shape [N, H, W] or [N, 1, H, W] with N <= rows * cols;
     * missing cells stay white. Sample grids put one class per row.
     */
    public static void writeGrid(Path file, Tensor images, int rows, int cols, int gap, Range range) {
        int[] s = images.shape();
        boolean ok = s.length == 3 || (s.length == 4 && s[1] == 1);
        if (!ok) throw new IllegalArgumentException("Png.writeGrid: expected images of shape [N, H, W] or [N, 1, H, W], got " + Shape.str(s));
        Grid g = grid(images.toFloatArray(), s[0], s[s.length - 2], s[s.length - 1], rows, cols, gap, range);
        writeGray(file, g.width, g.height, g.pixels);
    }

    /** As {@link #writeGrid(Path, Tensor, int, int, int, Range)}, from {@code n} images of h*w floats each. */
    public static void writeGrid(Path file, float[] images, int n, int h, int w, int rows, int cols, int gap, Range range) {
        Grid g = grid(images, n, h, w, rows, cols, gap, range);
        writeGray(file, g.width, g.height, g.pixels);
    }

    /** The grey pixels of a grid: width, height and the bytes. */
    public record Grid(int width, int height, byte[] pixels) {}

    public static Grid grid(float[] images, int n, int h, int w, int rows, int cols, int gap, Range range) {
        if (rows <= 0 || cols <= 0 || gap < 0 || h <= 0 || w <= 0)
            throw new IllegalArgumentException("Png.grid: bad layout " + rows + "x" + cols + " of " + h + "x" + w + " images, gap " + gap);
        if (n > rows * cols) throw new IllegalArgumentException("Png.grid: " + n + " images do not fit " + rows + "x" + cols + " cells");
        if ((long) n * h * w > images.length) throw new IllegalArgumentException("Png.grid: " + images.length + " values hold fewer than " + n + " images of " + h + "x" + w);
        int gw = cols * w + (cols + 1) * gap, gh = rows * h + (rows + 1) * gap;
        byte[] px = new byte[gw * gh];
        java.util.Arrays.fill(px, (byte) 255);
        for (int i = 0; i < n; i++) {
            int r = i / cols, c = i % cols;
            int x0 = gap + c * (w + gap), y0 = gap + r * (h + gap);
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    px[(y0 + y) * gw + x0 + x] = (byte) range.toByte(images[(i * h + y) * w + x]);
        }
        return new Grid(gw, gh, px);
    }

    /** Converts {@code count} floats to grey bytes. */
    public static byte[] toBytes(float[] values, int offset, int count, Range range) {
        byte[] out = new byte[count];
        for (int i = 0; i < count; i++) out[i] = (byte) range.toByte(values[offset + i]);
        return out;
    }

    /** The PNG file bytes of an 8-bit image with 1 (grey) or 3 (RGB) channels. */
    public static byte[] encode(int width, int height, int channels, byte[] pixels) {
        if (width <= 0 || height <= 0) throw new IllegalArgumentException("Png: bad size " + width + "x" + height);
        if (channels != 1 && channels != 3) throw new IllegalArgumentException("Png: " + channels + " channels; only 1 (grey) and 3 (RGB) are written");
        int stride = width * channels;
        if ((long) stride * height != pixels.length)
            throw new IllegalArgumentException("Png: " + pixels.length + " bytes for a " + width + "x" + height + "x" + channels + " image");
        // Filter each row with the type that minimises the sum of absolute residuals (the libpng heuristic).
        byte[] raw = new byte[(stride + 1) * height];
        byte[] best = new byte[stride], trial = new byte[stride];
        for (int y = 0; y < height; y++) {
            long bestScore = Long.MAX_VALUE;
            int bestType = 0;
            for (int type = 0; type <= 4; type++) {
                long score = 0;
                for (int i = 0; i < stride; i++) {
                    int x = pixels[y * stride + i] & 0xff;
                    int a = i >= channels ? pixels[y * stride + i - channels] & 0xff : 0;
                    int b = y > 0 ? pixels[(y - 1) * stride + i] & 0xff : 0;
                    int c = y > 0 && i >= channels ? pixels[(y - 1) * stride + i - channels] & 0xff : 0;
                    int p = switch (type) {
                        case 0 -> 0;
                        case 1 -> a;
                        case 2 -> b;
                        case 3 -> (a + b) >>> 1;
                        default -> paeth(a, b, c);
                    };
                    byte r = (byte) (x - p);
                    trial[i] = r;
                    score += Math.abs((int) r);
                }
                if (score < bestScore) {
                    bestScore = score;
                    bestType = type;
                    byte[] t = best; best = trial; trial = t;
                }
            }
            raw[y * (stride + 1)] = (byte) bestType;
            System.arraycopy(best, 0, raw, y * (stride + 1) + 1, stride);
        }
        Deflater d = new Deflater(Deflater.BEST_COMPRESSION);
        byte[] compressed;
        try {
            d.setInput(raw);
            d.finish();
            ByteArrayOutputStream z = new ByteArrayOutputStream(raw.length / 2 + 64);
            byte[] buf = new byte[1 << 16];
            while (!d.finished()) z.write(buf, 0, d.deflate(buf));
            compressed = z.toByteArray();
        } finally {
            d.end();
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream(compressed.length + 64);
        out.writeBytes(SIGNATURE);
        byte[] ihdr = new byte[13];
        putInt(ihdr, 0, width);
        putInt(ihdr, 4, height);
        ihdr[8] = 8;                              // bit depth
        ihdr[9] = (byte) (channels == 1 ? 0 : 2); // colour type: grey or RGB
        // compression 0, filter 0, interlace 0
        chunk(out, "IHDR", ihdr);
        chunk(out, "IDAT", compressed);
        chunk(out, "IEND", new byte[0]);
        return out.toByteArray();
    }

    private static int paeth(int a, int b, int c) {
        int p = a + b - c;
        int pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
        if (pa <= pb && pa <= pc) return a;
        return pb <= pc ? b : c;
    }

    private static void chunk(ByteArrayOutputStream out, String type, byte[] data) {
        byte[] len = new byte[4];
        putInt(len, 0, data.length);
        out.writeBytes(len);
        byte[] t = type.getBytes(StandardCharsets.US_ASCII);
        out.writeBytes(t);
        out.writeBytes(data);
        CRC32 crc = new CRC32();
        crc.update(t);
        crc.update(data);
        byte[] c = new byte[4];
        putInt(c, 0, (int) crc.getValue());
        out.writeBytes(c);
    }

    private static void putInt(byte[] b, int at, int v) {
        b[at] = (byte) (v >>> 24);
        b[at + 1] = (byte) (v >>> 16);
        b[at + 2] = (byte) (v >>> 8);
        b[at + 3] = (byte) v;
    }

    private static int getInt(byte[] b, int at) {
        return (b[at] & 0xff) << 24 | (b[at + 1] & 0xff) << 16 | (b[at + 2] & 0xff) << 8 | (b[at + 3] & 0xff);
    }

    // ---- reading ------------------------------------------------------------------------------------------------

    /** Reads an 8-bit grey or RGB non-interlaced PNG; anything else or any corruption is an error naming the file. */
    public static Image read(Path file) {
        byte[] b;
        try {
            b = Files.readAllBytes(file);
        } catch (IOException e) {
            throw TessellaIOException.io(file, "read", e);
        }
        try {
            return decode(b);
        } catch (IllegalArgumentException e) {
            throw new TessellaIOException(file, e.getMessage(), e);
        }
    }

    /** Decodes PNG bytes (see {@link #read}); problems are IllegalArgumentExceptions. */
    public static Image decode(byte[] b) {
        if (b.length < 8 || !java.util.Arrays.equals(b, 0, 8, SIGNATURE, 0, 8)) throw new IllegalArgumentException("not a PNG file (bad signature)");
        int pos = 8, width = -1, height = -1, channels = 0;
        ByteArrayOutputStream idat = new ByteArrayOutputStream();
        boolean end = false;
        while (!end) {
            if (pos + 8 > b.length) throw new IllegalArgumentException("truncated PNG: chunk header at byte " + pos + " runs past the end");
            int len = getInt(b, pos);
            String type = new String(b, pos + 4, 4, StandardCharsets.US_ASCII);
            if (len < 0 || (long) pos + 12 + len > b.length) throw new IllegalArgumentException("truncated PNG: chunk " + type + " of " + len + " bytes runs past the end");
            CRC32 crc = new CRC32();
            crc.update(b, pos + 4, 4 + len);
            if ((int) crc.getValue() != getInt(b, pos + 8 + len)) throw new IllegalArgumentException("bad CRC in chunk " + type);
            int data = pos + 8;
            switch (type) {
                case "IHDR" -> {
                    if (len != 13) throw new IllegalArgumentException("IHDR of " + len + " bytes");
                    width = getInt(b, data);
                    height = getInt(b, data + 4);
                    int depth = b[data + 8], colour = b[data + 9], interlace = b[data + 12];
                    if (width <= 0 || height <= 0) throw new IllegalArgumentException("bad size " + width + "x" + height);
                    if (depth != 8 || (colour != 0 && colour != 2) || interlace != 0 || b[data + 10] != 0 || b[data + 11] != 0)
                        throw new IllegalArgumentException("unsupported PNG (bit depth " + depth + ", colour type " + colour + ", interlace "
                                + interlace + "): only 8-bit grey or RGB, non-interlaced, is read");
                    channels = colour == 0 ? 1 : 3;
                }
                case "IDAT" -> idat.write(b, data, len);
                case "IEND" -> end = true;
                default -> {
                    if (Character.isUpperCase(type.charAt(0))) throw new IllegalArgumentException("unsupported critical chunk " + type);
                }
            }
            if (width < 0) throw new IllegalArgumentException("first chunk is " + type + ", not IHDR");
            pos += 12 + len;
        }
        int stride = width * channels;
        long rawLen = (long) (stride + 1) * height;
        if (rawLen > Integer.MAX_VALUE - 64) throw new IllegalArgumentException("image " + width + "x" + height + " is too large");
        byte[] raw = new byte[(int) rawLen];
        Inflater inf = new Inflater();
        try {
            inf.setInput(idat.toByteArray());
            int n = 0;
            while (n < raw.length) {
                int r = inf.inflate(raw, n, raw.length - n);
                if (r == 0 && (inf.finished() || inf.needsInput() || inf.needsDictionary())) break;
                n += r;
            }
            if (n < raw.length) throw new IllegalArgumentException("truncated image data: " + n + " of " + raw.length + " bytes");
        } catch (DataFormatException e) {
            throw new IllegalArgumentException("corrupt image data: " + e.getMessage());
        } finally {
            inf.end();
        }
        byte[] px = new byte[stride * height];
        for (int y = 0; y < height; y++) {
            int type = raw[y * (stride + 1)];
            int src = y * (stride + 1) + 1, dst = y * stride;
            for (int i = 0; i < stride; i++) {
                int a = i >= channels ? px[dst + i - channels] & 0xff : 0;
                int up = y > 0 ? px[dst - stride + i] & 0xff : 0;
                int c = y > 0 && i >= channels ? px[dst - stride + i - channels] & 0xff : 0;
                int p = switch (type) {
                    case 0 -> 0;
                    case 1 -> a;
                    case 2 -> up;
                    case 3 -> (a + up) >>> 1;
                    case 4 -> paeth(a, up, c);
                    default -> throw new IllegalArgumentException("bad filter type " + type + " in row " + y);
                };
                px[dst + i] = (byte) (raw[src + i] + p);
            }
        }
        return new Image(width, height, channels, px);
    }
}
