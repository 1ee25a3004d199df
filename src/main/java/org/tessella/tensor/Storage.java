package org.tessella.tensor;

/**
 * The memory behind one or more tensors. CPU storage is {@link HeapStorage}; a GPU backend adds its own subclass.
 * A storage may be a slab shared by many tensors (the step workspace); {@link #generation()} changes each time the
 * slab is recycled, so a tensor that outlived its step can be detected.
 */
public abstract class Storage {
    private final DType dtype;

    protected Storage(DType dtype) { this.dtype = dtype; }

    public final DType dtype() { return dtype; }

    public abstract Device device();

    /** Capacity in elements. */
    public abstract long length();

    /** Bumped when a workspace recycles this storage; tensors created earlier are then invalid. */
    public int generation() { return 0; }

    /** Copies {@code count} elements starting at {@code offset} into a float array (int32 values are converted). */
    public abstract void readFloats(long offset, float[] dst, int dstPos, int count);

    /** Copies {@code count} int32 elements (float values are truncated toward zero). */
    public abstract void readInts(long offset, int[] dst, int dstPos, int count);

    public abstract void writeFloats(long offset, float[] src, int srcPos, int count);

    public abstract void writeInts(long offset, int[] src, int srcPos, int count);
}
