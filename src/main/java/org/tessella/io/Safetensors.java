package org.tessella.io;

import org.tessella.tensor.DType;
import org.tessella.tensor.HeapStorage;
import org.tessella.tensor.Shape;
import org.tessella.tensor.Tensor;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The safetensors format (as read and written by the Python {@code safetensors} package): an 8-byte little-endian
 * header length N, N bytes of JSON mapping each tensor name to {@code {"dtype", "shape", "data_offsets"}} plus an
 * optional {@code "__metadata__"} map of strings, then the raw little-endian data, offsets relative to its start.
 *
 * <p>Writing: F32 and I32 tensors, sorted by name, each written contiguous whatever its strides; the header is padded
 * with spaces to a multiple of 8; the file is replaced atomically ({@link AtomicFile}). Reading: F32 and I32, and
 * BF16, F16 and F64 converted to F32 tensors, I64 to I32 (values must fit). Tensors come back as CPU heap tensors,
 * copied in bulk from a memory mapping of the file. Any defect gives a {@link TessellaIOException} naming the file.
 */
public final class Safetensors {
    private Safetensors() {}

    /** The header length the Python implementation accepts at most; anything larger is taken as corruption. */
    public static final long MAX_HEADER = 100_000_000L;

    private static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt I32_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble F64_LE = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** The contents of a file: tensors in file order and the {@code __metadata__} map (empty when absent). */
    public record File(Path path, Map<String, Tensor> tensors, Map<String, String> metadata) {
        /** The named tensor; the error names the file. */
        public Tensor tensor(String name) {
            Tensor t = tensors.get(name);
            if (t == null) throw new TessellaIOException(path, "no tensor named '" + name + "' among its " + tensors.size() + " tensors");
            return t;
        }
    }

    /** One tensor's header entry: its dtype as named in the file, shape and byte range within the data section. */
    public record Entry(String name, String dtype, int[] shape, long begin, long end) {}

    /** A parsed header: entries in file order, metadata, and where the data section starts in the file. */
    public record Header(List<Entry> entries, Map<String, String> metadata, long dataStart) {}

    // ---- writing ------------------------------------------------------------------------------------------------

    public static void write(Path file, Map<String, Tensor> tensors) {
        write(file, tensors, Map.of());
    }

    /** Writes {@code tensors} (sorted by name) and {@code metadata} to {@code file}, replacing it atomically. */
    public static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata) {
        TreeMap<String, Tensor> sorted = new TreeMap<>();
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            String name = e.getKey();
            Tensor t = e.getValue();
            if (name == null || name.isEmpty()) throw new IllegalArgumentException(file + ": tensor names must be non-empty");
            if (name.equals("__metadata__")) throw new IllegalArgumentException(file + ": '__metadata__' is reserved and cannot name a tensor");
            if (t == null) throw new IllegalArgumentException(file + ": tensor '" + name + "' is null");
            t.checkAlive();
            sorted.put(name, t);
        }
        Map<String, Object> header = new LinkedHashMap<>();
        if (metadata != null && !metadata.isEmpty()) {
            Map<String, Object> meta = new TreeMap<>();
            for (Map.Entry<String, String> e : metadata.entrySet()) {
                if (e.getKey() == null || e.getValue() == null)
                    throw new IllegalArgumentException(file + ": metadata keys and values must be non-null (key " + e.getKey() + ")");
                meta.put(e.getKey(), e.getValue());
            }
            header.put("__metadata__", meta);
        }
        long offset = 0;
        for (Map.Entry<String, Tensor> e : sorted.entrySet()) {
            Tensor t = e.getValue();
            long bytes = (long) t.numel() * t.dtype().byteSize();
            Map<String, Object> info = new LinkedHashMap<>();
            info.put("dtype", t.dtype().safetensorsName());
            info.put("shape", t.shape().clone());
            info.put("data_offsets", new long[]{offset, offset + bytes});
            header.put(e.getKey(), info);
            offset += bytes;
        }
        byte[] json = Json.writeCompact(header).getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8;
        ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded).put(json);
        while (head.hasRemaining()) head.put((byte) ' ');
        head.flip();
        AtomicFile.write(file, ch -> {
            AtomicFile.writeFully(ch, head);
            ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
            for (Tensor t : sorted.values()) writeData(ch, t, buf);
        });
    }

    /** Writes one tensor's elements, row-major and little-endian, through a reused direct buffer. */
    private static void writeData(FileChannel ch, Tensor t, ByteBuffer buf) throws IOException {
        int n = t.numel();
        if (n == 0) return;
        boolean isFloat = t.dtype() == DType.F32;
        MemorySegment src;
        long srcOffset;
        if (t.isContiguous() && t.storage() instanceof HeapStorage hs) {
            src = hs.segment();
            srcOffset = (long) t.offset() * 4;
        } else {
            // Strided views and device tensors: gather into a contiguous host array first.
            src = isFloat ? MemorySegment.ofArray(t.toFloatArray()) : MemorySegment.ofArray(t.toIntArray());
            srcOffset = 0;
        }
        MemorySegment dst = MemorySegment.ofBuffer(buf);
        int perChunk = buf.capacity() / 4;
        for (int done = 0; done < n; ) {
            int count = Math.min(perChunk, n - done);
            if (isFloat) MemorySegment.copy(src, ValueLayout.JAVA_FLOAT, srcOffset + 4L * done, dst, F32_LE, 0, count);
            else MemorySegment.copy(src, ValueLayout.JAVA_INT, srcOffset + 4L * done, dst, I32_LE, 0, count);
            buf.clear().limit(4 * count);
            AtomicFile.writeFully(ch, buf);
            done += count;
        }
        buf.clear();
    }

    // ---- reading ------------------------------------------------------------------------------------------------

    /** Reads every tensor of {@code file} into CPU tensors, in file order. */
    public static File read(Path file) {
        try (FileChannel ch = open(file); Arena arena = Arena.ofConfined()) {
            long size = ch.size();
            Header h = header(file, ch, size);
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            if (size > h.dataStart()) {
                MemorySegment data = ch.map(FileChannel.MapMode.READ_ONLY, h.dataStart(), size - h.dataStart(), arena);
                for (Entry e : h.entries()) tensors.put(e.name(), toTensor(file, e, data));
            } else {
                for (Entry e : h.entries()) tensors.put(e.name(), toTensor(file, e, MemorySegment.NULL));
            }
            return new File(file, Collections.unmodifiableMap(tensors), h.metadata());
        } catch (IOException e) {
            throw TessellaIOException.io(file, "read", e);
        }
    }

    /** Reads only the header of {@code file}: names, dtypes, shapes, offsets and metadata, all validated. */
    public static Header readHeader(Path file) {
        try (FileChannel ch = open(file)) {
            return header(file, ch, ch.size());
        } catch (IOException e) {
            throw TessellaIOException.io(file, "read", e);
        }
    }

    private static FileChannel open(Path file) {
        try {
            return FileChannel.open(file, StandardOpenOption.READ);
        } catch (IOException e) {
            throw TessellaIOException.io(file, "open", e);
        }
    }

    private static int elementSize(String dtype) {
        return switch (dtype) {
            case "F32", "I32" -> 4;
            case "BF16", "F16" -> 2;
            case "F64", "I64" -> 8;
            default -> -1;
        };
    }

    private static Header header(Path file, FileChannel ch, long size) throws IOException {
        if (size < 8) throw new TessellaIOException(file, "not a safetensors file: " + size + " bytes, shorter than the 8-byte header length");
        ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        readFully(ch, lenBuf, 0);
        long n = lenBuf.getLong(0);
        if (n < 0 || n > size - 8)
            throw new TessellaIOException(file, "header length " + Long.toUnsignedString(n) + " runs beyond the file size " + size
                    + " (truncated or not a safetensors file)");
        if (n > MAX_HEADER) throw new TessellaIOException(file, "header length " + n + " exceeds the limit of " + MAX_HEADER + " bytes");
        if (n < 2) throw new TessellaIOException(file, "header of " + n + " bytes cannot hold a JSON object");
        ByteBuffer hb = ByteBuffer.allocate((int) n);
        readFully(ch, hb, 8);
        hb.flip();
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(hb).toString();
        } catch (CharacterCodingException e) {
            throw new TessellaIOException(file, "header is not valid UTF-8", e);
        }
        Object parsed;
        try {
            parsed = Json.parse(text.stripTrailing());
        } catch (Json.JsonException e) {
            throw new TessellaIOException(file, "header: " + e.getMessage(), e);
        }
        if (!(parsed instanceof Map<?, ?> root)) throw new TessellaIOException(file, "header is " + Json.typeName(parsed) + ", not a JSON object");
        long dataStart = 8 + n, dataLen = size - dataStart;
        Map<String, String> metadata = new LinkedHashMap<>();
        List<Entry> entries = new ArrayList<>();
        for (Map.Entry<?, ?> kv : root.entrySet()) {
            String name = (String) kv.getKey();
            Object v = kv.getValue();
            if (name.equals("__metadata__")) {
                if (!(v instanceof Map<?, ?> m)) throw new TessellaIOException(file, "__metadata__ is " + Json.typeName(v) + ", not an object of strings");
                for (Map.Entry<?, ?> me : m.entrySet()) {
                    if (!(me.getValue() instanceof String s))
                        throw new TessellaIOException(file, "__metadata__ entry '" + me.getKey() + "' is " + Json.typeName(me.getValue()) + ", not a string");
                    metadata.put((String) me.getKey(), s);
                }
                continue;
            }
            entries.add(entry(file, name, v, dataLen));
        }
        // File order is data order; check that no two tensors share bytes.
        entries.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
        long prevEnd = 0;
        String prev = null;
        for (Entry e : entries) {
            if (e.begin() < prevEnd)
                throw new TessellaIOException(file, "tensor '" + e.name() + "' data [" + e.begin() + ", " + e.end() + ") overlaps tensor '" + prev + "'");
            if (e.end() > e.begin()) {
                prevEnd = e.end();
                prev = e.name();
            }
        }
        return new Header(List.copyOf(entries), Collections.unmodifiableMap(metadata), dataStart);
    }

    private static Entry entry(Path file, String name, Object v, long dataLen) {
        String where = "tensor '" + name + "'";
        if (!(v instanceof Map<?, ?> m)) throw new TessellaIOException(file, where + " is " + Json.typeName(v) + ", not an object");
        Object dtype = m.get("dtype");
        if (!(dtype instanceof String dt)) throw new TessellaIOException(file, where + " has no string 'dtype'");
        int es = elementSize(dt);
        if (es < 0) throw new TessellaIOException(file, where + " has dtype " + dt + ", which Tessella does not read (F32, I32, BF16, F16, F64, I64)");
        if (!(m.get("shape") instanceof List<?> shapeList)) throw new TessellaIOException(file, where + " has no 'shape' array");
        int[] shape = new int[shapeList.size()];
        long numel = 1;
        for (int i = 0; i < shape.length; i++) {
            if (!(shapeList.get(i) instanceof Long d) || d < 0 || d > Integer.MAX_VALUE)
                throw new TessellaIOException(file, where + " has a bad shape " + Json.writeCompact(shapeList));
            shape[i] = (int) (long) d;
            numel = Math.multiplyHigh(numel, d) != 0 ? Long.MAX_VALUE : numel * d;
            if (numel < 0) numel = Long.MAX_VALUE;
        }
        if (numel > Integer.MAX_VALUE - 64)
            throw new TessellaIOException(file, where + " of shape " + Shape.str(shape) + " is too large for one CPU tensor");
        if (!(m.get("data_offsets") instanceof List<?> off) || off.size() != 2
                || !(off.get(0) instanceof Long begin) || !(off.get(1) instanceof Long end))
            throw new TessellaIOException(file, where + " has no 'data_offsets' pair of integers");
        if (begin < 0 || end < begin || end > dataLen)
            throw new TessellaIOException(file, where + " data_offsets [" + begin + ", " + end + "] are out of range for "
                    + dataLen + " bytes of data (truncated file?)");
        if (end - begin != numel * es)
            throw new TessellaIOException(file, where + " of dtype " + dt + " and shape " + Shape.str(shape) + " needs "
                    + numel * es + " bytes, but data_offsets span " + (end - begin));
        return new Entry(name, dt, shape, begin, end);
    }

    private static Tensor toTensor(Path file, Entry e, MemorySegment data) {
        int n = (int) ((e.end() - e.begin()) / elementSize(e.dtype()));
        long at = e.begin();
        switch (e.dtype()) {
            case "F32" -> {
                float[] out = new float[n];
                if (n > 0) MemorySegment.copy(data, F32_LE, at, MemorySegment.ofArray(out), ValueLayout.JAVA_FLOAT, 0, n);
                return Tensor.of(out, e.shape());
            }
            case "I32" -> {
                int[] out = new int[n];
                if (n > 0) MemorySegment.copy(data, I32_LE, at, MemorySegment.ofArray(out), ValueLayout.JAVA_INT, 0, n);
                return Tensor.ofInts(out, e.shape());
            }
            case "BF16" -> {
                float[] out = new float[n];
                for (int i = 0; i < n; i++) out[i] = Float.intBitsToFloat((data.get(I16_LE, at + 2L * i) & 0xffff) << 16);
                return Tensor.of(out, e.shape());
            }
            case "F16" -> {
                float[] out = new float[n];
                for (int i = 0; i < n; i++) out[i] = Float.float16ToFloat(data.get(I16_LE, at + 2L * i));
                return Tensor.of(out, e.shape());
            }
            case "F64" -> {
                float[] out = new float[n];
                for (int i = 0; i < n; i++) out[i] = (float) data.get(F64_LE, at + 8L * i);
                return Tensor.of(out, e.shape());
            }
            case "I64" -> {
                int[] out = new int[n];
                for (int i = 0; i < n; i++) {
                    long v = data.get(I64_LE, at + 8L * i);
                    if (v != (int) v)
                        throw new TessellaIOException(file, "tensor '" + e.name() + "' (I64) holds " + v + ", which does not fit the I32 it is read as");
                    out[i] = (int) v;
                }
                return Tensor.ofInts(out, e.shape());
            }
            default -> throw new TessellaIOException(file, "tensor '" + e.name() + "' has unknown dtype " + e.dtype());
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long position) throws IOException {
        long p = position;
        while (buf.hasRemaining()) {
            int r = ch.read(buf, p);
            if (r < 0) throw new IOException("unexpected end of file at byte " + p);
            p += r;
        }
    }
}
