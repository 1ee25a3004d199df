package org.tessella.tensor;

/** Element types. Float32 is the default for values; int32 holds indices, labels and tokens. */
public enum DType {
    F32(4, "F32"),
    I32(4, "I32");

    private final int byteSize;
    private final String safetensorsName;

    DType(int byteSize, String safetensorsName) {
        this.byteSize = byteSize;
        this.safetensorsName = safetensorsName;
    }

    public int byteSize() { return byteSize; }

    /** The dtype's name in a safetensors header ("F32", "I32"). */
    public String safetensorsName() { return safetensorsName; }
}
