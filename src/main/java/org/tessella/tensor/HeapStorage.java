package org.tessella.tensor;

import java.lang.foreign.MemorySegment;

/**
 * CPU storage: a Java array, seen also as a heap {@link MemorySegment} for bulk copies and file I/O.
 *
 * <p>Kernels read the array directly ({@code FloatVector.fromArray}); see the package docs for why CPU tensors are
 * heap-backed rather than native.
 */
public final class HeapStorage extends Storage {
    private final float[] floats;
    private final int[] ints;
    private int generation;

    private HeapStorage(DType dtype, float[] floats, int[] ints) {
        super(dtype);
        this.floats = floats;
        this.ints = ints;
    }

    public static HeapStorage ofFloats(float[] data) { return new HeapStorage(DType.F32, data, null); }

    public static HeapStorage ofInts(int[] data) { return new HeapStorage(DType.I32, null, data); }

    public static HeapStorage allocate(DType dtype, int length) {
        return dtype == DType.F32 ? ofFloats(new float[length]) : ofInts(new int[length]);
    }

    /** The backing float array (F32 storage only). */
    public float[] floats() {
        if (floats == null) throw new IllegalStateException("storage holds " + dtype() + ", not F32");
        return floats;
    }

    /** The backing int array (I32 storage only). */
    public int[] ints() {
        if (ints == null) throw new IllegalStateException("storage holds " + dtype() + ", not I32");
        return ints;
    }

    /** A heap segment over the whole array, for bulk copies to and from files and native memory. */
    public MemorySegment segment() {
        return floats != null ? MemorySegment.ofArray(floats) : MemorySegment.ofArray(ints);
    }

    @Override public Device device() { return Device.CPU; }

    @Override public long length() { return floats != null ? floats.length : ints.length; }

    @Override public int generation() { return generation; }

    void recycle() { generation++; }

    @Override public void readFloats(long offset, float[] dst, int dstPos, int count) {
        int o = Math.toIntExact(offset);
        if (floats != null) System.arraycopy(floats, o, dst, dstPos, count);
        else for (int i = 0; i < count; i++) dst[dstPos + i] = ints[o + i];
    }

    @Override public void readInts(long offset, int[] dst, int dstPos, int count) {
        int o = Math.toIntExact(offset);
        if (ints != null) System.arraycopy(ints, o, dst, dstPos, count);
        else for (int i = 0; i < count; i++) dst[dstPos + i] = (int) floats[o + i];
    }

    @Override public void writeFloats(long offset, float[] src, int srcPos, int count) {
        int o = Math.toIntExact(offset);
        if (floats != null) System.arraycopy(src, srcPos, floats, o, count);
        else for (int i = 0; i < count; i++) ints[o + i] = (int) src[srcPos + i];
    }

    @Override public void writeInts(long offset, int[] src, int srcPos, int count) {
        int o = Math.toIntExact(offset);
        if (ints != null) System.arraycopy(src, srcPos, ints, o, count);
        else for (int i = 0; i < count; i++) floats[o + i] = src[srcPos + i];
    }
}
