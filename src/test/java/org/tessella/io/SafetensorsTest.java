package org.tessella.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tessella.tensor.DType;
import org.tessella.tensor.Device;
import org.tessella.tensor.Storage;
import org.tessella.tensor.Tensor;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

class SafetensorsTest {
    @TempDir Path dir;

    @Test
    void roundTripF32I32MetadataAndEmpty() {
        Map<String, Tensor> in = new LinkedHashMap<>();
        in.put("z.weight", Tensor.of(new float[]{1f, -2.5f, 3e-7f, Float.MAX_VALUE, -0f, 7f}, 2, 3));
        in.put("a.bias", Tensor.of(new float[]{0.25f}, 1));
        in.put("labels", Tensor.ofInts(new int[]{0, -1, Integer.MAX_VALUE, Integer.MIN_VALUE}, 4));
        in.put("empty", Tensor.of(new float[0], 0, 5));
        in.put("scalar", Tensor.scalar(42f));
        Path f = dir.resolve("m.safetensors");
        Safetensors.write(f, in, Map.of("config", "{\"dim\": 64}", "step", "12"));

        Safetensors.File out = Safetensors.read(f);
        assertEquals(List.of("a.bias", "empty", "labels", "scalar", "z.weight"), List.copyOf(out.tensors().keySet()), "sorted by name");
        for (var e : in.entrySet()) {
            Tensor t = out.tensor(e.getKey());
            assertArrayEquals(e.getValue().shape(), t.shape(), e.getKey());
            assertEquals(e.getValue().dtype(), t.dtype(), e.getKey());
            if (t.dtype() == DType.F32) assertArrayEquals(e.getValue().toFloatArray(), t.toFloatArray(), e.getKey());
            else assertArrayEquals(e.getValue().toIntArray(), t.toIntArray(), e.getKey());
        }
        assertEquals(Map.of("config", "{\"dim\": 64}", "step", "12"), out.metadata());
        TessellaIOException e = assertThrows(TessellaIOException.class, () -> out.tensor("nope"));
        assertTrue(e.getMessage().startsWith(f + ": no tensor named 'nope'"), e.getMessage());
    }

    @Test
    void fileLayoutFollowsTheFormat() throws IOException {
        Path f = dir.resolve("x.safetensors");
        Safetensors.write(f, Map.of("b", Tensor.of(new float[]{1f, 2f}, 2), "a", Tensor.ofInts(new int[]{3}, 1)), Map.of("k", "v"));
        byte[] b = Files.readAllBytes(f);
        long n = ByteBuffer.wrap(b, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, n % 8, "header padded to a multiple of 8");
        assertEquals(8 + n + 12, b.length);
        String header = new String(b, 8, (int) n, StandardCharsets.UTF_8);
        assertTrue(header.startsWith("{") && header.stripTrailing().endsWith("}"), header);
        var h = Json.parseObject(header.strip(), "header");
        assertEquals("I32", h.object("a").string("dtype"));
        assertArrayEquals(new long[]{0, 4}, h.object("a").longArray("data_offsets"));
        assertArrayEquals(new long[]{4, 12}, h.object("b").longArray("data_offsets"));
        assertEquals("v", h.object("__metadata__").string("k"));
        ByteBuffer data = ByteBuffer.wrap(b, (int) (8 + n), 12).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(3, data.getInt());
        assertEquals(1f, data.getFloat());
        assertEquals(2f, data.getFloat());
    }

    @Test
    void nonContiguousInputIsWrittenContiguous() {
        Tensor base = Tensor.of(new float[]{1, 2, 3, 4, 5, 6}, 2, 3);
        Tensor t = base.transpose(0, 1);                 // [3, 2]: 1 4 / 2 5 / 3 6
        Tensor s = base.slice(1, 1, 3);                  // [2, 2]: 2 3 / 5 6
        Tensor offset = Tensor.of(new float[]{9, 9, 7, 8}, 4).slice(0, 2, 4);
        Path f = dir.resolve("v.safetensors");
        Safetensors.write(f, Map.of("t", t, "s", s, "o", offset));
        var out = Safetensors.read(f);
        assertArrayEquals(new int[]{3, 2}, out.tensor("t").shape());
        assertArrayEquals(new float[]{1, 4, 2, 5, 3, 6}, out.tensor("t").toFloatArray());
        assertArrayEquals(new float[]{2, 3, 5, 6}, out.tensor("s").toFloatArray());
        assertArrayEquals(new float[]{7, 8}, out.tensor("o").toFloatArray());
        assertTrue(out.tensor("t").isContiguous());
    }

    @Test
    void largeTensorCrossesBufferChunks() {
        float[] v = new float[700_000];
        for (int i = 0; i < v.length; i++) v[i] = i * 0.5f - 3f;
        Path f = dir.resolve("big.safetensors");
        Safetensors.write(f, Map.of("w", Tensor.of(v, 700, 1000)));
        assertArrayEquals(v, Safetensors.read(f).tensor("w").toFloatArray());
    }

    /** Writes a safetensors file by hand: header JSON, then the data bytes. */
    static void handMade(Path f, String header, byte[] data) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h).put(data);
        Files.write(f, b.array());
    }

    static byte[] shortsLE(int... v) {
        ByteBuffer b = ByteBuffer.allocate(2 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (int x : v) b.putShort((short) x);
        return b.array();
    }

    @Test
    void readsHandMadeBf16AndF16AsF32() throws IOException {
        Path f = dir.resolve("half.safetensors");
        byte[] bf16 = shortsLE(0x3F80, 0xC000, 0x4049, 0x0000);     // 1, -2, 3.140625, 0
        byte[] f16 = shortsLE(0x3C00, 0xC000, 0x3800, 0x7BFF, 0x0001, 0xFC00); // 1, -2, 0.5, 65504, 2^-24, -inf
        byte[] data = new byte[bf16.length + f16.length];
        System.arraycopy(bf16, 0, data, 0, bf16.length);
        System.arraycopy(f16, 0, data, bf16.length, f16.length);
        handMade(f, "{\"__metadata__\":{\"format\":\"pt\"},\"h\":{\"dtype\":\"F16\",\"shape\":[2,3],\"data_offsets\":[8,20]},"
                + "\"b\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[0,8]}}", data);
        var out = Safetensors.read(f);
        assertEquals(List.of("b", "h"), List.copyOf(out.tensors().keySet()), "file (data) order");
        assertEquals(DType.F32, out.tensor("b").dtype());
        assertArrayEquals(new float[]{1f, -2f, 3.140625f, 0f}, out.tensor("b").toFloatArray());
        assertArrayEquals(new int[]{2, 3}, out.tensor("h").shape());
        assertArrayEquals(new float[]{1f, -2f, 0.5f, 65504f, 0x1p-24f, Float.NEGATIVE_INFINITY}, out.tensor("h").toFloatArray());
        assertEquals("pt", out.metadata().get("format"));
    }

    private void assertCorrupt(Path f, String expectedFragment) {
        TessellaIOException e = assertThrows(TessellaIOException.class, () -> Safetensors.read(f));
        assertTrue(e.getMessage().contains(f.toString()), "names the file: " + e.getMessage());
        assertTrue(e.getMessage().contains(expectedFragment), "says '" + expectedFragment + "': " + e.getMessage());
        assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
    }

    @Test
    void corruptAndTruncatedFilesNameTheFile() throws IOException {
        Path good = dir.resolve("good.safetensors");
        Safetensors.write(good, Map.of("w", Tensor.of(new float[]{1, 2, 3, 4}, 4)));
        byte[] bytes = Files.readAllBytes(good);

        Path truncated = dir.resolve("truncated.safetensors");
        Files.write(truncated, java.util.Arrays.copyOf(bytes, bytes.length - 3));
        assertCorrupt(truncated, "out of range");

        Path cutHeader = dir.resolve("cut-header.safetensors");
        Files.write(cutHeader, java.util.Arrays.copyOf(bytes, 20));
        assertCorrupt(cutHeader, "runs beyond the file size");

        Path tiny = dir.resolve("tiny.safetensors");
        Files.write(tiny, new byte[]{1, 2, 3});
        assertCorrupt(tiny, "shorter than the 8-byte header length");

        Path huge = dir.resolve("huge-len.safetensors");
        byte[] h = bytes.clone();
        h[7] = (byte) 0x7f;
        Files.write(huge, h);
        assertCorrupt(huge, "runs beyond the file size");

        Path badJson = dir.resolve("bad-json.safetensors");
        handMade(badJson, "{\"w\":{\"dtype\":\"F32\",", new byte[0]);
        assertCorrupt(badJson, "bad JSON");

        Path badDtype = dir.resolve("dtype.safetensors");
        handMade(badDtype, "{\"w\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[0,2]}}", new byte[2]);
        assertCorrupt(badDtype, "F8_E4M3");

        Path mismatch = dir.resolve("mismatch.safetensors");
        handMade(mismatch, "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", new byte[8]);
        assertCorrupt(mismatch, "needs 12 bytes");

        Path overlap = dir.resolve("overlap.safetensors");
        handMade(overlap, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", new byte[12]);
        assertCorrupt(overlap, "overlaps");

        Path notObject = dir.resolve("array.safetensors");
        handMade(notObject, "[1,2]", new byte[0]);
        assertCorrupt(notObject, "not a JSON object");

        Path badShape = dir.resolve("shape.safetensors");
        handMade(badShape, "{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,0]}}", new byte[0]);
        assertCorrupt(badShape, "bad shape");

        Path badMeta = dir.resolve("meta.safetensors");
        handMade(badMeta, "{\"__metadata__\":{\"step\":3}}", new byte[0]);
        assertCorrupt(badMeta, "not a string");

        Path missing = dir.resolve("missing.safetensors");
        assertCorrupt(missing, "no such file");
    }

    /** A storage whose reads fail: writing a tensor over it fails in the middle of the file. */
    static final class FailingStorage extends Storage {
        FailingStorage() { super(DType.F32); }
        @Override public Device device() { return Device.cuda(7); }
        @Override public long length() { return 1000; }
        @Override public void readFloats(long offset, float[] dst, int dstPos, int count) { throw new IllegalStateException("device lost"); }
        @Override public void readInts(long offset, int[] dst, int dstPos, int count) { throw new IllegalStateException("device lost"); }
        @Override public void writeFloats(long offset, float[] src, int srcPos, int count) {}
        @Override public void writeInts(long offset, int[] src, int srcPos, int count) {}
    }

    @Test
    void failedWriteLeavesTheOldFileIntactAndNoTemporaries() throws IOException {
        Path f = dir.resolve("ckpt.safetensors");
        Safetensors.write(f, Map.of("w", Tensor.of(new float[]{1, 2}, 2)));
        byte[] before = Files.readAllBytes(f);
        Map<String, Tensor> bad = new LinkedHashMap<>();
        bad.put("a", Tensor.of(new float[100_000], 100_000)); // written first: the temporary file is half full when...
        bad.put("z", new Tensor(new FailingStorage(), 0, new int[]{1000}, new int[]{1})); // ...this one fails
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Safetensors.write(f, bad));
        assertEquals("device lost", e.getMessage());
        assertArrayEquals(before, Files.readAllBytes(f), "old file untouched");
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(List.of(f), s.toList(), "temporary file removed");
        }
        assertArrayEquals(new float[]{1, 2}, Safetensors.read(f).tensor("w").toFloatArray());
    }

    @Test
    void reservedAndInvalidNamesAreRefused() {
        Path f = dir.resolve("r.safetensors");
        assertThrows(IllegalArgumentException.class, () -> Safetensors.write(f, Map.of("__metadata__", Tensor.scalar(1))));
        assertThrows(IllegalArgumentException.class, () -> Safetensors.write(f, Map.of("", Tensor.scalar(1))));
        assertFalse(Files.exists(f));
    }

    @Test
    void readHeaderGivesEntriesWithoutData() {
        Path f = dir.resolve("h.safetensors");
        Safetensors.write(f, Map.of("w", Tensor.of(new float[6], 2, 3), "i", Tensor.ofInts(new int[2], 2)), Map.of("a", "b"));
        var h = Safetensors.readHeader(f);
        assertEquals(2, h.entries().size());
        assertEquals("i", h.entries().get(0).name());
        assertEquals("F32", h.entries().get(1).dtype());
        assertArrayEquals(new int[]{2, 3}, h.entries().get(1).shape());
        assertEquals(Map.of("a", "b"), h.metadata());
        assertEquals(0, h.dataStart() % 8);
    }
}
